package irc

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/irc/irctest"
	"github.com/seipbot/seipbot/bot"
)

// TestChaosServerRestart restarts ngIRCd while a human sends a real bot 60
// numbered commands at a steady pace, and checks that nothing acknowledged
// is lost or answered twice, and that the same bot, with the same adapter,
// serves the second half without being restarted.
//
// "Acknowledged" is what the human can know. After each PRIVMSG it sends a
// PING and counts the command only once the PONG is back: the server
// answers in order, so the PONG means it processed the PRIVMSG. IRC keeps
// no history, so a line said while the bot is not in the channel is gone
// for the bot; a command therefore counts only when the human had seen the
// bot in #test (its JOIN, or its nick in NAMES) before saying it, and saw
// it leave neither before the PONG. Commands without a PONG (the one cut
// off by the restart) or said while the bot was away may be answered at
// most once. The gate keeps the bot out of the restarted server until the
// human is back, so replies queued meanwhile have someone to reach.
func TestChaosServerRestart(t *testing.T) {
	srv := irctest.Start(t, irctest.Options{})
	g := newGate(t, srv.Addr)
	h := newHuman(t, srv.Addr)
	opts := testOptions(g.addr())
	opts.PaceEvery = 10 * time.Millisecond
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	adaptertest.RunChaos(t, adaptertest.Chaos{
		Adapter: a,
		Backoff: bot.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		Ledger:  h.ledger,
		Send:    h.send,
		Cut: func(t *testing.T, n int) {
			// Between the command and its PING: this one is in flight,
			// neither confirmed nor known lost.
			h.say(n)
			g.set(true)
			srv.Stop()
			srv.Start()
			h.reconnect()
			g.set(false)
		},
		Last: h.last,
	})
}

// human is the chaos test's IRC user: the shared test client, plus what it
// learns from the lines it reads.
type human struct {
	*irctest.Client
	ledger *adaptertest.Ledger

	mu    sync.Mutex
	pongs map[string]chan struct{}
}

func newHuman(t *testing.T, addr string) *human {
	h := &human{ledger: adaptertest.NewLedger(), pongs: map[string]chan struct{}{}}
	h.Client = irctest.NewObservedClient(t, addr, "alice", "seipbot", h.observe)
	return h
}

// observe follows the bot's presence in #test, its answers and the
// server's PONGs; the client shows it the current connection's lines only,
// as a dead connection's reader may still be draining old ones.
func (h *human) observe(l irctest.Line) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch l.Command {
	case "353": // NAMES: who was in the channel when we joined
		for _, n := range strings.Fields(l.Last()) {
			if strings.TrimLeft(n, "@+%~&") == "seipbot" {
				h.ledger.BotIn(true)
			}
		}
	case "JOIN":
		if l.Nick == "seipbot" {
			h.ledger.BotIn(true)
		}
	case "PART", "QUIT", "KICK":
		if l.Nick == "seipbot" || (l.Command == "KICK" && l.Param(1) == "seipbot") {
			h.ledger.BotIn(false)
		}
	case "PONG":
		if ch := h.pongs[l.Last()]; ch != nil {
			close(ch)
			delete(h.pongs, l.Last())
		}
	case "PRIVMSG":
		if l.Nick == "seipbot" {
			h.ledger.Answer(l.Param(1))
		}
	}
}

func command(n int) string { return "seipbot: echo " + strconv.Itoa(n) }

// say says command n without waiting for anything.
func (h *human) say(n int) {
	h.ledger.Sent(n)
	h.Raw("PRIVMSG #test :" + command(n))
}

// send says command n and counts it acknowledged if the bot was in the
// channel before it and the server confirms it with a PONG while the bot
// is still there.
func (h *human) send(t *testing.T, n int) {
	t.Helper()
	token := "ack-" + strconv.Itoa(n)
	ch := make(chan struct{})
	h.mu.Lock()
	h.pongs[token] = ch
	h.mu.Unlock()
	h.ledger.Say(t, n, func() error {
		if err := h.Raw("PRIVMSG #test :" + command(n)); err != nil {
			return err
		}
		return h.Raw("PING :" + token)
	}, ch, "PONG")
}

// reconnect joins #test again on the restarted server.
func (h *human) reconnect() {
	h.mu.Lock()
	h.pongs = map[string]chan struct{}{}
	h.mu.Unlock()
	h.ledger.Reconnected()
	h.Connect()
}

// last asks the bot for a last answer and waits for it.
func (h *human) last(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	h.Raw("PRIVMSG #test :seipbot: echo 0 end")
	for {
		r, err := h.Next(ctx)
		if err != nil {
			t.Fatalf("the bot did not answer the last command: %v", err)
		}
		if r.Text == "ack 0 end" {
			return
		}
		if !strings.HasPrefix(r.Text, "ack ") {
			t.Errorf("unexpected message from the bot: %+v", r)
		}
	}
}

// TestShutdownDeliversRepliesInHand stops the bot while it is still working
// on a command: the bot drains its outbox before closing its adapters, so
// the adapter must stay connected until Close for the reply to go out.
func TestShutdownDeliversRepliesInHand(t *testing.T) {
	srv := irctest.Start(t, irctest.Options{})
	h := newHuman(t, srv.Addr)
	a, err := New(testOptions(srv.Addr))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Options{Name: "seipbot"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(adaptertest.AckPlugin(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	b.AddAdapter(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer cancel()
	for !h.ledger.Present() {
		time.Sleep(20 * time.Millisecond)
	}
	ch := make(chan struct{})
	h.mu.Lock()
	h.pongs["last"] = ch
	h.mu.Unlock()
	h.Raw("PRIVMSG #test :" + command(1))
	h.Raw("PING :last")
	<-ch
	time.Sleep(100 * time.Millisecond) // the bot is inside the handler now
	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("bot stopped with an error: %v", err)
		}
	case <-time.After(adaptertest.Timeout):
		t.Fatal("the bot did not stop")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the bot took %s to stop: it waited out its drain timeout", d)
	}
	wait, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	r, err := h.Next(wait)
	if err != nil || r.Text != "ack 1" {
		t.Errorf("after the shutdown the human received %+v, %v; want the reply in hand, \"ack 1\"", r, err)
	}
}
