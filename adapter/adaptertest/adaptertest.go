// Package adaptertest is the conformance suite every chat adapter runs
// against its real server (or, where none can run, a test server built from
// the platform's documented payloads), as testing/slogtest is for slog
// handlers.
//
// An adapter's test builds a Harness, a bot account and a second, human
// account on the server, and calls Run. The suite starts a real bot with the
// adapter and a small plugin of its own, talks to it as the human, and checks
// what the human receives:
//
//   - a room message addressed to the bot is answered in that room, and the
//     sender's identity is the one the Harness expects;
//   - a direct message is answered directly;
//   - the bot's own messages, and other bots' where the platform marks them,
//     start no reply loop;
//   - a multi-line reply several times the platform's length limit arrives
//     complete and in order, in valid UTF-8 parts within the limit;
//   - markup (bold, code block, link, inline code) is rendered the platform's
//     way;
//   - after the server cuts the bot off, the adapter reconnects by itself and
//     delivers the replies queued meanwhile in order, once each.
//
// Every wait is bounded by Timeout and fails with what was received so far;
// nothing is asserted about how long anything takes.
package adaptertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seipbot/seipbot/bot"
)

// Timeout bounds each wait for the server or the bot.
const Timeout = 20 * time.Second

// Harness connects the suite to one adapter and its server.
type Harness struct {
	// NewAdapter returns a fresh adapter, not yet running, logged in as the
	// bot. The suite runs it and stops it before Run returns.
	NewAdapter func(t *testing.T) bot.Adapter
	// User is a second, human account on the same server, already in Room.
	User Client
	// Room is the room's id as the adapter reports it in Message.Room.
	Room string
	// BotName is how a room line addresses the bot, as in "seipbot: ping";
	// the bot is given this name.
	BotName string
	// MaxLen is the most bytes of text one message may carry on the
	// platform, as the human receives it; a longer reply must be split.
	MaxLen int
	// Render, when set, returns the text the human receives for a reply
	// written in bot markup, with the parts of a split message joined by
	// "\n". When nil, the suite only checks that no raw markup ("**",
	// "](") reaches the platform.
	Render func(markup string) string
	// OtherBot, when set, is an account the platform marks as a bot, in
	// Room; nil skips that check, for platforms that mark no bots.
	OtherBot Client
	// Drop makes the server cut the bot's connection (by killing its
	// connection server-side or restarting the server) and keeps it cut
	// until the returned function is called. That function brings the
	// server back and returns once User is usable again (reconnected and
	// back in Room, if the server restarted). A nil Drop skips the
	// reconnect test; set it nil only where the platform makes cutting the
	// connection impossible, and say why.
	Drop func(t *testing.T) (restore func())
}

// Client is the human's side of the conversation.
type Client interface {
	// ID is the user's identity as the adapter reports it in
	// Message.User.ID ("irc:alice").
	ID() string
	// Say sends text to Room.
	Say(ctx context.Context, text string) error
	// SayDirect sends text to the bot in a one-to-one conversation.
	SayDirect(ctx context.Context, text string) error
	// Next returns the next message the user receives from the bot, in
	// Room or directly. Messages from anyone else are not returned.
	Next(ctx context.Context) (Received, error)
}

// Received is one message the human received from the bot.
type Received struct {
	Room   string // the room it was said in; empty when Direct
	Direct bool
	Text   string
}

// MarkupSample is the reply the markup check asks the bot for.
const MarkupSample = "**Scan done**: see [the report](https://example.com/r/1)\n" +
	"```\nopen 22/tcp ssh\nopen 443/tcp https\n```\n" +
	"Run `scan ports` again."

// Run checks the adapter h describes. Under CI=true a Harness the adapter's
// test could not build (its server missing) must fail that test rather than
// skip it; Run itself never skips for a missing server.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewAdapter == nil || h.User == nil || h.Room == "" || h.BotName == "" || h.MaxLen <= 0 {
		t.Fatal("adaptertest: Harness needs NewAdapter, User, Room, BotName and MaxLen")
	}
	s := start(t, h)

	t.Run("RoomMention", s.roomMention)
	t.Run("Direct", s.direct)
	t.Run("OwnMessages", s.ownMessages)
	if h.OtherBot != nil {
		t.Run("OtherBots", s.otherBots)
	} else {
		t.Log("OtherBots not run: the platform marks no bots, so the adapter cannot tell them apart")
	}
	t.Run("LongMessage", s.longMessage)
	t.Run("Markup", s.markup)
	if h.Drop != nil {
		t.Run("Reconnect", s.reconnect)
	} else {
		t.Log("Reconnect not run: the harness cannot cut the bot's connection on this platform")
	}
}

// suite is one running bot and the harness it talks through.
type suite struct {
	h       Harness
	b       *bot.Bot
	adapter string
}

func start(t *testing.T, h Harness) *suite {
	a := h.NewAdapter(t)
	b, err := bot.New(bot.Options{
		Name: h.BotName,
		// Retry quickly: the reconnect check waits for the queued replies.
		Outbox: bot.NewOutbox(nil, nil, bot.Backoff{Min: 50 * time.Millisecond, Max: time.Second}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(plugin{maxLen: h.MaxLen}); err != nil {
		t.Fatal(err)
	}
	b.AddAdapter(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("bot stopped with an error: %v", err)
			}
		case <-time.After(Timeout):
			t.Errorf("the bot did not stop within %s of its context being cancelled", Timeout)
		}
	})
	s := &suite{h: h, b: b, adapter: a.Name()}
	s.awaitReady(t)
	return s
}

// awaitReady asks the bot until it answers, since the adapter connects in
// the background and a platform without history drops what is said before
// the bot has joined. Every question carries its own token, so a late answer
// to an early one is told apart and skipped.
func (s *suite) awaitReady(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*Timeout)
	defer cancel()
	for {
		token := "ready-" + nonce()
		if err := s.h.User.Say(ctx, s.h.BotName+": echo "+token); err != nil {
			t.Fatalf("user could not speak in %s: %v", s.h.Room, err)
		}
		if s.waitFor(t, ctx, token, 2*time.Second) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the bot did not answer in %s within %s of starting", s.h.Room, 3*Timeout)
		}
	}
}

// waitFor reads until a message with text arrives, for at most d; messages
// before it are discarded.
func (s *suite) waitFor(t *testing.T, ctx context.Context, text string, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		r, err := s.h.User.Next(ctx)
		if err != nil {
			return false
		}
		if r.Text == text {
			return true
		}
	}
}

// sync discards whatever an earlier, failed check left unread, so each
// check starts from a quiet conversation.
func (s *suite) sync(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	token := "sync-" + nonce()
	if err := s.h.User.Say(ctx, s.h.BotName+": echo "+token); err != nil {
		t.Fatalf("user could not speak in %s: %v", s.h.Room, err)
	}
	if !s.waitFor(t, ctx, token, Timeout) {
		t.Fatalf("the bot did not answer %q in %s within %s", token, s.h.Room, Timeout)
	}
}

// until reads what the user receives up to the message whose text is
// sentinel, and returns what came before it.
func (s *suite) until(t *testing.T, sentinel string) []Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var got []Received
	for {
		r, err := s.h.User.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v; received before it: %s", sentinel, err, show(got))
		}
		if r.Text == sentinel {
			return got
		}
		got = append(got, r)
	}
}

// ask says text in the room, addressed to the bot, then asks for a sentinel
// echo, and returns every message the user received in between: since the
// bot answers one user in one room in order, those are the answer to text
// and nothing else.
func (s *suite) ask(t *testing.T, text string) []Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	sentinel := "end-" + nonce()
	for _, line := range []string{text, "echo " + sentinel} {
		if err := s.h.User.Say(ctx, s.h.BotName+": "+line); err != nil {
			t.Fatalf("user could not speak in %s: %v", s.h.Room, err)
		}
	}
	return s.until(t, sentinel)
}

func (s *suite) roomMention(t *testing.T) {
	s.sync(t)
	token := nonce()
	got := s.ask(t, "echo "+token)
	s.expect(t, got, Received{Room: s.h.Room, Text: token})

	got = s.ask(t, "whoami")
	s.expect(t, got, Received{Room: s.h.Room, Text: s.h.User.ID()})
}

func (s *suite) direct(t *testing.T) {
	s.sync(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	token := nonce()
	if err := s.h.User.SayDirect(ctx, "echo "+token); err != nil {
		t.Fatalf("user could not message the bot directly: %v", err)
	}
	for {
		r, err := s.h.User.Next(ctx)
		if err != nil {
			t.Fatalf("no direct answer to %q: %v", token, err)
		}
		if r.Text != token {
			t.Errorf("unexpected message while waiting for a direct answer: %+v", r)
			continue
		}
		if !r.Direct || r.Room != "" {
			t.Errorf("the answer to a direct message came as %+v; want it direct", r)
		}
		return
	}
}

// ownMessages makes the bot say a line addressed to itself. Were its own
// messages delivered back to it, it would answer that line too.
func (s *suite) ownMessages(t *testing.T) {
	s.sync(t)
	token := "loop-" + nonce()
	said := s.h.BotName + ": echo " + token
	got := s.ask(t, "echo "+said)
	s.expect(t, got, Received{Room: s.h.Room, Text: said})
	// Another round trip gives an answer to the echoed line time to show,
	// whichever order the bot handled the two in.
	if got := s.ask(t, "echo again"); !hasText(got, "again") || hasText(got, token) {
		t.Errorf("the bot answered its own message: received %s", show(got))
	}
}

func (s *suite) otherBots(t *testing.T) {
	s.sync(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	token := "bot-" + nonce()
	if err := s.h.OtherBot.Say(ctx, s.h.BotName+": echo "+token); err != nil {
		t.Fatalf("the other bot could not speak: %v", err)
	}
	// Two round trips, as for the bot's own messages.
	s.ask(t, "echo once")
	if got := s.ask(t, "echo twice"); hasText(got, token) {
		t.Errorf("the bot answered another bot: received %s", show(got))
	}
}

func (s *suite) longMessage(t *testing.T) {
	s.sync(t)
	want := longText(s.h.MaxLen)
	got := s.ask(t, "long")
	var joined strings.Builder
	for i, r := range got {
		if r.Direct || r.Room != s.h.Room {
			t.Errorf("part %d came in %+v; want room %s", i, r, s.h.Room)
		}
		if len(r.Text) > s.h.MaxLen {
			t.Errorf("part %d is %d bytes; the limit is %d", i, len(r.Text), s.h.MaxLen)
		}
		if !utf8.ValidString(r.Text) {
			t.Errorf("part %d is not valid UTF-8 (split inside a character?): %q", i, r.Text)
		}
		joined.WriteString(r.Text)
	}
	// A platform may keep line breaks inside one message or turn each line
	// into its own; only the characters and their order must survive.
	flat := func(s string) string { return strings.ReplaceAll(s, "\n", "") }
	if g, w := flat(joined.String()), flat(want); g != w {
		t.Errorf("the long reply arrived in %d parts that do not add up to it.\n got: %q\nwant: %q", len(got), g, w)
	}
	if minParts := len(flat(want)) / s.h.MaxLen; len(got) < minParts {
		t.Errorf("the long reply came in %d parts; with a limit of %d bytes it needs at least %d", len(got), s.h.MaxLen, minParts)
	}
}

func (s *suite) markup(t *testing.T) {
	s.sync(t)
	got := s.ask(t, "markup")
	var parts []string
	for _, r := range got {
		parts = append(parts, r.Text)
	}
	text := strings.Join(parts, "\n")
	if s.h.Render != nil {
		if want := s.h.Render(MarkupSample); text != want {
			t.Errorf("markup rendered as\n%q\nwant\n%q", text, want)
		}
		return
	}
	for _, raw := range []string{"**", "](", "```"} {
		if strings.Contains(text, raw) {
			t.Errorf("raw markup %q reached the platform: %q", raw, text)
		}
	}
}

// reconnect cuts the bot off, queues replies while it is away, and expects
// them once each, in order, when it is back.
func (s *suite) reconnect(t *testing.T) {
	s.sync(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	// A reply cut off in flight may be sent again (no platform confirms
	// what it received before the cut); start from an idle outbox so every
	// duplicate found is a real one.
	if err := s.b.Outbox().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	restore := s.h.Drop(t)
	token := nonce()
	var want []Received
	for i := range 5 {
		text := fmt.Sprintf("queued %d %s", i+1, token)
		want = append(want, Received{Room: s.h.Room, Text: text})
		if err := s.b.Outbox().Send(ctx, bot.Response{Adapter: s.adapter, Room: s.h.Room, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	restore()
	var got []Received
	for len(got) < len(want) {
		r, err := s.h.User.Next(ctx)
		if err != nil {
			t.Fatalf("after the reconnect, %d of %d queued replies arrived: %s; then: %v", len(got), len(want), show(got), err)
		}
		got = append(got, r)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("queued replies arrived as %s; want %s", show(got), show(want))
		}
	}
	// Anything sent twice would arrive before this answer.
	rest := s.ask(t, "echo back "+token)
	s.expect(t, rest, Received{Room: s.h.Room, Text: "back " + token})
}

func (s *suite) expect(t *testing.T, got []Received, want ...Received) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("received %s; want %s", show(got), show(want))
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("received %s; want %s", show(got), show(want))
			return
		}
	}
}

func hasText(rs []Received, text string) bool {
	for _, r := range rs {
		if strings.Contains(r.Text, text) {
			return true
		}
	}
	return false
}

func show(rs []Received) string {
	if len(rs) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%+v", r)
	}
	return b.String()
}

func nonce() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// longText returns a reply of several times maxLen bytes: short lines, and
// lines longer than the limit made of characters of one to four bytes, so
// a split in the wrong place breaks a character.
func longText(maxLen int) string {
	wide := []string{" ", "é", "€", "😀"}
	var b strings.Builder
	for i := 1; b.Len() < 4*maxLen; i++ {
		fmt.Fprintf(&b, "line %d:", i)
		if i%2 == 0 {
			for j := range maxLen {
				b.WriteString(wide[j%len(wide)])
			}
		} else {
			b.WriteString(" short")
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ServerRequired reports a missing server: under CI=true it fails the test,
// since CI starts every server; elsewhere it skips with why.
func ServerRequired(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not available, and CI must run this test", what)
	}
	t.Skipf("%s is not available; skipping (scripts/test.sh starts it)", what)
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server the test starts: the server binds it itself, since most of them
// take a port number in their configuration rather than a listener.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// plugin is the bot side of the checks.
type plugin struct{ maxLen int }

func (plugin) Name() string { return "adaptertest" }

func (p plugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "echo", Help: "say the text back",
		Args: []bot.Arg{{Name: "text", Kind: bot.Rest}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, m.Args.String("text"))
		}),
	})
	r.Command(bot.Command{
		Words: "whoami", Help: "say the sender's identity",
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, m.User.ID)
		}),
	})
	r.Command(bot.Command{
		Words: "long", Help: "say something longer than the platform allows in one message",
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, _ *bot.Message) error {
			return w.Reply(ctx, longText(p.maxLen))
		}),
	})
	r.Command(bot.Command{
		Words: "markup", Help: "say something with every kind of markup",
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, _ *bot.Message) error {
			return w.Reply(ctx, MarkupSample)
		}),
	})
	return nil
}
