package remind_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/plugins/remind"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store/memory"
)

var now = time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)

func TestRemind(t *testing.T) {
	st := memory.New()
	clock := func() time.Time { return now }
	sched, err := schedule.New(st, schedule.Options{Location: time.UTC, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	out := bot.NewOutbox(st, nil, bot.Backoff{})
	p := remind.New(sched, out, st, time.UTC, clock)
	opts := bot.Options{Outbox: out, Now: clock}

	tests := []struct {
		user, in string
		want     string // a regular expression
	}{
		{"alice", "remind me in 10m to check the WAF", `^OK, I'll remind you at 16:10 UTC Tue 10 Mar \(in 10m0s\)\. Cancel with "remind cancel (\w{6})"\.$`},
		{"alice", "remind me at 15:30 to rotate keys", `at 15:30 UTC Wed 11 Mar \(in 23h30m0s\)`},
		{"alice", "remind me at 17:05 rotate keys", `at 17:05 UTC Tue 10 Mar \(in 1h5m0s\)`},
		{"alice", "remind me in 2d to renew the cert", `at 16:00 UTC Thu 12 Mar \(in 48h0m0s\)`},
		{"alice", "remind me in soon to x", `^"soon" is not a duration`},
		{"alice", "remind me at 25:00 to x", `^25:00 is not a time of day`},
		{"alice", "remind me tomorrow", `^Say "remind me in 10m to …"`},
		{"alice", "remind list", `(?s)^Your reminders \(4\):\n  \w{6}  16:10 UTC Tue 10 Mar  check the WAF\n.*17:05.*rotate keys.*15:30.*rotate keys.*renew the cert$`},
		{"bob", "remind list", `^You have no reminders\.$`},
		{"alice", "remind zone Mars/Olympus", `^"Mars/Olympus" is not a time zone`},
		{"alice", "remind zone Europe/Berlin", `^Your reminders now use Europe/Berlin \(it is 17:00 there\)\.$`},
		{"alice", "remind me at 18:00 to call home", `at 18:00 CET Tue 10 Mar \(in 1h0m0s\)`},
	}
	for _, tt := range tests {
		got := bottest.Run(t, opts, []bot.Plugin{p}, bottest.DM(tt.user, tt.in))
		if len(got) != 1 || !regexp.MustCompile(tt.want).MatchString(got[0].Text) {
			t.Errorf("%s: %q answered %q, want match for %s", tt.user, tt.in, texts(got), tt.want)
		}
	}

	// Cancelling: only your own reminders.
	es, err := sched.List(context.Background(), "remind")
	if err != nil || len(es) != 5 {
		t.Fatalf("%d reminders stored (%v), want 5", len(es), err)
	}
	id := es[0].ID
	got := bottest.Run(t, opts, []bot.Plugin{p}, bottest.DM("bob", "remind cancel "+id))
	if !strings.HasPrefix(got[0].Text, "You have no reminder") {
		t.Errorf("bob cancelled alice's reminder: %q", got[0].Text)
	}
	got = bottest.Run(t, opts, []bot.Plugin{p}, bottest.DM("alice", "remind cancel "+strings.ToUpper(id)))
	if got[0].Text != "Cancelled reminder "+id+"." {
		t.Errorf("cancel answered %q", got[0].Text)
	}
	if es, _ := sched.List(context.Background(), "remind"); len(es) != 4 {
		t.Errorf("%d reminders left, want 4", len(es))
	}
}

func texts(rs []bot.Response) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Text)
	}
	return out
}
