package slack_test

import (
	"context"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/slack/slackfake"
	"github.com/seipbot/seipbot/bot"
)

// echo says back what it is told.
type echo struct{}

func (echo) Name() string { return "echo" }

func (echo) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "echo", Args: []bot.Arg{{Name: "text", Kind: bot.Rest}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, m.Args.String("text"))
		}),
	})
	return nil
}

// echoBot runs a bot that echoes, on an adapter connected to f.
func echoBot(t *testing.T, f *slackfake.Server) *bot.Bot {
	t.Helper()
	b, err := bot.New(bot.Options{Outbox: bot.NewOutbox(nil, nil, bot.Backoff{Min: 20 * time.Millisecond, Max: time.Second})})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(echo{}); err != nil {
		t.Fatal(err)
	}
	runOn(t, f, b)
	return b
}

// runOn runs b with an adapter connected to f until the test ends.
func runOn(t *testing.T, f *slackfake.Server, b *bot.Bot) {
	b.AddAdapter(newAdapter(t, f, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// expectSaid reads the bot's posts and checks they are want, in order,
// and nothing else before the last.
func expectSaid(t *testing.T, f *slackfake.Server, want ...string) {
	t.Helper()
	for i, w := range want {
		p := f.NextPost(t)
		if len(p.Sections) != 1 || p.Sections[0] != w {
			t.Fatalf("post %d is %q; want %q", i, p.Sections, want)
		}
	}
}

// TestRefreshRequested sends Slack's disconnect envelope, as Slack does
// before it recycles a connection, and a message right behind it: the bot
// opens a new connection and answers every message once.
func TestRefreshRequested(t *testing.T) {
	f := slackfake.New(t)
	echoBot(t, f)
	f.Say(slackfake.Human, slackfake.Room, "seipbot: echo one")
	expectSaid(t, f, "one")

	f.WriteRaw(slackfake.Fixture(t, "socket_disconnect.json"))
	// Said while the old connection closes: if it is lost there, it was
	// not acknowledged, and Slack sends it again on the new one.
	f.Say(slackfake.Human, slackfake.Room, "seipbot: echo two")
	expectSaid(t, f, "two")
	f.Say(slackfake.Human, slackfake.Room, "seipbot: echo three")
	expectSaid(t, f, "three")
	if n := f.Connections(); n < 2 {
		t.Errorf("%d Socket Mode connections opened; the disconnect envelope should make a second", n)
	}
}

// TestSlackRetriesAreAnsweredOnce resends an acknowledged event as Slack
// does when it thinks the acknowledgement was late (a new envelope, the
// same event_id, retry_attempt 1), and again after a dropped connection.
func TestSlackRetriesAreAnsweredOnce(t *testing.T) {
	f := slackfake.New(t)
	echoBot(t, f)
	ev := f.Event("event_app_mention.json", map[string]any{"text": "<@" + slackfake.BotUser + "> echo once", "ts": f.NextTS()})
	first := f.Send("events_api", ev, 0)
	expectSaid(t, f, "once")
	if !f.AwaitAck(first) {
		t.Fatal("the event was not acknowledged")
	}
	f.Send("events_api", ev, 1)
	restore := f.Drop(t)
	f.Send("events_api", ev, 2)
	restore()
	f.Say(slackfake.Human, slackfake.Room, "seipbot: echo after")
	expectSaid(t, f, "after")
}

// TestRateLimitRetryAfter answers chat.postMessage with 429 and
// Retry-After: 1; the reply arrives once, no sooner than a second later,
// though the outbox's own backoff is 20ms.
func TestRateLimitRetryAfter(t *testing.T) {
	f := slackfake.New(t)
	echoBot(t, f)
	f.Say(slackfake.Human, slackfake.Room, "seipbot: echo ready")
	expectSaid(t, f, "ready")

	f.RateLimit(1)
	f.Say(slackfake.Human, slackfake.Room, "seipbot: echo later")
	expectSaid(t, f, "later")
	attempts := f.Attempts()
	if len(attempts) != 2 {
		t.Fatalf("%d attempts to slackfake.Post, want the refused one and one more", len(attempts))
	}
	if waited := attempts[1].Sub(attempts[0]); waited < time.Second {
		t.Errorf("retried %s after a 429 with Retry-After: 1", waited)
	}
}
