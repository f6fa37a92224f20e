package shell

import (
	"bytes"
	"context"
	"strings"
	"testing"

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
