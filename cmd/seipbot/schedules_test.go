package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScheduledMessages runs a shell with a message scheduled every second:
// it is said in its room at each tick, with the tick's time filled in.
func TestScheduledMessages(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "seipbot.yaml")
	if err := os.WriteFile(cfg, []byte("schedules:\n  - name: heartbeat\n    cron: '@every 1s'\n    room: '#sec'\n    say: 'tick {{.Due.Format \"15:04:05\"}}'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startShellWith(t, filepath.Join(dir, "data"), []string{"--config", cfg})
	s.await(t, "[#sec] tick ")
	first := s.out.String()
	s.await(t, first+"[#sec] tick ")
	lines := strings.Split(strings.TrimSpace(s.out.String()), "\n")
	if len(lines) < 2 || lines[0] == lines[1] {
		t.Fatalf("the shell printed %q; want a tick each second, each with its own time", lines)
	}
	s.close(t)
}
