package shell

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
)

type inbox struct{ got []*bot.Message }

func (i *inbox) Receive(_ context.Context, m *bot.Message) { i.got = append(i.got, m) }

func TestLinesBecomeMessages(t *testing.T) {
	for _, room := range []string{"", "ops"} {
		a := New(Options{In: strings.NewReader("ping\n\nseipbot help\n"), Out: &bytes.Buffer{}, User: "alice", Room: room})
		var in inbox
		if err := a.Run(context.Background(), &in); err != nil {
			t.Fatal(err)
		}
		if len(in.got) != 2 {
			t.Fatalf("room %q: %d messages, want 2 (empty lines are skipped)", room, len(in.got))
		}
		m := in.got[1]
		if m.Text != "seipbot help" || m.User.ID != "shell:alice" || m.Adapter != "shell" || m.Direct != (room == "") || m.ID != "3" {
			t.Errorf("room %q: message %+v", room, m)
		}
	}
}

func TestAnswersShowWhereTheyGo(t *testing.T) {
	var out bytes.Buffer
	a := New(Options{Out: &out, User: "alice", Room: "ops"})
	ctx := context.Background()
	for _, r := range []bot.Response{
		{Room: "ops", Text: "here"},
		{Room: "#sec-alerts", Text: "alert"},
		{Direct: true, User: "shell:alice", Text: "to me"},
		{Direct: true, User: "slack:U1", Text: "to someone else"},
	} {
		if err := a.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	want := "here\n[#sec-alerts] alert\nto me\n[to slack:U1] to someone else\n"
	if out.String() != want {
		t.Errorf("wrote %q, want %q", out.String(), want)
	}
}

func TestInteractivePromptsAfterEachAnswer(t *testing.T) {
	var out bytes.Buffer
	a := New(Options{Out: &out, User: "alice", Interactive: true, Prompt: "> "})
	if err := a.Send(context.Background(), bot.Response{Direct: true, User: "shell:alice", Text: "pong"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "pong\n> " {
		t.Errorf("wrote %q", out.String())
	}
}

// lockedInbox records what it receives from any goroutine.
type lockedInbox struct {
	mu  sync.Mutex
	got []string
}

func (i *lockedInbox) Receive(_ context.Context, m *bot.Message) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.got = append(i.got, m.Text)
}

func (i *lockedInbox) texts() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.got)
}

func TestCancelStopsReceiving(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	a := New(Options{In: r, Out: &bytes.Buffer{}, User: "alice"})
	var in lockedInbox
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, &in) }()
	if _, err := io.WriteString(w, "one\n"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(in.texts()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first line was never received")
		}
	}
	// The reader is now blocked reading; cancelling must end Run anyway.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended during a read")
	}
	// A line read after Run returned is not handed to the bot.
	if _, err := io.WriteString(w, "two\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := in.texts(); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("received %q, want only the line before the cancel", got)
	}
}
