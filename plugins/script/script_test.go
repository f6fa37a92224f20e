package script

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
)

// writeFiles writes files into dir; a name ending in .sh is made
// executable.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer is a log sink safe for the goroutines a bot runs handlers on.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a plugins folder with a log that tests read.
type fixture struct {
	dir string
	log *syncBuffer
	f   *Folder
	// plugins are handed out once, as to a bot at start-up; each say
	// registers them in a new bot, which routes as the first one would.
	plugins []bot.Plugin
}

// open writes files into a new folder and opens it with opts.
func open(t *testing.T, opts Options, files map[string]string) *fixture {
	t.Helper()
	fx := &fixture{dir: t.TempDir(), log: &syncBuffer{}}
	writeFiles(t, fx.dir, files)
	opts.Dir = fx.dir
	opts.Logger = slog.New(slog.NewTextHandler(fx.log, nil))
	if opts.LookupEnv == nil {
		opts.LookupEnv = func(string) (string, bool) { return "", false }
	}
	f, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	fx.f = f
	return fx
}

// allowAll lets everyone run everything, for the admin command.
type allowAll struct{}

func (allowAll) Authorize(context.Context, *bot.Message) error { return nil }

// say plays lines, each a direct message from alice, through a bot with
// the folder's plugins and returns the replies.
func (fx *fixture) say(t *testing.T, lines ...string) []string {
	t.Helper()
	var msgs []*bot.Message
	for _, l := range lines {
		msgs = append(msgs, bottest.DM("alice", l))
	}
	if fx.plugins == nil {
		fx.plugins = fx.f.Plugins()
	}
	var out []string
	for _, r := range bottest.Run(t, bot.Options{Authorizer: allowAll{}, Logger: fx.f.log}, fx.plugins, msgs...) {
		out = append(out, r.Text)
	}
	return out
}

// recorder is a program that writes its argv (NUL-separated), standard
// input and environment into dir, and prints "ok".
func recorder(dir string) string {
	return `#!/bin/sh
for a in "$@"; do printf '%s\0' "$a"; done > ` + dir + `/argv
cat > ` + dir + `/stdin
env > ` + dir + `/env
echo ok
`
}

const recorderManifest = `
program: rec.sh
env: [ALLOWED, UNSET]
commands:
  - words: echo
    help: echo text
    args: [{name: text, kind: text}]
  - words: word
    help: one word
    args:
      - {name: w, kind: word}
      - {name: n, kind: int, flag: true, min: 1, max: 5}
  - words: slug
    help: a checked word
    args: [{name: s, kind: word, pattern: "[a-z0-9-]+"}]
  - words: host
    help: look at a host
    args: [{name: target, kind: target}]
`

// inScope allows 10.0.0.0/8 and names under example.com.
func inScope(_ context.Context, _, target string) error {
	if strings.HasSuffix(target, ".example.com") {
		return nil
	}
	if p, err := netip.ParsePrefix(target); err == nil && netip.MustParsePrefix("10.0.0.0/8").Contains(p.Addr()) && p.Bits() >= 8 {
		return nil
	}
	if a, err := netip.ParseAddr(target); err == nil && netip.MustParsePrefix("10.0.0.0/8").Contains(a) {
		return nil
	}
	return errors.New("not in scope")
}

// TestInjection sends what an attacker would type and checks that it is
// refused, or reaches the program as one inert argv element after "--".
func TestInjection(t *testing.T) {
	rec := t.TempDir()
	fx := open(t, Options{ScopeCheck: inScope}, map[string]string{
		"rec.yaml": recorderManifest,
		"rec.sh":   recorder(rec),
	})
	tests := []struct {
		name     string
		line     string
		wantArgv []string // nil: the program must not run
		reply    string   // the reply must contain it
	}{
		{"shell separator", "echo ; rm -rf /", []string{"--", "; rm -rf /"}, "ok"},
		{"command substitution", "echo $(id)", []string{"--", "$(id)"}, "ok"},
		{"backticks", "echo `id` && id", []string{"--", "`id` && id"}, "ok"},
		{"newline", "echo a\nrm -rf /", []string{"--", "a\nrm -rf /"}, "ok"},
		{"quoted word", `word '$(id); rm -rf /'`, []string{"--", "$(id); rm -rf /", ""}, "ok"},
		{"dash word is after --", "word -rf", []string{"--", "-rf", ""}, "ok"},
		{"leading --flag", "word --flag", nil, "--flag is not an option"},
		{"--flag as text", "echo --exec=/bin/sh", nil, "--exec is not an option"},
		{"int out of range", "word x --n 9", nil, "between 1 and 5"},
		{"int flag", "word x --n 3", []string{"--", "x", "3"}, "ok"},
		{"pattern", "slug a;b", nil, "is not in the form"},
		{"pattern ok", "slug web-1", []string{"--", "web-1"}, "ok"},
		{"host with a command", "host evil.com;id", nil, "must be an IP address, a CIDR or a host name"},
		{"out-of-scope address", "host 8.8.8.8", nil, "outside the scope"},
		{"out-of-scope host", "host www.evil.com", nil, "outside the scope"},
		{"out-of-scope CIDR", "host 10.0.0.0/7", nil, "outside the scope"},
		{"in-scope address", "host 10.1.2.3", []string{"--", "10.1.2.3"}, "ok"},
		{"in-scope host", "host WWW.Example.COM.", []string{"--", "www.example.com"}, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(rec, "argv"))
			got := fx.say(t, tt.line)
			if len(got) != 1 || !strings.Contains(got[0], tt.reply) {
				t.Errorf("%q: replies %q, want one containing %q", tt.line, got, tt.reply)
			}
			raw, err := os.ReadFile(filepath.Join(rec, "argv"))
			if tt.wantArgv == nil {
				if err == nil {
					t.Fatalf("%q: the program ran with %q", tt.line, raw)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: the program did not run: %v", tt.line, err)
			}
			argv := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
			if !slices.Equal(argv, tt.wantArgv) {
				t.Errorf("%q: argv %q, want %q", tt.line, argv, tt.wantArgv)
			}
		})
	}
}

func TestRequestOnStdin(t *testing.T) {
	rec := t.TempDir()
	fx := open(t, Options{}, map[string]string{"rec.yaml": recorderManifest, "rec.sh": recorder(rec)})
	fx.say(t, "echo $(id) `id`")
	raw, err := os.ReadFile(filepath.Join(rec, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatalf("stdin %q: %v", raw, err)
	}
	want := request{
		Command: "echo", Message: "echo $(id) `id`",
		User: requestUser{ID: "test:alice", Name: "alice"}, Room: "dm:alice", Direct: true,
		Args: map[string]string{"text": "$(id) `id`"},
	}
	if req.Command != want.Command || req.Message != want.Message || req.User != want.User ||
		req.Room != want.Room || req.Direct != want.Direct || !maps.Equal(req.Args, want.Args) {
		t.Errorf("request %+v, want %+v", req, want)
	}
}

func TestCleanEnvironment(t *testing.T) {
	rec := t.TempDir()
	env := map[string]string{"ALLOWED": "yes", "SECRET_TOKEN": "hunter2", "PATH": "/tmp/evil:/usr/bin", "HOME": "/root"}
	fx := open(t, Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		map[string]string{"rec.yaml": recorderManifest, "rec.sh": recorder(rec)})
	t.Setenv("SEIPBOT_LEAK", "from-the-process")
	fx.say(t, "echo hi")
	raw, err := os.ReadFile(filepath.Join(rec, "env"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		vars[k] = v
	}
	if vars["PATH"] != "/usr/bin:/bin" || vars["ALLOWED"] != "yes" {
		t.Errorf("PATH=%q ALLOWED=%q, want /usr/bin:/bin and yes", vars["PATH"], vars["ALLOWED"])
	}
	for _, k := range []string{"SECRET_TOKEN", "HOME", "SEIPBOT_LEAK", "UNSET"} {
		if _, ok := vars[k]; ok {
			t.Errorf("the program sees %s", k)
		}
	}
	if strings.Contains(string(raw), "hunter2") || strings.Contains(string(raw), "from-the-process") {
		t.Errorf("the environment leaks:\n%s", raw)
	}
}

// TestTimeoutKillsChildren runs a program that starts a sleep and waits;
// on timeout the whole process group must die.
func TestTimeoutKillsChildren(t *testing.T) {
	rec := t.TempDir()
	fx := open(t, Options{}, map[string]string{
		"slow.yaml": "program: slow.sh\ntimeout: 300ms\ncommands: [{words: slow, help: take long}]\n",
		"slow.sh":   "#!/bin/sh\nsleep 30 &\necho $! > " + rec + "/child\nwait\n",
	})
	start := time.Now()
	got := fx.say(t, "slow")
	if len(got) != 1 || !strings.Contains(got[0], `"slow" took longer than 300ms and was stopped`) {
		t.Errorf("replies %q, want a timeout", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the command took %s", d)
	}
	raw, err := os.ReadFile(filepath.Join(rec, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// Killed, the child may linger as a zombie until init reaps it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || zombie(stat) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child sleep (pid %d) still runs: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombie reads the state field of /proc/PID/stat, which follows the
// parenthesised command name.
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func TestOutputModes(t *testing.T) {
	manifest := func(output string) string {
		return "program: out.sh\noutput: " + output + "\ncommands: [{words: out, help: print}]\n"
	}
	tests := []struct {
		name    string
		output  string
		program string
		max     int
		want    []string
	}{
		{"text", "text", "printf 'line one\\nline two\\n'", 0, []string{"line one\nline two"}},
		{"code", "code", "printf 'a ``` b\\n'", 0, []string{"```\na `\u200b`` b\n```"}},
		{"json pretty", "json", `printf '{"a":1,"b":[2]}'`, 0, []string{"```\n{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}\n```"}},
		{"no output", "text", "true", 0, []string{`"out" finished with no output.`}},
		{"cut", "text", "i=0; while [ $i -lt 110 ]; do printf '0123456789'; i=$((i+1)); done", 1024, []string{strings.Repeat("0123456789", 110)[:1024] + "\n(output cut at 1 KiB)"}},
		{"cut beyond", "text", "head -c 5000 /dev/zero | tr '\\0' x", 1024, []string{strings.Repeat("x", 1024) + "\n(output cut at 1 KiB)"}},
		{"jsonl", "jsonl", `
echo '{"say": "scanning"}'
echo '{"progress": 40, "note": "half way"}'
echo '{"say": "found 2"}'
echo '{"code": "22/tcp open"}'
echo '{"file": {"name": "report.txt", "content": "all good"}}'
echo 'plain line'
printf '{"say": "no newline"}'`, 0, []string{
			"scanning",
			"40% — half way",
			"found 2\n```\n22/tcp open\n```\n**report.txt**\n```\nall good\n```\nplain line\nno newline",
		}},
		{"jsonl cut", "jsonl", `
echo '{"say": "first"}'
head -c 3000 /dev/zero | tr '\0' x
echo
echo '{"say": "never"}'`, 1024, []string{"first\n(output cut at 1 KiB)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := open(t, Options{MaxOutput: tt.max}, map[string]string{
				"out.yaml": manifest(tt.output),
				"out.sh":   "#!/bin/sh\n" + tt.program + "\n",
			})
			got := fx.say(t, "out")
			if !slices.Equal(got, tt.want) {
				t.Errorf("replies\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestFailure(t *testing.T) {
	fx := open(t, Options{}, map[string]string{
		"fail.yaml": "program: fail.sh\ncommands: [{words: fail, help: fail}]\n",
		"fail.sh":   "#!/bin/sh\necho partial\necho 'disk on fire' >&2\nexit 3\n",
	})
	got := fx.say(t, "fail")
	want := `"fail" failed (exit status 3); the bot's log has its error output.`
	if !slices.Equal(got, []string{want}) {
		t.Errorf("replies %q, want %q", got, want)
	}
	if !strings.Contains(fx.log.String(), "disk on fire") {
		t.Errorf("stderr is not in the log:\n%s", fx.log)
	}
}

// fakeJobs records the jobs it is handed and runs them at once.
type fakeJobs struct{ titles []string }

func (j *fakeJobs) Start(ctx context.Context, m *bot.Message, title string, work func(context.Context, bot.Responder) error) error {
	j.titles = append(j.titles, title)
	return work(ctx, jobResponder{})
}

type jobResponder struct{ bot.Responder }

func (jobResponder) Reply(context.Context, string) error { return nil }

func TestJobsSeam(t *testing.T) {
	jobs := &fakeJobs{}
	fx := open(t, Options{Jobs: jobs}, map[string]string{
		"long.yaml": "program: long.sh\ncommands: [{words: long, help: long, job: true}, {words: short, help: short}]\n",
		"long.sh":   "#!/bin/sh\necho done\n",
	})
	got := fx.say(t, "long", "short")
	if !slices.Equal(jobs.titles, []string{"long"}) {
		t.Errorf("jobs %q, want only long", jobs.titles)
	}
	// The job answered through its own Responder; short in the room.
	if !slices.Equal(got, []string{"done"}) {
		t.Errorf("replies %q, want the short command's", got)
	}
}

func TestDeclarations(t *testing.T) {
	fx := open(t, Options{}, map[string]string{
		"scan.yaml": `
program: scan.sh
commands:
  - words: Scan  Ports
    help: scan ports
    examples: ["scan ports 10.0.0.1"]
    permission: scan.ports
    sensitive: true
    approvals: 2
    args:
      - {name: target, kind: target, help: what to scan}
      - {name: speed, kind: enum, values: [slow, fast], flag: true, default: slow}
      - {name: wait, kind: duration, optional: true}
  - words: scan status
    help: show scans
`,
		"scan.sh": "#!/bin/sh\n",
	})
	b, err := bot.New(bot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(fx.f.Plugins()...); err != nil {
		t.Fatal(err)
	}
	c := b.Router().Lookup("scan ports")
	if c == nil {
		t.Fatal("scan ports is not registered")
	}
	if c.Plugin != "scan" || c.Permission != "scan.ports" || !c.Sensitive || c.Usage() != "scan ports <target> [--speed S] [<wait>]" {
		t.Errorf("scan ports registered as %+v (usage %q)", c, c.Usage())
	}
	if s := b.Router().Lookup("scan status"); s == nil || s.Permission != "plugins.scan" || s.Sensitive {
		t.Errorf("scan status registered as %+v, want the default permission", s)
	}
	if r := b.Router().Lookup("plugins reload"); r == nil || !r.Sensitive || r.Permission != "plugins.admin" {
		t.Errorf("plugins reload registered as %+v", r)
	}
	if got := fx.f.Approvals(); len(got) != 1 || got["scan.ports"] != 2 {
		t.Errorf("Approvals() = %v", got)
	}
}

func TestManifestErrors(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []string
	}{
		{"empty", "", []string{"is empty"}},
		{"unknown key", "program: x.sh\nshell: true\ncommands: [{words: x, help: x}]", []string{"field shell not found"}},
		{"every problem at once", `
type: script
program: missing.sh
env: [PATH, "A-B"]
timeout: soon
output: html
commands:
  - words: ""
    args:
      - {name: "bad name", kind: string}
      - {name: n, kind: int, min: 5, max: 1}
      - {name: p, kind: word, pattern: "("}
    approvals: -1
    path: /x
`, []string{
			"program: ", "is not an executable file",
			"env[0]: PATH is always /usr/bin:/bin",
			`env[1]: "A-B" is not a variable name`,
			`timeout: "soon" is not a positive duration`,
			`output: "html" is not an output mode`,
			"commands[0].words: is empty",
			"commands[0].help: is empty",
			`commands[0].args[0].name: "bad name"`,
			`commands[0].args[0].kind: "string" is not an argument kind`,
			"commands[0].args[1]: min 5 is above max 1",
			"commands[0].args[2].pattern: error parsing regexp",
			"commands[0].approvals: -1 is negative",
			"commands[0]: method, path and template are for http plugins",
		}},
		{"no commands", "program: ok.sh", []string{"commands: none declared"}},
		{"unknown type", "type: grpc\ncommands: [{words: x, help: x}]", []string{`type: "grpc" is not a plugin type`}},
		{"http", `
type: http
program: ok.sh
output: jsonl
http:
  base_url: "https://user:pw@api.example.com"
  max_bytes: -1
  headers:
    - {name: "Bad Header", value: x}
    - {name: X-Key, value: x, from_env: KEY}
commands:
  - words: cve
    help: look up
    args: [{name: id, kind: word}]
    path: "cve/{id}"
  - words: cve2
    help: look up
    method: DELETE
    path: "/cve/{nope}/{"
    template: "{{.JSON"
`, []string{
			"program, dir and env are for script plugins",
			`output: "jsonl" is not an output mode of http plugins`,
			"http.base_url: must not hold a user name or password",
			"http.max_bytes: -1 is negative",
			`http.headers[0].name: "Bad Header" is not a header name`,
			"http.headers[1]: set exactly one of value, from_env and from_file",
			`commands[0].path: "cve/{id}" must start with /`,
			"commands[0].template: is empty",
			`commands[1].method: "DELETE" is not supported`,
			"commands[1].path: {nope} names no argument",
			"commands[1].template: template: cve2:1: unclosed action",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"ok.sh": "#!/bin/sh\n"})
			_, err := parseManifest(filepath.Join(dir, "p.yaml"), []byte(tt.manifest))
			if err == nil {
				t.Fatal("parseManifest succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}
