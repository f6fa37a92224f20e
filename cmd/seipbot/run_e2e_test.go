package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/irc/irctest"
	"github.com/seipbot/seipbot/store/sealed"
)

// These tests are the adapters' "done when": "seipbot run" with only one
// adapter's section in its configuration connects to that platform's real
// server (or, for Slack, the test server built from its documented
// payloads) and answers ping in a room. The adapters' own tests check the
// adapters in depth; these check that the configuration reaches them.

// e2e is one platform's side of a run: the configuration section, and the
// human who asks.
type e2e struct {
	// section is the YAML under "adapters:", indented by two spaces.
	section string
	// human is in room with the bot.
	human adaptertest.Client
	// ask is what the human says to address the bot: the platform's
	// mention form followed by "ping".
	ask string
}

// runPing runs "seipbot run" in-process with p's section alone, has the
// human ask for ping until the bot answers pong (the adapter joins in the
// background, and a platform without history drops what is said before the
// bot is in the room), then stops it and expects a clean exit.
func runPing(t *testing.T, p e2e) {
	t.Helper()
	dir := t.TempDir()
	key, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "seipbot.yaml")
	conf := fmt.Sprintf("data_dir: %s\nadapters:\n%s", filepath.Join(dir, "data"), p.section)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	c := &cli{stdin: strings.NewReader(""), stdout: stderr, stderr: stderr, env: []string{"HOME=" + dir, "SEIPBOT_SECRET_KEY=" + key}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- c.main(ctx, []string{"run", "--config", file}) }()

	wait, stop := context.WithTimeout(ctx, 3*adaptertest.Timeout)
	defer stop()
	answered := false
	for !answered {
		if err := p.human.Say(wait, p.ask); err != nil {
			t.Fatalf("the human could not speak: %v", err)
		}
		answered = awaitText(wait, p.human, "pong", 2*time.Second)
		if !answered && wait.Err() != nil {
			select {
			case code := <-done:
				t.Fatalf("seipbot run exited %d before answering; it printed:\n%s", code, stderr)
			default:
			}
			t.Fatalf("no pong within %s of starting seipbot run; it printed:\n%s", 3*adaptertest.Timeout, stderr)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("seipbot run exited %d after its context was cancelled; it printed:\n%s", code, stderr)
		}
	case <-time.After(adaptertest.Timeout):
		t.Fatalf("seipbot run did not stop within %s of its context being cancelled", adaptertest.Timeout)
	}
}

// awaitText reads what the human receives until text arrives, for at most
// d; anything else (a late answer to an earlier ping is also "pong", so
// that is fine) is skipped.
func awaitText(ctx context.Context, h adaptertest.Client, text string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		r, err := h.Next(ctx)
		if err != nil {
			return false
		}
		if r.Text == text {
			return true
		}
	}
}

func TestRunIRC(t *testing.T) {
	srv := irctest.Start(t, irctest.Options{})
	human := irctest.NewClient(t, srv.Addr, "alice", "seipbot")
	runPing(t, e2e{
		section: fmt.Sprintf("  irc:\n    server: %s\n    insecure: true\n    channels: [%q]\n", srv.Addr, irctest.Room),
		human:   human,
		ask:     "seipbot: ping",
	})
}
