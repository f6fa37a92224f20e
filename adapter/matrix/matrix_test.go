package matrix

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/matrix/matrixtest"
	"github.com/seipbot/seipbot/bot"
)

// world is matrixtest's world, with the adapter's options for it.
type world struct{ *matrixtest.World }

func newWorld(t *testing.T) *world { return &world{matrixtest.NewWorld(t)} }

// options are the adapter's options for the test server: a password
// login, quick reconnects, and a state file of the test's own.
func (w *world) options(t *testing.T) Options {
	return Options{
		Homeserver: w.Server.URL, UserID: w.Bot.UserID.String(), Password: matrixtest.BotPassword,
		Rooms: []string{matrixtest.RoomAlias}, InviteFrom: []string{"@alice:localhost"},
		StateFile:  filepath.Join(t.TempDir(), "matrix.json"),
		BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

func TestConformance(t *testing.T) {
	w := newWorld(t)
	other := w.Server.Register("otherbot", "other-password-123")
	if _, err := other.JoinRoom(context.Background(), matrixtest.RoomAlias, nil); err != nil {
		t.Fatal(err)
	}
	otherBot := matrixtest.NewUser(t, other, w.Bot.UserID, w.Room)
	otherBot.Notice = true
	adaptertest.Run(t, adaptertest.Harness{
		NewAdapter: func(t *testing.T) bot.Adapter {
			a, err := New(w.options(t))
			if err != nil {
				t.Fatal(err)
			}
			return a
		},
		User:     w.Alice,
		Room:     w.Room.String(),
		BotName:  "seipbot",
		MaxLen:   maxText,
		Render:   func(string) string { return sampleHTML },
		OtherBot: otherBot,
		// A real restart: the bot's long poll and sends fail until the
		// server is back, with its databases as they were.
		Drop: func(t *testing.T) func() {
			w.Server.Stop()
			return func() { w.Server.Start() }
		},
	})
}

// recorder is an Inbox that keeps what the adapter delivers.
type recorder chan *bot.Message

func (r recorder) Receive(_ context.Context, m *bot.Message) { r <- m }

// run runs a until the returned stop is called (or the test ends), and
// waits until it has logged in.
func run(t *testing.T, a *Adapter) (recorder, func()) {
	t.Helper()
	rec := make(recorder, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, rec) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	wait, cancelWait := context.WithTimeout(ctx, adaptertest.Timeout)
	defer cancelWait()
	if _, err := a.client(wait); err != nil {
		t.Fatalf("the adapter did not log in: %v", err)
	}
	// Once a sync position is saved, the first sync is over: what is said
	// from now on is news to the adapter, not history it skips.
	for {
		if st, _ := loadState(a.opts.StateFile); st.NextBatch != "" {
			return rec, stop
		}
		select {
		case <-wait.Done():
			t.Fatal("the adapter did not finish its first sync")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// next returns the next message the adapter delivers, skipping none.
func (r recorder) next(t *testing.T) *bot.Message {
	t.Helper()
	select {
	case m := <-r:
		return m
	case <-time.After(adaptertest.Timeout):
		t.Fatal("the adapter delivered nothing")
		return nil
	}
}

// awaitJoined waits until the bot is in the test room, so what is said
// next is said to it.
func (w *world) awaitJoined(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	if err := w.Alice.AwaitMember(ctx, w.Room, w.Bot.UserID); err != nil {
		t.Fatal(err)
	}
}

func (w *world) say(t *testing.T, text string) {
	t.Helper()
	if err := w.Alice.Say(context.Background(), text); err != nil {
		t.Fatal(err)
	}
}

// TestSyncPosition: a restart goes on from the saved sync position,
// delivering what was said while the bot was down and nothing from
// before; a first start, with no position saved, skips the history.
func TestSyncPosition(t *testing.T) {
	w := newWorld(t)
	opts := w.options(t)
	a, _ := New(opts)
	rec, stop := run(t, a)
	w.awaitJoined(t)
	w.say(t, "seipbot: echo one")
	if m := rec.next(t); m.Text != "echo one" || !m.Mentioned || m.Direct || m.User.ID != "matrix:@alice:localhost" || m.Room != w.Room.String() {
		t.Fatalf("delivered %+v; want a mention \"echo one\" from matrix:@alice:localhost in the room", m)
	}
	stop()

	w.say(t, "seipbot: echo two")
	b, _ := New(opts)
	rec, stop = run(t, b)
	if m := rec.next(t); m.Text != "echo two" {
		t.Fatalf("after a restart the adapter delivered %q first; want \"echo two\", said while it was down", m.Text)
	}
	stop()

	w.say(t, "seipbot: echo three")
	opts.StateFile = filepath.Join(t.TempDir(), "fresh.json")
	c, _ := New(opts)
	rec, _ = run(t, c)
	// The first sync is done once a message said after the start arrives.
	w.say(t, "seipbot: echo four")
	if m := rec.next(t); m.Text != "echo four" {
		t.Fatalf("a first start delivered %q; want history skipped and \"echo four\"", m.Text)
	}
}

// TestThreadsAndMentions: a mention by display name in m.mentions and a
// message in a thread reach the bot as such, and the reply stays in the
// thread.
func TestThreadsAndMentions(t *testing.T) {
	w := newWorld(t)
	opts := w.options(t)
	opts.DisplayName = "Seip Bot"
	a, _ := New(opts)
	rec, _ := run(t, a)
	w.awaitJoined(t)
	ctx := context.Background()

	root, err := w.Alice.Client.SendText(ctx, w.Room, "a thread about a scan")
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Alice.Client.SendMessageEvent(ctx, w.Room, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgText, Body: "Seip Bot: status",
		Mentions:  &event.Mentions{UserIDs: []id.UserID{w.Bot.UserID}},
		RelatesTo: &event.RelatesTo{Type: event.RelThread, EventID: root.EventID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := rec.next(t); m.Text != "a thread about a scan" || m.Mentioned || m.Thread != "" {
		t.Fatalf("delivered %+v; want the thread's root, not addressed to the bot", m)
	}
	m := rec.next(t)
	if m.Text != "status" || !m.Mentioned || m.Thread != root.EventID.String() {
		t.Fatalf("delivered %+v; want a mention \"status\" in thread %s", m, root.EventID)
	}
	if err := a.Send(ctx, bot.ReplyTo(m, "all **green**")); err != nil {
		t.Fatal(err)
	}
	got, err := w.Alice.NextMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Content
	if c.MsgType != event.MsgNotice || c.Body != "all green" || c.FormattedBody != "all <strong>green</strong>" ||
		c.RelatesTo == nil || c.RelatesTo.Type != event.RelThread || c.RelatesTo.EventID != root.EventID {
		t.Errorf("the reply was %+v (relates to %+v); want a notice in thread %s", c, c.RelatesTo, root.EventID)
	}

	// Mentioned in m.mentions only, with no name in the text.
	_, err = w.Alice.Client.SendMessageEvent(ctx, w.Room, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgText, Body: "help", Mentions: &event.Mentions{UserIDs: []id.UserID{w.Bot.UserID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := rec.next(t); m.Text != "help" || !m.Mentioned || m.Thread != "" {
		t.Errorf("delivered %+v; want a mention \"help\" outside threads", m)
	}
}

// TestInvites: a direct chat opened by an allowed user is accepted and
// its messages are direct; an invite from anyone else is declined; and
// the bot can open a direct chat itself.
func TestInvites(t *testing.T) {
	w := newWorld(t)
	a, _ := New(w.options(t))
	rec, _ := run(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()

	if err := w.Alice.SayDirect(ctx, "ping"); err != nil {
		t.Fatal(err)
	}
	if m := rec.next(t); m.Text != "ping" || !m.Direct {
		t.Errorf("delivered %+v; want a direct \"ping\"", m)
	}

	mallory := w.Server.Register("mallory", "mallory-password-123")
	resp, err := mallory.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{w.Bot.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		members, err := mallory.Members(ctx, resp.RoomID)
		if err != nil {
			t.Fatal(err)
		}
		var membership event.Membership
		for _, evt := range members.Chunk {
			if evt.GetStateKey() == w.Bot.UserID.String() {
				var c event.MemberEventContent
				json.Unmarshal(evt.Content.VeryRaw, &c)
				membership = c.Membership
			}
		}
		if membership == event.MembershipLeave {
			break
		}
		if membership == event.MembershipJoin {
			t.Fatal("the bot accepted an invite from a user not in InviteFrom")
		}
		select {
		case <-ctx.Done():
			t.Fatal("the bot neither accepted nor declined mallory's invite")
		case <-time.After(50 * time.Millisecond):
		}
	}

	// bob has no direct chat with the bot: one is made for the message.
	bob := w.Server.Register("bob", "bob-password-123")
	bobUser := matrixtest.NewUser(t, bob, w.Bot.UserID, "")
	if err := a.Send(ctx, bot.Response{Direct: true, User: "matrix:@bob:localhost", Text: "hello bob"}); err != nil {
		t.Fatal(err)
	}
	got, err := bobUser.Next(ctx)
	if err != nil || got.Text != "hello bob" {
		t.Errorf("bob received %+v, %v; want \"hello bob\"", got, err)
	}
}

func TestCutAddress(t *testing.T) {
	for _, tc := range []struct {
		text, name, rest string
		ok               bool
	}{
		{"Seip Bot: ping", "Seip Bot", "ping", true},
		{"seipbot:localhost: ping", "seipbot:localhost", "ping", true},
		{"@seipbot ping", "seipbot", "ping", true},
		{"seipbot ping", "seipbot", "", false},
		{"seipbotx: ping", "seipbot", "", false},
		{"ping", "", "", false},
	} {
		rest, ok := cutAddress(tc.text, tc.name)
		if rest != tc.rest || ok != tc.ok {
			t.Errorf("cutAddress(%q, %q) = %q, %v; want %q, %v", tc.text, tc.name, rest, ok, tc.rest, tc.ok)
		}
	}
}
