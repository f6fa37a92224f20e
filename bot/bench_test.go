package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/seipbot/seipbot/audit"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/sealed"
)

// feeder plays n messages from a fixed mix into the bot and discards what
// it says, so a benchmark measures the engine alone.
type feeder struct {
	msgs []*bot.Message
	n    int
}

func (f *feeder) Name() string { return "bench" }
func (f *feeder) Run(ctx context.Context, in bot.Inbox) error {
	for i := range f.n {
		m := *f.msgs[i%len(f.msgs)]
		in.Receive(ctx, &m)
	}
	return nil
}
func (f *feeder) Send(context.Context, bot.Response) error { return nil }

// benchPlugin has the shape of the end-to-end benchmark's configuration: 99
// commands and 100 case-insensitive, word-bounded hear patterns.
type benchPlugin struct{}

func (benchPlugin) Name() string { return "bench" }
func (benchPlugin) Register(r *bot.Registry) error {
	reply := bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
		return w.Reply(ctx, "ok")
	})
	r.Command(bot.Command{Words: "ping", Handler: reply})
	for i := range 98 {
		r.Command(bot.Command{Words: fmt.Sprintf("runbook svc%d", i), Handler: reply})
	}
	for i := range 50 {
		r.Hear(bot.Hear{Name: fmt.Sprintf("inc%d", i), Pattern: fmt.Sprintf(`(?i)\binc-%d:(\d+)\b`, i), Handler: reply})
		r.Hear(bot.Hear{Name: fmt.Sprintf("svc%d", i), Pattern: fmt.Sprintf(`(?i)https?://svc-%d\.example\.com/(\S+)`, i), Handler: reply})
	}
	return nil
}

func BenchmarkDispatch(b *testing.B) { benchDispatch(b, bot.Options{}) }

// BenchmarkDispatchAudited is BenchmarkDispatch with every command and hear
// recorded in a sealed bolt audit log, closed (so every record stored)
// before the clock stops.
func BenchmarkDispatchAudited(b *testing.B) {
	k, err := sealed.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	kr, err := sealed.ParseKeyring(k)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st := sealed.New(raw, kr)
	defer st.Close()
	l, err := audit.New(st, audit.Options{Keys: kr.DeriveAll("audit")})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	benchDispatch(b, bot.Options{Audit: l.Middleware})
	l.Close()
}

func benchDispatch(b *testing.B, opts bot.Options) {
	mix := []*bot.Message{
		{Text: "seipbot ping"},
		{Text: "the deploy looks fine from here, merging after lunch"},
		{Text: "seipbot what do you think about the new dashboard"},
		{Text: "seipbot runbook svc42"},
		{Text: "see inc-7:1234 for the earlier outage"},
		{Text: "logs at https://svc-4.example.com/logs/today"},
	}
	for _, m := range mix {
		m.Room, m.User = "#bench", bot.User{ID: "bench:u", Name: "u"}
	}
	bb, err := bot.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := bb.Use(benchPlugin{}); err != nil {
		b.Fatal(err)
	}
	bb.AddAdapter(&feeder{msgs: mix, n: b.N})
	b.ReportAllocs()
	b.ResetTimer()
	if err := bb.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}
