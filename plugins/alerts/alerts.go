// Package alerts gives a room the commands to work its alerts: "alerts"
// lists the open ones, "ack <id> [note]" acknowledges one (which stops its
// escalation), and "silence <matcher> for <duration>" keeps matching
// alerts out of the rooms for a while. Acknowledging and silencing change
// what others see, so they are sensitive: the access policy must grant
// alerts.ack and alerts.silence.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
)

// maxSilence bounds a silence, so a typo cannot mute a source for a year.
const maxSilence = 30 * 24 * time.Hour

// listed is how many open alerts "alerts" shows.
const listed = 20

// Plugin is the alerts plugin.
type Plugin struct {
	m   *alert.Manager
	now func() time.Time
}

// New returns the plugin over m.
func New(m *alert.Manager, now func() time.Time) *Plugin {
	if now == nil {
		now = time.Now
	}
	return &Plugin{m: m, now: now}
}

// Name returns "alerts".
func (p *Plugin) Name() string { return "alerts" }

// Register declares the commands.
func (p *Plugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "alerts", Help: "list open alerts", Permission: "alerts.list",
		Handler: bot.HandlerFunc(p.list),
	})
	r.Command(bot.Command{
		Words: "ack",
		Args: []bot.Arg{
			{Name: "id", Kind: bot.String, Help: "the alert's id, as its message shows it"},
			{Name: "note", Kind: bot.Rest, Optional: true, Help: "what you are doing about it"},
		},
		Help: "acknowledge an alert, which stops its escalation", Examples: []string{"ack k7q2mz looking into it"},
		Permission: "alerts.ack", Sensitive: true, Handler: bot.HandlerFunc(p.ack),
	})
	r.Command(bot.Command{
		Words: "silence",
		Args: []bot.Arg{
			{Name: "matcher", Kind: bot.String, Help: "an alert id, or key=value[,key=~regexp…] over labels, source, severity, repository"},
			{Name: "for", Kind: bot.Enum, Values: []string{"for"}},
			{Name: "duration", Kind: bot.Duration},
		},
		Help:       "keep matching alerts out of the rooms for a while",
		Examples:   []string{"silence alertname=DiskFull,instance=db-2 for 2h", "silence k7q2mz for 30m"},
		Permission: "alerts.silence", Sensitive: true, Handler: bot.HandlerFunc(p.silence),
	})
	return nil
}

func (p *Plugin) list(ctx context.Context, w bot.Responder, _ *bot.Message) error {
	open := p.m.Open()
	if len(open) == 0 {
		return w.Reply(ctx, "No open alerts.")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Open alerts (%d):", len(open))
	for i, r := range open {
		if i == listed {
			fmt.Fprintf(&b, "\n…and %d more", len(open)-listed)
			break
		}
		fmt.Fprintf(&b, "\n  %s  [%s] %s · %s · %s ago", r.ID, strings.ToUpper(r.Alert.Severity.String()), r.Alert.Title,
			r.Alert.Source, p.now().Sub(r.FirstSeen).Round(time.Minute))
		if r.Count > 1 {
			fmt.Fprintf(&b, " · seen %d times", r.Count)
		}
		if r.AckedBy != "" {
			fmt.Fprintf(&b, " · acked by %s", r.AckedBy)
		}
	}
	return w.Reply(ctx, b.String())
}

func (p *Plugin) ack(ctx context.Context, w bot.Responder, m *bot.Message) error {
	id := m.Args.String("id")
	r, err := p.m.Ack(ctx, id, m.User.Name, strings.TrimSpace(m.Args.String("note")))
	if errors.Is(err, alert.ErrNoAlert) {
		return bot.Userf("There is no open alert %q; \"alerts\" lists them.", id)
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%s acknowledged alert %s: %s", m.User.Name, r.ID, r.Alert.Title)
	if r.AckNote != "" {
		msg += " (" + r.AckNote + ")"
	}
	return w.Reply(ctx, msg+".")
}

func (p *Plugin) silence(ctx context.Context, w bot.Responder, m *bot.Message) error {
	d := m.Args.Duration("duration")
	if d <= 0 || d > maxSilence {
		return bot.Userf("A silence lasts from 1s to 30d; %s is outside that.", m.Args.String("duration"))
	}
	s, err := p.m.Silence(ctx, m.Args.String("matcher"), d, m.User.Name)
	var bad *alert.MatcherError
	if errors.As(err, &bad) {
		return bot.Userf("%s.", bad.Msg)
	}
	if err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Silenced %s until %s (silence %s).", s.Matchers, s.Until.UTC().Format("15:04 MST Mon 2 Jan"), s.ID))
}
