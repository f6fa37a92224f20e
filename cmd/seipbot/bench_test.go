package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkShellWorkload runs the end-to-end benchmark's workload (see
// bench/shell-dispatch.sh) through the shell in-process, for profiling:
// 99 canned commands, 100 hear rules, and ping and chatter lines.
func BenchmarkShellWorkload(b *testing.B) {
	dir := b.TempDir()
	var cfg strings.Builder
	cfg.WriteString("rate_limit: {per_minute: 0}\nlog: {level: error}\ncommands:\n")
	for i := range 99 {
		fmt.Fprintf(&cfg, "  - command: runbook svc%d\n    reply: \"Runbook for svc%d: https://wiki.example/svc%d\"\n", i, i, i)
	}
	cfg.WriteString("hears:\n")
	for i := range 50 {
		fmt.Fprintf(&cfg, "  - pattern: '(?i)\\binc-%d:(\\d+)\\b'\n    reply: \"Incident %d-{{index .Match 1}}\"\n", i, i)
		fmt.Fprintf(&cfg, "  - pattern: '(?i)https?://svc-%d\\.example\\.com/(\\S+)'\n    reply: \"svc-%d path {{index .Match 1}}\"\n", i, i)
	}
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	chatter := []string{"the deploy went out fine", "anyone looking at the alert queue", "see inc-7:4411 for context", "logs: https://svc-4.example.com/logs/today", "who has the pager this week"}
	var in strings.Builder
	for i := range b.N {
		if i%2 == 0 {
			in.WriteString("seipbot ping\n")
			continue
		}
		line := chatter[(i/2)%len(chatter)]
		if (i/2)%2 == 1 {
			line = "seipbot " + line
		}
		in.WriteString(line + "\n")
	}
	c := &cli{stdin: strings.NewReader(in.String()), stdout: io.Discard, stderr: io.Discard, env: []string{"HOME=" + dir}}
	b.ResetTimer()
	if code := c.main(b.Context(), []string{"shell", "--room", "bench", "--data-dir", filepath.Join(dir, "data"), "--config", path}); code != 0 {
		b.Fatalf("exit %d", code)
	}
}
