package audit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store"
)

// Plugin is the "audit tail" command, which shows the latest records in
// chat. It is sensitive: the log says who did what where, so only a role
// granted audit.tail sees it.
type Plugin struct {
	Log   *Log
	Store store.Store // the store the log is in
}

// Name returns "audit".
func (p *Plugin) Name() string { return "audit" }

// Register declares "audit tail".
func (p *Plugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words:      "audit tail",
		Args:       []bot.Arg{{Name: "count", Kind: bot.Int, Optional: true, Default: "10", Min: 1, Max: 50, Help: "how many records, 1 to 50"}},
		Help:       "show the latest audit records",
		Examples:   []string{"audit tail", "audit tail 30"},
		Permission: "audit.tail",
		Sensitive:  true,
		Handler:    bot.HandlerFunc(p.tail),
	})
	return nil
}

func (p *Plugin) tail(ctx context.Context, w bot.Responder, m *bot.Message) error {
	if err := p.Log.Flush(ctx); err != nil {
		return err
	}
	recs, err := Tail(ctx, p.Store, int(m.Args.Int("count")))
	if err != nil {
		return fmt.Errorf("audit tail: %w", err)
	}
	if len(recs) == 0 {
		return w.Reply(ctx, "The audit log is empty.")
	}
	var b strings.Builder
	b.WriteString("```")
	for _, r := range recs {
		fmt.Fprintf(&b, "\n#%d %s %s", r.Seq, r.Time.UTC().Format(time.DateTime), r.Kind)
		if r.Identity != "" {
			fmt.Fprintf(&b, " %s in %s:", r.Identity, r.Room)
		}
		if r.Command != "" {
			b.WriteString(" " + r.Command)
		}
		for _, a := range r.Args {
			fmt.Fprintf(&b, " %s=%q", a.Name, a.Value)
		}
		if r.Decision != "" {
			fmt.Fprintf(&b, " → %s, %s", r.Decision, r.Result)
		}
		if r.Detail != "" {
			b.WriteString(" " + r.Detail)
		}
	}
	b.WriteString("\n```")
	return w.Reply(ctx, b.String())
}
