package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCLI runs seipbot in-process with the given stdin and environment.
func runCLI(t *testing.T, stdin io.Reader, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: stdin, stdout: &out, stderr: &errb, env: append([]string{"HOME=" + t.TempDir()}, env...)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = c.main(ctx, args)
	return code, out.String(), errb.String()
}

// volatile matches what changes from run to run in a transcript: ids and
// clock times.
var volatile = regexp.MustCompile(`error id [a-z0-9]+|\b[0-9a-hjkmnp-tv-z]{6}\b|\d{2}:\d{2}( [A-Z]{3,4}| \(| UTC)?[^\n"]*`)

// TestTranscripts plays each testdata/transcripts/*.txt through the shell.
// A transcript's first line holds the shell's flags after "#"; lines
// starting with "> " are typed, and the lines after them are the answers.
func TestTranscripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/transcripts/*.txt")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
			args := []string{"shell", "--data-dir", t.TempDir(), "--user", "alice"}
			if strings.HasPrefix(lines[0], "#") {
				for _, a := range strings.Fields(strings.TrimPrefix(lines[0], "#")) {
					args = append(args, strings.ReplaceAll(a, "TESTDATA", "testdata"))
				}
				lines = lines[1:]
			}
			// Feed one line at a time and wait for its answers, so the
			// transcript interleaves as a person would see it.
			got := converse(t, args, lines)
			want := strings.Join(lines, "\n") + "\n"
			if *update {
				head := ""
				if strings.HasPrefix(string(raw), "#") {
					head = strings.SplitN(string(raw), "\n", 2)[0] + "\n"
				}
				os.WriteFile(file, []byte(head+got), 0o644)
				return
			}
			if volatile.ReplaceAllString(got, "…") != volatile.ReplaceAllString(want, "…") {
				t.Errorf("transcript differs.\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

// marker is a command no one has, whose answer marks the end of a line's.
const marker = "end-of-line-marker"

// converse runs the shell with the typed lines of a transcript and returns
// the transcript as it happened: each typed line followed by its answers.
func converse(t *testing.T, args, lines []string) string {
	t.Helper()
	var typed []string
	for _, l := range lines {
		if said, ok := strings.CutPrefix(l, "> "); ok {
			typed = append(typed, said)
		}
	}
	// One run per typed line would lose state between lines; instead each
	// line is followed by a marker whose answer ends that line's answers.
	// One user's lines are handled in order, so the marker's answer comes
	// after everything the line before it caused.
	var in strings.Builder
	for _, l := range typed {
		in.WriteString(l + "\n")
		in.WriteString("!" + marker + "\n")
	}
	code, out, errOut := runCLI(t, strings.NewReader(in.String()), []string{"SEIPBOT_RATE_LIMIT_PER_MINUTE=0"}, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	i := 0
	if len(typed) > 0 {
		b.WriteString("> " + typed[0] + "\n")
	}
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) && i < len(typed) {
			// The marker's answer; the next typed line starts here.
			i++
			if i < len(typed) {
				b.WriteString("> " + typed[i] + "\n")
			}
			continue
		}
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}
