package secops

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/scan/health"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/scope"
)

const (
	monitorPrefix = "secops/monitor/"
	monitorKind   = "secops-monitor"
	// checkTimeout bounds one check; a monitor checking more often than
	// this waits less.
	checkTimeout = 10 * time.Second
)

// MonitorOptions tune health monitors.
type MonitorOptions struct {
	// Failures is how many failed checks in a row make a monitor down;
	// zero means 3.
	Failures int
	// History is how many checks a monitor keeps for its statistics;
	// zero means 100.
	History int
	// MinEvery is the shortest interval a monitor may check at.
	MinEvery time.Duration
}

// monitorName is a name short enough to type and safe in any output.
var monitorName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

func (p *Plugin) registerMonitors(r *bot.Registry) {
	name := bot.Arg{Name: "name", Kind: bot.String, Help: "the monitor's name in this room"}
	r.Command(bot.Command{
		Words: "monitor add",
		Args: []bot.Arg{name,
			{Name: "target", Kind: bot.String, Help: "an http(s) URL or host:port in scope"},
			{Name: "every", Kind: bot.Duration, Flag: true, Default: "1m", Help: "how often to check"},
			{Name: "expect", Kind: bot.Int, Flag: true, Min: 100, Max: 599, Help: "the HTTP status wanted; any below 400 by default"},
			{Name: "contains", Kind: bot.String, Flag: true, Help: "text the page must hold (quote it)"},
		},
		Help:       "check a URL or port regularly and say here when it goes down and comes back",
		Examples:   []string{"monitor add api https://api.corp.example.com/health --every 30s --expect 200 --contains \"ok\"", "monitor add ssh 10.20.0.5:22"},
		Permission: "monitor.manage", Sensitive: true, Handler: bot.HandlerFunc(p.addMonitor),
	})
	r.Command(bot.Command{Words: "monitor list", Help: "list this room's monitors", Permission: "monitor.view", Handler: bot.HandlerFunc(p.listMonitors)})
	r.Command(bot.Command{
		Words: "monitor remove", Args: []bot.Arg{name}, Help: "stop a monitor",
		Permission: "monitor.manage", Sensitive: true, Handler: bot.HandlerFunc(p.removeMonitor),
	})
	// "status" alone is the bot's own status; a monitor's is "monitor
	// status".
	r.Command(bot.Command{
		Words: "monitor status", Args: []bot.Arg{{Name: "name", Kind: bot.String, Optional: true}},
		Help:       "show monitors' state, uptime and response times over their recent checks",
		Permission: "monitor.view", Handler: bot.HandlerFunc(p.monitorStatus),
	})
}

// monitor is a stored monitor with its state; scheduler entries carry its
// id.
type monitor struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Target   string        `json:"target"`
	Every    time.Duration `json:"every"`
	Expect   int           `json:"expect,omitempty"`
	Contains string        `json:"contains,omitempty"`
	place
	State health.State `json:"state"`
}

// target checks the monitor's target against the room's scope and returns
// what to connect to.
func (p *Plugin) target(ctx context.Context, mon *monitor) (health.Target, error) {
	if strings.Contains(mon.Target, "://") {
		u, err := url.Parse(mon.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			return health.Target{}, bot.Userf("%q is not a web address; give one such as https://intranet.example.com/health.", mon.Target)
		}
		o, err := p.approve(ctx, mon.Room, u.Hostname())
		return health.Target{URL: u, Addr: o.Addr}, err
	}
	if mon.Expect != 0 || mon.Contains != "" {
		return health.Target{}, bot.Userf("--expect and --contains need an http(s) URL, not host:port.")
	}
	host, port, err := splitHostPort(mon.Target)
	if err != nil {
		return health.Target{}, err
	}
	o, err := p.approve(ctx, mon.Room, host)
	return health.Target{Port: port, Addr: o.Addr}, err
}

func (p *Plugin) monitors(ctx context.Context, room string) ([]monitor, error) {
	var out []monitor
	err := p.o.Store.Scan(ctx, monitorPrefix, func(_ string, v []byte) error {
		var mon monitor
		if json.Unmarshal(v, &mon) == nil && mon.Room == room {
			out = append(out, mon)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b monitor) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

func (p *Plugin) addMonitor(ctx context.Context, w bot.Responder, m *bot.Message) error {
	mon := monitor{
		ID: strings.ToLower(rand.Text()[:6]), Name: strings.ToLower(m.Args.String("name")), Target: m.Args.String("target"),
		Every: m.Args.Duration("every"), Expect: int(m.Args.Int("expect")), Contains: m.Args.String("contains"), place: placeOf(m),
	}
	if !monitorName.MatchString(mon.Name) {
		return bot.Userf("%q is not a monitor name; use up to 32 lower-case letters, digits, '.', '_' and '-'.", mon.Name)
	}
	if mon.Every < p.o.Monitor.MinEvery {
		return bot.Userf("Monitors check at most every %s; give a longer --every.", p.o.Monitor.MinEvery)
	}
	if _, err := p.target(ctx, &mon); err != nil {
		return userScopeError(err)
	}
	list, err := p.monitors(ctx, m.Room)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(list, func(o monitor) bool { return o.Name == mon.Name }) {
		return bot.Userf("There is already a monitor %q here; remove it first or pick another name.", mon.Name)
	}
	raw, err := json.Marshal(mon)
	if err != nil {
		return err
	}
	if err := p.o.Store.Put(ctx, monitorPrefix+mon.ID, raw, 0); err != nil {
		return err
	}
	if _, err := p.o.Sched.At(ctx, p.o.Now(), monitorKind, []byte(mon.ID)); err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Monitoring %s (%s) every %s; I'll say here when it fails %d checks in a row and when it is back.", mon.Name, mon.Target, mon.Every, p.o.Monitor.Failures))
}

func (p *Plugin) removeMonitor(ctx context.Context, w bot.Responder, m *bot.Message) error {
	mon, err := p.findMonitor(ctx, m.Room, m.Args.String("name"))
	if err != nil {
		return err
	}
	if err := p.o.Store.Delete(ctx, monitorPrefix+mon.ID); err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Monitor %s (%s) removed.", mon.Name, mon.Target))
}

func (p *Plugin) findMonitor(ctx context.Context, room, name string) (monitor, error) {
	list, err := p.monitors(ctx, room)
	if err != nil {
		return monitor{}, err
	}
	name = strings.ToLower(name)
	for _, mon := range list {
		if mon.Name == name {
			return mon, nil
		}
	}
	return monitor{}, bot.Userf("There is no monitor %q here; \"monitor list\" lists them.", name)
}

// stateWord says what is known of a monitor.
func stateWord(s health.State) string {
	switch {
	case len(s.History) == 0:
		return "not checked yet"
	case s.Down:
		return "DOWN"
	case s.Failures > 0:
		return fmt.Sprintf("up, %d failed checks in a row", s.Failures)
	}
	return "up"
}

func (p *Plugin) listMonitors(ctx context.Context, w bot.Responder, m *bot.Message) error {
	list, err := p.monitors(ctx, m.Room)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return w.Reply(ctx, "No monitors here; add one with \"monitor add <name> <url | host:port>\".")
	}
	var b strings.Builder
	b.WriteString("Monitors:")
	for _, mon := range list {
		fmt.Fprintf(&b, "\n  %s  %s every %s: %s", mon.Name, mon.Target, mon.Every, stateWord(mon.State))
	}
	return w.Reply(ctx, b.String())
}

func (p *Plugin) monitorStatus(ctx context.Context, w bot.Responder, m *bot.Message) error {
	list, err := p.monitors(ctx, m.Room)
	if err != nil {
		return err
	}
	if name := m.Args.String("name"); name != "" {
		mon, err := p.findMonitor(ctx, m.Room, name)
		if err != nil {
			return err
		}
		list = []monitor{mon}
	}
	if len(list) == 0 {
		return w.Reply(ctx, "No monitors here.")
	}
	var lines []string
	for _, mon := range list {
		st := mon.State.Summary()
		line := fmt.Sprintf("%s (%s): %s", mon.Name, mon.Target, stateWord(mon.State))
		if mon.State.Down {
			line += fmt.Sprintf(" since %s UTC", mon.State.FailingSince.UTC().Format(time.DateTime))
		}
		if n := len(mon.State.History); n > 0 {
			last := mon.State.History[n-1]
			line += fmt.Sprintf("; last check %s: %s", last.At.UTC().Format(time.DateTime), last.Detail)
			line += fmt.Sprintf("; %d of the last %d checks passed (%.1f%%)", st.OK, st.Checks, 100*float64(st.OK)/float64(st.Checks))
		}
		if st.OK > 0 {
			line += fmt.Sprintf("; response min/avg/max/p95 %s/%s/%s/%s", ms(st.Min), ms(st.Avg), ms(st.Max), ms(st.P95))
		}
		lines = append(lines, line)
	}
	return w.Reply(ctx, strings.Join(lines, "\n"))
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// errMonitorGone stops a check whose monitor was removed while it ran.
var errMonitorGone = errors.New("secops: monitor removed")

// monitorCheck checks a monitor once, records the result, reports a
// change of state durably, and books the next check. The scope is checked
// every time, as for scheduled scans.
func (p *Plugin) monitorCheck(ctx context.Context, e schedule.Entry, _ bool) error {
	key := monitorPrefix + string(e.Payload)
	mon, err := load[monitor](ctx, p.o.Store, key)
	if mon == nil || err != nil {
		return err // nil and nil: removed
	}
	t, err := p.target(ctx, mon)
	if errors.Is(err, scope.ErrOutOfScope) {
		_ = p.o.Store.Delete(ctx, key)
		return p.say(ctx, mon.place, "monitor-"+e.ID, fmt.Sprintf("Monitor %s stopped: %s", mon.Name, err))
	}
	if err != nil {
		return err
	}
	r := health.Check(ctx, t, health.Options{Expect: mon.Expect, Contains: mon.Contains, Timeout: min(mon.Every, checkTimeout), Roots: p.o.Roots}, p.o.Now)
	var change health.Change
	var changed bool
	// Update rather than Put: a monitor removed during the check stays
	// removed.
	err = p.o.Store.Update(ctx, key, func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, errMonitorGone
		}
		var now monitor
		if err := json.Unmarshal(cur, &now); err != nil {
			return nil, err
		}
		change, changed = now.State.Record(r, p.o.Monitor.Failures, p.o.Monitor.History)
		mon = &now
		return json.Marshal(now)
	})
	if errors.Is(err, errMonitorGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if changed {
		text := fmt.Sprintf("Monitor %s (%s) is back UP after %s down.", mon.Name, mon.Target, change.Lasted.Round(time.Second))
		if change.Down {
			text = fmt.Sprintf("Monitor %s (%s) is DOWN: %s (%d failed checks in a row since %s UTC).", mon.Name, mon.Target, change.Detail, mon.State.Failures, mon.State.FailingSince.UTC().Format(time.DateTime))
		}
		if err := p.say(ctx, mon.place, "monitor-"+e.ID, text); err != nil {
			return err
		}
	}
	// After downtime, resume the rhythm from now rather than catch up.
	next := e.At.Add(mon.Every)
	if now := p.o.Now(); next.Before(now) {
		next = now.Add(mon.Every)
	}
	_, err = p.o.Sched.At(ctx, next, monitorKind, e.Payload)
	return err
}
