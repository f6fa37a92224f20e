// Package bottest helps test plugins: a recording adapter that plays a
// script of messages into a real bot and keeps what the bot says, and
// transcript tests that compare a conversation with a golden file.
package bottest

import (
	"context"
	"errors"
	"flag"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Adapter is an in-memory chat platform. Run delivers its messages and
// returns; Send records responses. The bot keeps one user's messages in one
// room in order, and so their answers.
type Adapter struct {
	name string
	msgs []*bot.Message
	// Fail, when set, is called for each Send; a non-nil error is returned
	// to the outbox (and nothing is recorded).
	Fail func(r bot.Response) error

	mu   sync.Mutex
	sent []bot.Response
}

var _ bot.Adapter = (*Adapter)(nil)

// NewAdapter returns an adapter named name that will deliver msgs.
func NewAdapter(name string, msgs ...*bot.Message) *Adapter {
	return &Adapter{name: name, msgs: msgs}
}

// Name returns the adapter's name.
func (a *Adapter) Name() string { return a.name }

// Run delivers the messages, then returns.
func (a *Adapter) Run(ctx context.Context, in bot.Inbox) error {
	for _, m := range a.msgs {
		if m.Adapter == "" {
			m.Adapter = a.name
		}
		in.Receive(ctx, m)
	}
	return nil
}

// Send records r.
func (a *Adapter) Send(_ context.Context, r bot.Response) error {
	if a.Fail != nil {
		if err := a.Fail(r); err != nil {
			return err
		}
	}
	a.mu.Lock()
	a.sent = append(a.sent, r)
	a.mu.Unlock()
	return nil
}

// Sent returns what the bot has said so far.
func (a *Adapter) Sent() []bot.Response {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bot.Response(nil), a.sent...)
}

// Texts returns the text of every response, in order.
func (a *Adapter) Texts() []string {
	var out []string
	for _, r := range a.Sent() {
		out = append(out, r.Text)
	}
	return out
}

// DM returns a direct message from user to the bot.
func DM(user, text string) *bot.Message {
	return &bot.Message{Text: text, User: bot.User{ID: "test:" + user, Name: user}, Room: "dm:" + user, Direct: true}
}

// InRoom returns a message from user in room.
func InRoom(room, user, text string) *bot.Message {
	return &bot.Message{Text: text, User: bot.User{ID: "test:" + user, Name: user}, Room: room}
}

// Run makes a bot from opts with plugins, plays msgs through it and returns
// what it said. It fails the test on any setup error.
func Run(t testing.TB, opts bot.Options, plugins []bot.Plugin, msgs ...*bot.Message) []bot.Response {
	t.Helper()
	b, err := bot.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(plugins...); err != nil {
		t.Fatal(err)
	}
	a := NewAdapter("test", msgs...)
	b.AddAdapter(a)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return a.Sent()
}

var update = flag.Bool("bottest.update", false, "rewrite the transcripts that bottest.Transcript compares against")

// Transcript plays the golden file at path through a bot made from opts
// with plugins, and compares what the bot answered with the file. In the
// file, a line starting with "> " is a direct message from alice, and the
// lines up to the next "> " are the bot's answers to it, in order. Run the
// test with -bottest.update to write the answers into the file.
//
// Each typed line goes out in its own thread, and a reply keeps its
// message's thread, which is how an answer is matched to its line.
func Transcript(t testing.TB, opts bot.Options, plugins []bot.Plugin, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var typed []string
	for line := range strings.Lines(string(raw)) {
		if text, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "> "); ok {
			typed = append(typed, text)
		}
	}
	msgs := make([]*bot.Message, len(typed))
	for i, text := range typed {
		msgs[i] = DM("alice", text)
		msgs[i].Thread = strconv.Itoa(i)
	}
	answers := make([][]string, len(typed))
	var stray []string
	for _, r := range Run(t, opts, plugins, msgs...) {
		i, err := strconv.Atoi(r.Thread)
		if err != nil || i < 0 || i >= len(typed) {
			stray = append(stray, r.Text)
			continue
		}
		answers[i] = append(answers[i], r.Text)
	}
	var b strings.Builder
	for i, text := range typed {
		b.WriteString("> " + text + "\n")
		for _, a := range answers[i] {
			b.WriteString(a + "\n")
		}
	}
	for _, s := range stray {
		b.WriteString(s + "\n")
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(raw) {
		t.Errorf("transcript %s differs (run with -bottest.update to accept)\n--- got\n%s--- want\n%s", path, got, raw)
	}
}

// EditingAdapter is an Adapter that can also edit what it posted
// (bot.Poster and bot.Editor), as Slack and Mattermost can, so that tests
// see what a reader would: Messages returns each message as it now reads.
// Sent still records every post and edit, in order.
type EditingAdapter struct {
	*Adapter
	// FailEdit, when set, is called for each Edit; a non-nil error is
	// returned to the outbox and the message is left as it was.
	FailEdit func(ref string, r bot.Response) error

	emu   sync.Mutex
	msgs  []string // the messages posted, as edited; a ref is an index + 1
	edits int
}

var (
	_ bot.Poster = (*EditingAdapter)(nil)
	_ bot.Editor = (*EditingAdapter)(nil)
)

// NewEditingAdapter returns an editing adapter named name that will
// deliver msgs.
func NewEditingAdapter(name string, msgs ...*bot.Message) *EditingAdapter {
	return &EditingAdapter{Adapter: NewAdapter(name, msgs...)}
}

// Post records r as a new message and returns its reference.
func (a *EditingAdapter) Post(ctx context.Context, r bot.Response) (string, error) {
	if err := a.Adapter.Send(ctx, r); err != nil {
		return "", err
	}
	a.emu.Lock()
	defer a.emu.Unlock()
	a.msgs = append(a.msgs, r.Text)
	return strconv.Itoa(len(a.msgs)), nil
}

// Edit replaces the text of the message ref.
func (a *EditingAdapter) Edit(_ context.Context, ref string, r bot.Response) error {
	if a.FailEdit != nil {
		if err := a.FailEdit(ref, r); err != nil {
			return err
		}
	}
	a.emu.Lock()
	defer a.emu.Unlock()
	i, err := strconv.Atoi(ref)
	if err != nil || i < 1 || i > len(a.msgs) {
		return bot.Permanent(errors.New("bottest: no message " + ref))
	}
	a.msgs[i-1] = r.Text
	a.edits++
	a.mu.Lock()
	a.sent = append(a.sent, r)
	a.mu.Unlock()
	return nil
}

// Messages returns the text of every message posted, as edited since.
func (a *EditingAdapter) Messages() []string {
	a.emu.Lock()
	defer a.emu.Unlock()
	return append([]string(nil), a.msgs...)
}

// Edits returns how many edits succeeded.
func (a *EditingAdapter) Edits() int {
	a.emu.Lock()
	defer a.emu.Unlock()
	return a.edits
}
