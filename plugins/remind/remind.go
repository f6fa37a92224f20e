// Package remind lets people ask the bot to remind them of something later:
// "remind me in 10m to …", "remind me at 15:30 to …". Reminders are stored
// (encrypted, like everything the bot stores) before the bot confirms them,
// and delivered through the durable outbox, so neither a restart nor a chat
// outage loses one.
package remind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store"
)

// kind is the scheduler entry kind of a reminder.
const kind = "remind"

// DurableSender is the part of the outbox reminders are delivered through.
type DurableSender interface {
	SendDurable(ctx context.Context, id string, r bot.Response) error
}

// Plugin is the reminders plugin.
type Plugin struct {
	sched *schedule.Scheduler
	out   DurableSender
	st    store.Store
	loc   *time.Location
	now   func() time.Time
}

// New returns the plugin and registers its delivery with sched; loc is the
// zone for users who have not chosen their own.
func New(sched *schedule.Scheduler, out DurableSender, st store.Store, loc *time.Location, now func() time.Time) *Plugin {
	if now == nil {
		now = time.Now
	}
	p := &Plugin{sched: sched, out: out, st: st, loc: loc, now: now}
	sched.Handle(kind, p.deliver)
	return p
}

// reminder is what a scheduler entry of kind "remind" carries.
type reminder struct {
	User     string `json:"user"`
	UserName string `json:"user_name"`
	Adapter  string `json:"adapter"`
	Room     string `json:"room"`
	Direct   bool   `json:"direct"`
	Thread   string `json:"thread"`
	Text     string `json:"text"`
}

// Name returns "remind".
func (p *Plugin) Name() string { return "remind" }

// Register declares the reminder commands. Their permissions are
// remind.set, remind.list, remind.cancel and remind.zone ("remind.*" for
// all): reminders are stored and delivered later, so they are not for
// everyone who can reach the bot.
func (p *Plugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words:      "remind me",
		Permission: "remind.set",
		Args:       []bot.Arg{{Name: "when", Kind: bot.Rest, Help: "in <duration> to <what>, or at <HH:MM> to <what>"}},
		Help:       "set a reminder",
		Examples:   []string{"remind me in 10m to check the WAF logs", "remind me at 15:30 to rotate the API key"},
		Handler:    bot.HandlerFunc(p.set),
	})
	r.Command(bot.Command{Words: "remind list", Permission: "remind.list", Help: "list your reminders", Handler: bot.HandlerFunc(p.list)})
	r.Command(bot.Command{
		Words:      "remind cancel",
		Permission: "remind.cancel",
		Args:       []bot.Arg{{Name: "id", Kind: bot.String}},
		Help:       "cancel one of your reminders",
		Handler:    bot.HandlerFunc(p.cancel),
	})
	r.Command(bot.Command{
		Words:      "remind zone",
		Permission: "remind.zone",
		Args:       []bot.Arg{{Name: "zone", Kind: bot.String, Help: "an IANA zone such as Europe/Berlin"}},
		Help:       "set the time zone your \"at\" reminders use",
		Examples:   []string{"remind zone America/New_York"},
		Handler:    bot.HandlerFunc(p.setZone),
	})
	return nil
}

var (
	inForm = regexp.MustCompile(`(?is)^in\s+(\S+)\s+(?:to\s+)?(.+)$`)
	atForm = regexp.MustCompile(`(?is)^at\s+(\d{1,2}):(\d{2})\s+(?:to\s+)?(.+)$`)
)

var errForm = bot.Userf(`Say "remind me in 10m to …" or "remind me at 15:30 to …".`)

// when works out the due time and the text of a reminder request.
func (p *Plugin) when(ctx context.Context, user, req string) (time.Time, string, error) {
	now := p.now()
	if m := inForm.FindStringSubmatch(req); m != nil {
		d, err := bot.ParseDuration(m[1])
		if err != nil || d <= 0 {
			return time.Time{}, "", bot.Userf("%q is not a duration; use something like 90s, 10m, 2h or 1d.", m[1])
		}
		return now.Add(d), strings.TrimSpace(m[2]), nil
	}
	if m := atForm.FindStringSubmatch(req); m != nil {
		var h, min int
		fmt.Sscan(m[1], &h)
		fmt.Sscan(m[2], &min)
		if h > 23 || min > 59 {
			return time.Time{}, "", bot.Userf("%s:%s is not a time of day; use 24-hour HH:MM such as 15:30.", m[1], m[2])
		}
		loc := p.zone(ctx, user)
		local := now.In(loc)
		at := time.Date(local.Year(), local.Month(), local.Day(), h, min, 0, 0, loc)
		if !at.After(now) {
			at = at.AddDate(0, 0, 1)
		}
		return at, strings.TrimSpace(m[3]), nil
	}
	return time.Time{}, "", errForm
}

func (p *Plugin) set(ctx context.Context, w bot.Responder, m *bot.Message) error {
	at, text, err := p.when(ctx, m.User.ID, m.Args.String("when"))
	if err != nil {
		return err
	}
	payload, err := json.Marshal(reminder{
		User: m.User.ID, UserName: m.User.Name, Adapter: m.Adapter,
		Room: m.Room, Direct: m.Direct, Thread: m.Thread, Text: text,
	})
	if err != nil {
		return err
	}
	e, err := p.sched.At(ctx, at, kind, payload)
	if err != nil {
		return fmt.Errorf("remind: schedule: %w", err)
	}
	local := at.In(p.zone(ctx, m.User.ID))
	return w.Reply(ctx, fmt.Sprintf("OK, I'll remind you at %s (in %s). Cancel with \"remind cancel %s\".",
		local.Format("15:04 MST Mon 2 Jan"), at.Sub(p.now()).Round(time.Second), e.ID))
}

// deliver sends a due reminder. The outbox item takes the entry's id, so a
// retry after a crash between storing it and removing the entry replaces
// rather than duplicates it.
func (p *Plugin) deliver(ctx context.Context, e schedule.Entry, late bool) error {
	var r reminder
	if err := json.Unmarshal(e.Payload, &r); err != nil {
		return fmt.Errorf("remind: entry %s: %w", e.ID, err)
	}
	text := "Reminder: " + r.Text
	if !r.Direct {
		text = "Reminder for " + r.UserName + ": " + r.Text
	}
	if late {
		text += fmt.Sprintf(" (late: it was due at %s)", e.At.In(p.zone(ctx, r.User)).Format("15:04 MST Mon 2 Jan"))
	}
	resp := bot.Response{Adapter: r.Adapter, Room: r.Room, Thread: r.Thread, Text: text}
	if r.Direct {
		resp.Direct, resp.User = true, r.User
	}
	return p.out.SendDurable(ctx, "remind-"+e.ID, resp)
}

// mine returns the user's pending reminders.
func (p *Plugin) mine(ctx context.Context, user string) ([]schedule.Entry, []reminder, error) {
	all, err := p.sched.List(ctx, kind)
	if err != nil {
		return nil, nil, err
	}
	var es []schedule.Entry
	var rs []reminder
	for _, e := range all {
		var r reminder
		if json.Unmarshal(e.Payload, &r) == nil && r.User == user {
			es, rs = append(es, e), append(rs, r)
		}
	}
	return es, rs, nil
}

func (p *Plugin) list(ctx context.Context, w bot.Responder, m *bot.Message) error {
	es, rs, err := p.mine(ctx, m.User.ID)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return w.Reply(ctx, "You have no reminders.")
	}
	loc := p.zone(ctx, m.User.ID)
	var b strings.Builder
	fmt.Fprintf(&b, "Your reminders (%d):", len(es))
	for i, e := range es {
		fmt.Fprintf(&b, "\n  %s  %s  %s", e.ID, e.At.In(loc).Format("15:04 MST Mon 2 Jan"), rs[i].Text)
	}
	return w.Reply(ctx, b.String())
}

func (p *Plugin) cancel(ctx context.Context, w bot.Responder, m *bot.Message) error {
	id := m.Args.String("id")
	es, _, err := p.mine(ctx, m.User.ID)
	if err != nil {
		return err
	}
	for _, e := range es {
		if strings.EqualFold(e.ID, id) {
			if err := p.sched.Cancel(ctx, e.ID); err != nil && !errors.Is(err, schedule.ErrNoEntry) {
				return err
			}
			return w.Reply(ctx, fmt.Sprintf("Cancelled reminder %s.", e.ID))
		}
	}
	return bot.Userf("You have no reminder %q; \"remind list\" shows yours.", id)
}

func zoneKey(user string) string { return "remind/zone/" + user }

// zone returns the user's chosen zone, or the bot's.
func (p *Plugin) zone(ctx context.Context, user string) *time.Location {
	if v, err := p.st.Get(ctx, zoneKey(user)); err == nil {
		if loc, err := time.LoadLocation(string(v)); err == nil {
			return loc
		}
	}
	return p.loc
}

func (p *Plugin) setZone(ctx context.Context, w bot.Responder, m *bot.Message) error {
	name := m.Args.String("zone")
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return bot.Userf("%q is not a time zone; use an IANA name such as Europe/Berlin.", name)
	}
	if err := p.st.Put(ctx, zoneKey(m.User.ID), []byte(loc.String()), 0); err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Your reminders now use %s (it is %s there).", loc, p.now().In(loc).Format("15:04")))
}
