package slack_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	seipslack "github.com/seipbot/seipbot/adapter/slack"
	"github.com/seipbot/seipbot/adapter/slack/slackfake"
	"github.com/seipbot/seipbot/bot"
)

// running returns an adapter on f that has signed in and is receiving.
func running(t *testing.T, f *slackfake.Server, change func(*seipslack.Options)) (*seipslack.Adapter, inbox) {
	t.Helper()
	a := newAdapter(t, f, change)
	in := make(inbox, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, in) }()
	t.Cleanup(func() { cancel(); <-done })
	f.Say(slackfake.Human, slackfake.Room, "ready")
	in.next(t)
	return a, in
}

func TestLongReplyIsUploadedAsAFile(t *testing.T) {
	f := slackfake.New(t)
	a, _ := running(t, f, func(o *seipslack.Options) { o.UploadAbove = 500 })
	text := "**Open ports** on 10.0.0.0/24\n" + strings.Repeat("10.0.0.7 22/tcp ssh\n", 40)
	if err := a.Send(context.Background(), bot.Response{Room: slackfake.Room, Thread: "1712345678.000001", Text: text}); err != nil {
		t.Fatal(err)
	}
	p := f.NextPost(t)
	if string(p.File) != text {
		t.Errorf("the uploaded file holds %q, want the reply", p.File)
	}
	if p.Channel != slackfake.Room || p.Thread != "1712345678.000001" {
		t.Errorf("the file was shared in %q thread %q, want %s thread 1712345678.000001", p.Channel, p.Thread, slackfake.Room)
	}
	if len(p.Sections) != 1 || p.Sections[0] != "*Open ports* on 10.0.0.0/24" {
		t.Errorf("the file's message is %q, want the reply's first line", p.Sections)
	}
}

func TestDirectMessageOpensAConversation(t *testing.T) {
	f := slackfake.New(t)
	a, _ := running(t, f, nil)
	for range 2 {
		if err := a.Send(context.Background(), bot.Response{Direct: true, User: "slack:U0ADA", Text: "your scan is done"}); err != nil {
			t.Fatal(err)
		}
		if p := f.NextPost(t); p.Channel != "D00ADA" || p.Text != "your scan is done" {
			t.Errorf("posted %+v, want it in the direct conversation D00ADA", p)
		}
	}
	opened := f.OpenedDMs()
	if len(opened) != 1 || opened[0] != "U0ADA" {
		t.Errorf("conversations.open was called for %q, want once for U0ADA", opened)
	}
	err := a.Send(context.Background(), bot.Response{Direct: true, User: "shell:alice", Text: "hi"})
	if !bot.IsPermanent(err) {
		t.Errorf("a direct message to a non-Slack identity: err = %v, want a permanent error", err)
	}
}

func TestReplyInThread(t *testing.T) {
	f := slackfake.New(t)
	_, in := running(t, f, nil)
	ts := f.NextTS()
	f.Send("events_api", f.Event("event_message.json", map[string]any{"text": "status?", "ts": ts, "thread_ts": "1712345678.000001"}), 0)
	m := in.next(t)
	if m.Thread != "1712345678.000001" || m.ID != ts {
		t.Errorf("a thread reply was delivered as %+v", m)
	}
	if r := bot.ReplyTo(m, "ok"); r.Thread != m.Thread {
		t.Errorf("the answer goes to thread %q", r.Thread)
	}
}

func TestUnknownChannelIsPermanent(t *testing.T) {
	f := slackfake.New(t)
	a, _ := running(t, f, nil)
	err := a.Send(context.Background(), bot.Response{Room: "C0GONE", Text: "hello"})
	if !bot.IsPermanent(err) || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("err = %v, want a permanent channel_not_found", err)
	}
}

// TestPacing posts six messages to one channel: three at once, then one
// per interval, as Slack asks.
func TestPacing(t *testing.T) {
	f := slackfake.New(t)
	const interval = 150 * time.Millisecond
	a, _ := running(t, f, func(o *seipslack.Options) { o.PostInterval = interval })
	start := time.Now()
	for range 6 {
		if err := a.Send(context.Background(), bot.Response{Room: slackfake.Room, Text: "tick"}); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 3*interval {
		t.Errorf("six posts took %s; after a burst of three they should be %s apart", took, interval)
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWarnsAboutExtraScopes(t *testing.T) {
	f := slackfake.New(t)
	f.SetScopes("app_mentions:read,channels:history,groups:history,im:history,chat:write,im:write,files:write,users:read,admin")
	var logs logBuffer
	running(t, f, func(o *seipslack.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	out := logs.String()
	if !strings.Contains(out, "scopes seipbot does not use") || !strings.Contains(out, "users:read") || !strings.Contains(out, "admin") {
		t.Errorf("no warning naming the extra scopes users:read and admin:\n%s", out)
	}
	if strings.Contains(out, slackfake.BotToken) || strings.Contains(out, slackfake.AppToken) {
		t.Errorf("a token reached the log:\n%s", out)
	}
}

func TestRefusedTokenStopsRun(t *testing.T) {
	f := slackfake.New(t)
	a := newAdapter(t, f, func(o *seipslack.Options) { o.BotToken = "xoxb-revoked" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Run(ctx, make(inbox))
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("Run with a refused token: %v, want an invalid_auth error", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts seipslack.Options
		want string
	}{
		{"no tokens", seipslack.Options{}, "xoxb-"},
		{"socket without app token", seipslack.Options{BotToken: slackfake.BotToken}, "xapp-"},
		{"http without secret", seipslack.Options{BotToken: slackfake.BotToken, Mode: "http"}, "signing secret"},
		{"unknown mode", seipslack.Options{BotToken: slackfake.BotToken, Mode: "rtm"}, "neither socket nor http"},
		{"tiny messages", seipslack.Options{BotToken: slackfake.BotToken, AppToken: slackfake.AppToken, MaxLen: 10}, "outside 64"},
	}
	for _, tt := range tests {
		if _, err := seipslack.New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}
