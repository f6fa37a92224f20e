package irc

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
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
	srv := startNgircd(t, false, "")
	g := newGate(t, srv.addr)
	h := newHuman(t, srv.addr)

	opts := testOptions(g.addr())
	opts.PaceEvery = 10 * time.Millisecond
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Options{
		Name:   "seipbot",
		Logger: opts.Logger,
		Outbox: bot.NewOutbox(nil, nil, bot.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Slower than the pace of commands, so replies queue up in the outbox
	// and some are waiting when the server dies.
	if err := b.Use(adaptertest.AckPlugin(120 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	b.AddAdapter(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot stopped with an error: %v", err)
		}
	}()
	h.awaitBot(t)

	const total, restartAt = 60, 30
	for n := 1; n <= total; n++ {
		select {
		case err := <-done:
			t.Fatalf("the bot stopped during the test: %v", err)
		default:
		}
		if n == restartAt {
			// Cut the server off between a command and its PING: this
			// command is in flight, neither confirmed nor known lost.
			h.say(n)
			g.set(true)
			srv.stop()
			srv.start(t)
			h.reconnect()
			g.set(false)
			continue
		}
		h.send(t, n)
		time.Sleep(100 * time.Millisecond)
	}

	deadline := time.Now().Add(adaptertest.Timeout)
	for !h.ledger.Answered() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// A last round trip: the bot answers one user in one room in order,
	// so any late or repeated answer arrives before this one.
	h.sync(t)
	h.ledger.Check(t)
	// The bot is fully back when nothing is left in its outbox: a reply
	// stuck behind the dead connection would show here. (It also keeps
	// the shutdown from cutting off the last reply's confirmation, which
	// would leave it pending for the whole drain timeout.)
	flush, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := b.Outbox().Flush(flush); err != nil {
		t.Errorf("the outbox did not drain after the restart: %v (%d pending)", err, b.Outbox().Pending())
	}
	if h.afterRestart == 0 {
		t.Errorf("no command was acknowledged after the restart: the bot never came back")
	}
}

// human is the chaos test's IRC user: the shared test client, plus what it
// learns from the lines it reads.
type human struct {
	*client
	ledger *adaptertest.Ledger

	mu           sync.Mutex
	botIn        bool // the bot is in #test, as far as the current connection showed
	pongs        map[string]chan struct{}
	afterRestart int // commands acknowledged after the restart
	restarted    bool
}

func newHuman(t *testing.T, addr string) *human {
	h := &human{ledger: adaptertest.NewLedger(), pongs: map[string]chan struct{}{}}
	h.client = newObservedClient(t, addr, "alice", "seipbot", h.observe)
	return h
}

// observe follows the bot's presence in #test and the server's PONGs, on
// the current connection only: a dead connection's reader may still be
// draining old lines.
func (h *human) observe(c *client, conn net.Conn, l line) {
	c.mu.Lock()
	current := conn == c.conn
	c.mu.Unlock()
	if !current {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch l.command {
	case "353": // NAMES: who was in the channel when we joined
		for _, n := range strings.Fields(l.param(len(l.params) - 1)) {
			if strings.TrimLeft(n, "@+%~&") == "seipbot" {
				h.botIn = true
			}
		}
	case "JOIN":
		if l.nick() == "seipbot" {
			h.botIn = true
		}
	case "PART", "QUIT", "KICK":
		if l.nick() == "seipbot" || (l.command == "KICK" && l.param(1) == "seipbot") {
			h.botIn = false
		}
	case "PONG":
		if ch := h.pongs[l.param(len(l.params)-1)]; ch != nil {
			close(ch)
			delete(h.pongs, l.param(len(l.params)-1))
		}
	case "PRIVMSG":
		if l.nick() == "seipbot" {
			h.ledger.Answer(l.param(1))
		}
	}
}

// say says command n without waiting for anything.
func (h *human) say(n int) {
	h.ledger.Sent(n)
	h.write("PRIVMSG #test :seipbot: echo " + strconv.Itoa(n))
}

// send says command n and counts it acknowledged if the bot was in the
// channel before it and the server confirms it with a PONG while the bot
// is still there.
func (h *human) send(t *testing.T, n int) {
	t.Helper()
	token := "ack-" + strconv.Itoa(n)
	ch := make(chan struct{})
	h.mu.Lock()
	present := h.botIn
	h.pongs[token] = ch
	h.mu.Unlock()
	h.say(n)
	h.write("PING :" + token)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("the server did not answer the PING after command %d", n)
	}
	h.mu.Lock()
	acked := present && h.botIn
	if acked && h.restarted {
		h.afterRestart++
	}
	h.mu.Unlock()
	if acked {
		h.ledger.Ack(n)
	}
}

// reconnect joins #test again on the restarted server.
func (h *human) reconnect() {
	h.mu.Lock()
	h.botIn, h.restarted = false, true
	h.pongs = map[string]chan struct{}{}
	h.mu.Unlock()
	h.ledger.Reconnected()
	h.connect()
}

// awaitBot waits until the bot is in #test.
func (h *human) awaitBot(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(adaptertest.Timeout)
	for {
		h.mu.Lock()
		in := h.botIn
		h.mu.Unlock()
		if in {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the bot did not join #test")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sync asks the bot for a last answer and waits for it.
func (h *human) sync(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	h.write("PRIVMSG #test :seipbot: echo end")
	for {
		r, err := h.Next(ctx)
		if err != nil {
			t.Fatalf("the bot did not answer the last command: %v", err)
		}
		if r.Text == "ack end" {
			return
		}
		if !strings.HasPrefix(r.Text, "ack ") {
			t.Errorf("unexpected message from the bot: %s", fmt.Sprint(r))
		}
	}
}
