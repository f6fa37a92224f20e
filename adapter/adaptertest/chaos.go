package adaptertest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// AckPlugin answers "echo <n>" with "ack <n>", after delay. The chaos tests
// slow it down so that replies pile up in the outbox and are still waiting
// or in flight when the server goes away.
func AckPlugin(delay time.Duration) bot.Plugin { return ackPlugin{delay} }

type ackPlugin struct{ delay time.Duration }

func (ackPlugin) Name() string { return "chaos" }

func (p ackPlugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "echo", Help: "acknowledge a numbered command",
		Args: []bot.Arg{{Name: "n", Kind: bot.Rest}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			time.Sleep(p.delay)
			return w.Reply(ctx, "ack "+m.Args.String("n"))
		}),
	})
	return nil
}

// Ledger is what the human of a chaos test knows: which numbered commands
// counted as acknowledged, and which answers arrived on which of its
// connections (its generation, counted up on every reconnect). It is safe
// for the human's reader and the sending test to use at once.
type Ledger struct {
	mu       sync.Mutex
	gen      int
	sent     int
	acked    map[int]bool
	answers  map[int][]int // command → generations its answers came in
	restarts int
	after    int  // commands acknowledged after a restart
	botIn    bool // the bot is in the room, as the human's connection shows
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{acked: map[int]bool{}, answers: map[int][]int{}}
}

// Reconnected records that the server was restarted and the human is on a
// new connection, where it has yet to see the bot.
func (l *Ledger) Reconnected() {
	l.mu.Lock()
	l.botIn = false
	l.gen++
	l.restarts++
	l.mu.Unlock()
}

// Sent records that command n was said, acknowledged or not.
func (l *Ledger) Sent(n int) {
	l.mu.Lock()
	l.sent = max(l.sent, n)
	l.mu.Unlock()
}

// BotIn records that the human saw the bot join the room (in) or leave it.
func (l *Ledger) BotIn(in bool) {
	l.mu.Lock()
	l.botIn = in
	l.mu.Unlock()
}

// Present reports whether the bot is in the room, as far as the human knows;
// a command's sender asks before saying it.
func (l *Ledger) Present() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.botIn
}

// Confirmed records that the server acknowledged command n to the human.
// It counts as acknowledged when the bot was present before it was said
// (wasPresent) and still is: then the bot was in the room when the server
// passed the command on.
func (l *Ledger) Confirmed(n int, wasPresent bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !wasPresent || !l.botIn {
		return
	}
	l.acked[n] = true
	if l.restarts > 0 {
		l.after++
	}
}

// Acked returns how many commands count as acknowledged.
func (l *Ledger) Acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// Say says command n with say, waits for the server's acknowledgement
// (acked closed) and records it: acknowledged when the bot was present
// before and after. by names the acknowledgement, for the failure message.
func (l *Ledger) Say(t *testing.T, n int, say func() error, acked <-chan struct{}, by string) {
	t.Helper()
	present := l.Present()
	l.Sent(n)
	if err := say(); err != nil {
		t.Fatalf("could not say command %d: %v", n, err)
	}
	select {
	case <-acked:
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s for command %d within 5s", by, n)
	}
	l.Confirmed(n, present)
}

// Answer records a message from the bot; anything but "ack <n>" is ignored
// and reported false.
func (l *Ledger) Answer(text string) bool {
	var n int
	if _, err := fmt.Sscanf(text, "ack %d", &n); err != nil || text != fmt.Sprintf("ack %d", n) {
		return false
	}
	l.mu.Lock()
	l.answers[n] = append(l.answers[n], l.gen)
	l.mu.Unlock()
	return true
}

// Answered reports whether every acknowledged command has an answer.
func (l *Ledger) Answered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n := range l.acked {
		if len(l.answers[n]) == 0 {
			return false
		}
	}
	return true
}

// Check fails t unless every acknowledged command was answered exactly
// once and no command at all was answered twice, with one exception the
// platforms force on us: a reply the server relayed just before it died,
// but whose confirmation never reached the bot, is rightly sent again on
// the next connection (the outbox delivers at least once, and no chat
// server confirms what it took before a crash). The outbox keeps one reply
// per room in flight, so at most one such duplicate per restart is allowed,
// and only one whose copies straddle that restart.
func (l *Ledger) Check(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost, twice []string
	straddling := 0
	for n := 1; n <= l.sent; n++ {
		got := l.answers[n]
		if l.acked[n] && len(got) == 0 {
			lost = append(lost, fmt.Sprint(n))
		}
		if len(got) == 2 && got[1] == got[0]+1 && straddling < l.restarts {
			straddling++
			t.Logf("command %d was answered again after a restart (the reply in flight when the server died)", n)
			continue
		}
		if len(got) > 1 {
			twice = append(twice, fmt.Sprintf("%d (connections %v)", n, got))
		}
	}
	for n := range l.answers {
		if n < 1 || n > l.sent {
			twice = append(twice, fmt.Sprintf("%d (never sent)", n))
		}
	}
	sort.Strings(twice)
	if len(lost) > 0 {
		t.Errorf("acknowledged commands never answered: %s", strings.Join(lost, ", "))
	}
	if len(twice) > 0 {
		t.Errorf("commands answered more than once: %s", strings.Join(twice, ", "))
	}
	if l.restarts > 0 && l.after == 0 {
		t.Errorf("no command was acknowledged after the restart: the bot never came back")
	}
	t.Logf("%d commands sent, %d acknowledged (%d after the restart), %d restarts", l.sent, len(l.acked), l.after, l.restarts)
}

// Chaos describes a chaos run against one adapter and its server: a real
// bot answers numbered commands while the server is restarted half-way.
type Chaos struct {
	// Adapter is the bot's adapter, not yet running; the same instance
	// must carry the bot through the restart.
	Adapter bot.Adapter
	Backoff bot.Backoff
	// Ledger is where the human records what it learns.
	Ledger *Ledger
	// Send says command n and records it in Ledger, acknowledged or not.
	Send func(t *testing.T, n int)
	// Cut says command n without waiting for its acknowledgement,
	// restarts the server, calls Ledger.Reconnected and brings the human
	// back into the room.
	Cut func(t *testing.T, n int)
	// Last says "echo 0 end" and returns once "ack 0 end" arrives: the bot
	// answers one user in one room in order, so any late or repeated
	// answer has arrived by then.
	Last func(t *testing.T)
}

// Chaos run shape: commands, the one the server is cut at, their pace, and
// how long the bot takes over each, longer than the pace so that replies
// queue up in the outbox and some are waiting when the server goes.
const (
	chaosCommands = 60
	chaosCutAt    = 30
	chaosPace     = 100 * time.Millisecond
	chaosWork     = 120 * time.Millisecond
)

// RunChaos runs c: it starts the bot, sends the commands with the restart
// in the middle, and checks the ledger and that the bot, never restarted,
// has nothing left in its outbox.
func RunChaos(t *testing.T, c Chaos) {
	t.Helper()
	b, err := bot.New(bot.Options{Name: "seipbot", Outbox: bot.NewOutbox(nil, nil, c.Backoff)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(AckPlugin(chaosWork)); err != nil {
		t.Fatal(err)
	}
	b.AddAdapter(c.Adapter)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot stopped with an error: %v", err)
		}
	}()
	began := time.Now()
	for !c.Ledger.Present() {
		if time.Since(began) > Timeout {
			t.Fatal("the bot did not join the room")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for n := 1; n <= chaosCommands; n++ {
		select {
		case err := <-done:
			t.Fatalf("the bot stopped during the test (Run returned %v)", err)
		default:
		}
		if n == chaosCutAt {
			c.Cut(t, n)
			continue
		}
		c.Send(t, n)
		time.Sleep(chaosPace)
	}
	deadline := time.Now().Add(Timeout)
	for !c.Ledger.Answered() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c.Last(t)
	c.Ledger.Check(t)
	// The bot is fully back when nothing is left in its outbox. Waiting
	// for it also keeps the shutdown from cutting off the last reply's
	// confirmation, which would leave that reply pending for the whole
	// drain timeout.
	flush, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := b.Outbox().Flush(flush); err != nil {
		t.Errorf("the outbox did not drain after the restart: %v (%d pending)", err, b.Outbox().Pending())
	}
}
