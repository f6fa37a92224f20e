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
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{acked: map[int]bool{}, answers: map[int][]int{}}
}

// Reconnected records that the server was restarted and the human is on a
// new connection.
func (l *Ledger) Reconnected() {
	l.mu.Lock()
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

// Ack records that command n counts as acknowledged.
func (l *Ledger) Ack(n int) {
	l.mu.Lock()
	l.acked[n] = true
	l.mu.Unlock()
}

// Acked returns how many commands count as acknowledged.
func (l *Ledger) Acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
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
func (l *Ledger) Check(t *testing.T) {
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
	t.Logf("%d commands sent, %d acknowledged, %d restarts", l.sent, len(l.acked), l.restarts)
}
