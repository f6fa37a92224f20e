package jobs_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/jobs"
	jobsplugin "github.com/seipbot/seipbot/plugins/jobs"
	"github.com/seipbot/seipbot/store/memory"
)

// admins grants every permission to the listed users.
type admins map[string]bool

func (a admins) Authorize(_ context.Context, m *bot.Message) error {
	if m.Command.Permission == jobsplugin.CancelAny && !a[m.User.ID] {
		return bot.Denied("no")
	}
	return nil
}

func TestJobCommands(t *testing.T) {
	st := memory.New()
	out := bot.NewOutbox(st, nil, bot.Backoff{})
	m, err := jobs.New(jobs.Options{Store: st, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	var j jobs.Job
	for range 100 {
		j, err = m.Start(ctx, out, jobs.Spec{Title: "scan ports 127.0.0.1", Owner: bot.User{ID: "test:alice", Name: "alice"}, Adapter: "test", Room: "#soc"},
			func(ctx context.Context, _ func(string)) (string, error) { <-ctx.Done(); return "", ctx.Err() })
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &jobsplugin.Plugin{Jobs: m, Authorizer: admins{"test:carol": true}}
	opts := bot.Options{Prefix: "!", Authorizer: admins{"test:carol": true}}
	tests := []struct {
		msg  *bot.Message
		want string
	}{
		{bottest.InRoom("#soc", "bob", "!jobs"), `^Jobs:\n  ` + j.ID + `  running .* alice  scan ports 127\.0\.0\.1$`},
		{bottest.InRoom("#other", "bob", "!jobs"), `^No jobs here\.$`},
		{bottest.InRoom("#other", "bob", "!job show "+j.ID), `^There is no job "` + j.ID + `" here`},
		{bottest.DM("alice", "!job show "+j.ID), `^Job ` + j.ID + ` \(scan ports 127\.0\.0\.1\) is running, started`},
		{bottest.InRoom("#soc", "bob", "!job cancel "+j.ID), `^Job ` + j.ID + ` is alice's; only they or someone with jobs\.cancel\.any can cancel it\.$`},
		{bottest.InRoom("#soc", "carol", "!job cancel "+j.ID), `^Cancelling job ` + j.ID},
		{bottest.InRoom("#soc", "bob", "!job cancel nope"), `^There is no job "nope"`},
	}
	for _, tt := range tests {
		got := bottest.Run(t, opts, []bot.Plugin{p}, tt.msg)
		if len(got) == 0 || !regexp.MustCompile(tt.want).MatchString(got[0].Text) {
			t.Errorf("%q answered %+v, want %s", tt.msg.Text, got, tt.want)
		}
	}
	for range 100 {
		if got, _ := m.Get(ctx, j.ID); got.State == jobs.Cancelled {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the job was not cancelled")
}
