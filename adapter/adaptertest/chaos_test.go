package adaptertest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// recordingT keeps what a check reports as errors instead of failing.
type recordingT struct {
	testing.TB
	errs []string
}

func (r *recordingT) Helper() {}

func (r *recordingT) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingT) Logf(string, ...any) {}

// TestLedger checks the chaos tests' bookkeeping on made-up histories, so a
// chaos run that passes is known to be able to fail.
func TestLedger(t *testing.T) {
	tests := []struct {
		name string
		play func(l *adaptertest.Ledger)
		want []string // substrings of the errors expected; none for a pass
	}{
		{"all answered once", func(l *adaptertest.Ledger) {
			l.BotIn(true)
			for n := 1; n <= 3; n++ {
				l.Sent(n)
				l.Confirmed(n, true)
				l.Answer(fmt.Sprintf("ack %d", n))
			}
		}, nil},
		{"an acknowledged command lost", func(l *adaptertest.Ledger) {
			l.BotIn(true)
			l.Sent(1)
			l.Confirmed(1, true)
		}, []string{"never answered: 1"}},
		{"sent while the bot was away", func(l *adaptertest.Ledger) {
			l.Sent(1)
			l.Confirmed(1, false)
			l.BotIn(true)
			l.Sent(2)
			l.Confirmed(2, true)
			l.Answer("ack 2")
		}, nil},
		{"answered twice on one connection", func(l *adaptertest.Ledger) {
			l.BotIn(true)
			l.Sent(1)
			l.Confirmed(1, true)
			l.Answer("ack 1")
			l.Answer("ack 1")
		}, []string{"more than once: 1"}},
		{"the reply in flight at a restart, again after it", func(l *adaptertest.Ledger) {
			l.BotIn(true)
			l.Sent(1)
			l.Confirmed(1, true)
			l.Answer("ack 1")
			l.Reconnected()
			l.Answer("ack 1")
			l.BotIn(true)
			l.Sent(2)
			l.Confirmed(2, true)
			l.Answer("ack 2")
		}, nil},
		{"two repeated across one restart", func(l *adaptertest.Ledger) {
			l.BotIn(true)
			for n := 1; n <= 2; n++ {
				l.Sent(n)
				l.Confirmed(n, true)
				l.Answer(fmt.Sprintf("ack %d", n))
			}
			l.Reconnected()
			l.Answer("ack 1")
			l.Answer("ack 2")
			l.BotIn(true)
			l.Sent(3)
			l.Confirmed(3, true)
			l.Answer("ack 3")
		}, []string{"more than once: 2"}},
		{"never back after the restart", func(l *adaptertest.Ledger) {
			l.BotIn(true)
			l.Sent(1)
			l.Confirmed(1, true)
			l.Answer("ack 1")
			l.Reconnected()
			l.Sent(2)
			l.Confirmed(2, true) // the bot was not seen again
		}, []string{"never came back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := adaptertest.NewLedger()
			tt.play(l)
			r := &recordingT{TB: t}
			l.Check(r)
			if len(r.errs) != len(tt.want) {
				t.Fatalf("Check reported %q; want %d errors matching %q", r.errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(r.errs[i], w) {
					t.Errorf("error %q does not mention %q", r.errs[i], w)
				}
			}
		})
	}
}
