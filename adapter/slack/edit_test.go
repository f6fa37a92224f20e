package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	seipslack "github.com/seipbot/seipbot/adapter/slack"
	"github.com/seipbot/seipbot/adapter/slack/slackfake"
	"github.com/seipbot/seipbot/bot"
)

// TestProgressIsEditedInPlace sends a keyed line and two replacements
// through the outbox: the first is posted, the others update that message
// through chat.update with its channel and ts.
func TestProgressIsEditedInPlace(t *testing.T) {
	f := slackfake.New(t)
	a, _ := running(t, f, nil)
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: 10 * time.Millisecond})
	o.AddAdapter(a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.Run(ctx)
	line := func(text string) bot.Response {
		return bot.Response{Room: slackfake.Room, Thread: "1712345678.000001", Text: text, Key: "job-x-progress", Replace: true}
	}
	o.Send(ctx, line("10% done"))
	first := f.NextPost(t)
	if first.Edited || first.Text != "10% done" || first.Thread != "1712345678.000001" {
		t.Fatalf("the first line came as %+v, want a post in the thread", first)
	}
	for _, text := range []string{"50% done", "**90%** done"} {
		o.Send(ctx, line(text))
		p := f.NextPost(t)
		if !p.Edited || p.Channel != slackfake.Room || p.TS != first.TS {
			t.Fatalf("%q came as %+v, want chat.update of %s %s", text, p, slackfake.Room, first.TS)
		}
		if want := strings.ReplaceAll(text, "**", "*"); p.Text != want || len(p.Sections) != 1 || p.Sections[0] != want {
			t.Errorf("the message now says %q %q, want %q", p.Text, p.Sections, want)
		}
	}
}

func TestEditRefusesWhatOneMessageCannotHold(t *testing.T) {
	f := slackfake.New(t)
	a, _ := running(t, f, func(o *seipslack.Options) { o.MaxLen = 100 })
	ctx := context.Background()
	ref, err := a.Post(ctx, bot.Response{Room: slackfake.Room, Text: "short"})
	if err != nil {
		t.Fatal(err)
	}
	p := f.NextPost(t)
	if ref != slackfake.Room+":"+p.TS {
		t.Errorf("Post returned %q, want %s:%s", ref, slackfake.Room, p.TS)
	}
	if err := a.Edit(ctx, ref, bot.Response{Room: slackfake.Room, Text: strings.Repeat("long ", 30)}); !bot.IsPermanent(err) {
		t.Errorf("editing in a reply of two parts: %v, want a permanent error", err)
	}
	if err := a.Edit(ctx, slackfake.Room+":1.000000", bot.Response{Room: slackfake.Room, Text: "x"}); !bot.IsPermanent(err) {
		t.Errorf("editing a message Slack does not have: %v, want a permanent error", err)
	}
}
