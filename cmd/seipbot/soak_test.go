package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const soakConfig = `log: {level: error}
rate_limit: {per_minute: 0}
commands:
  - command: runbook ddos
    reply: "DDoS runbook: https://wiki.example/ddos"
hears:
  - pattern: '\bINC-(\d+)\b'
    reply: "Incident {{index .Match 1}}"
`

// soakLines is the steady load: commands with and without arguments, an
// unknown command (suggestions), a quoting error, a hear pattern and
// chatter, all answered without storing anything, so memory has no reason
// to grow.
var soakLines = []string{
	"ping", "help", "whoami", "time in Tokyo", "runbook ddos", "pnig", `say "unclosed`,
	"see INC-4411 for context", "thanks", "help remind",
}

// lineCounter counts the lines written to it and keeps nothing.
type lineCounter struct{ n atomic.Int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

// usage is what the soak test watches.
type usage struct {
	goroutines int
	heap       uint64 // bytes in use after a GC
	rss        uint64 // bytes, after returning free memory to the OS
}

func measure(t *testing.T) usage {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{goroutines: runtime.NumGoroutine(), heap: ms.HeapInuse, rss: rss(t)}
}

// rss reads the process's resident set from /proc.
func rss(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("the soak test reads its memory from /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, heap %.1f MiB, RSS %.1f MiB", u.goroutines, float64(u.heap)/(1<<20), float64(u.rss)/(1<<20))
}

// TestSoak runs the shell in-process under a steady load for SEIPBOT_SOAK
// (bench/soak.sh: 2m; scripts/test.sh: 20s) and checks that goroutines,
// heap and RSS come back to what they were after a warm-up once the load
// stops, and that stopping the bot ends every goroutine it started. A leak
// of a few bytes a message shows as megabytes here.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("SEIPBOT_SOAK"))
	if err != nil || d <= 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("SEIPBOT_SOAK is not set, and CI must soak the bot (scripts/test.sh sets it)")
		}
		t.Skip("set SEIPBOT_SOAK=20s (or run bench/soak.sh) to soak the bot")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "seipbot.yaml")
	if err := os.WriteFile(cfg, []byte(soakConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	r, w := io.Pipe()
	out := &lineCounter{}
	c := &cli{stdin: r, stdout: out, stderr: io.Discard, env: []string{"HOME=" + dir}}
	done := make(chan int, 1)
	go func() {
		done <- c.main(context.Background(), []string{"shell", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--user", "alice"})
	}()

	// send writes lines at a steady pace for d, and waits until the bot
	// has answered them (every line gets at least one answer).
	sent := 0
	send := func(d time.Duration) {
		t.Helper()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
			if _, err := io.WriteString(w, soakLines[sent%len(soakLines)]+"\n"); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		for deadline := time.Now().Add(30 * time.Second); out.n.Load() < int64(sent); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d lines sent, only %d answers after 30s", sent, out.n.Load())
			}
		}
	}
	warm := min(d/5, 10*time.Second)
	send(warm)
	base := measure(t)
	half := d / 2
	send(half)
	mid := measure(t)
	send(d - warm - half)
	time.Sleep(time.Second) // let timers and lanes of the last lines end
	end := measure(t)
	t.Logf("%d lines in %s; after warm-up: %s; halfway: %s; at the end: %s", sent, d, base, mid, end)

	if end.goroutines > base.goroutines+2 {
		t.Errorf("goroutines grew from %d to %d under load", base.goroutines, end.goroutines)
	}
	// Allocation is bursty and the collector keeps some slack: allow a
	// fixed margin, far below what a per-message leak would add.
	const heapSlack, rssSlack = 8 << 20, 32 << 20
	if end.heap > base.heap+heapSlack {
		t.Errorf("heap in use grew from %.1f to %.1f MiB", float64(base.heap)/(1<<20), float64(end.heap)/(1<<20))
	}
	if end.rss > base.rss+rssSlack {
		t.Errorf("RSS grew from %.1f to %.1f MiB", float64(base.rss)/(1<<20), float64(end.rss)/(1<<20))
	}

	w.Close()
	if code := <-done; code != 0 {
		t.Fatalf("the shell exited %d", code)
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before the bot started, %d after it stopped:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
	}
}
