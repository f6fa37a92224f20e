package secops

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/scan/nmap"
	"github.com/seipbot/seipbot/scan/ports"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/scope"
	"github.com/seipbot/seipbot/store"
)

const (
	baselinePrefix = "secops/baseline/"
	schedulePrefix = "secops/schedule/"
	scheduledKind  = "secops-scan"
	// minEvery keeps scheduled scans from becoming a flood.
	minEvery = 10 * time.Minute
)

func (p *Plugin) registerPorts(r *bot.Registry) {
	targetArg := bot.Arg{Name: "target", Kind: bot.Target, Help: "an address, a CIDR or a host name in scope"}
	portsArgs := []bot.Arg{
		targetArg,
		{Name: "ports", Kind: bot.String, Flag: true, Default: "top100", Help: "1-1024, 22,80,443, top100 or all"},
		{Name: "rate", Kind: bot.Int, Flag: true, Min: 1, Max: int64(p.o.MaxRate), Help: "connection attempts per second"},
		{Name: "engine", Kind: bot.Enum, Flag: true, Values: []string{"builtin", "nmap"}, Default: "builtin"},
		{Name: "versions", Kind: bot.Bool, Flag: true, Help: "ask nmap for service versions (-sV)"},
	}
	r.Command(bot.Command{
		Words: "scan ports", Args: portsArgs,
		Help:       "scan a target's TCP ports (a job); the result becomes the target's baseline",
		Examples:   []string{"scan ports 10.20.0.0/28 --ports 1-1024", "scan ports intranet.example.com --engine nmap --versions"},
		Permission: "scan.ports", Sensitive: true, Handler: bot.HandlerFunc(p.scanPorts),
	})
	r.Command(bot.Command{
		Words: "scan diff", Args: []bot.Arg{targetArg},
		Help:       "scan a target again with its baseline's ports and show only what changed",
		Permission: "scan.ports", Sensitive: true, Handler: bot.HandlerFunc(p.scanDiff),
	})
	r.Command(bot.Command{
		Words: "scan schedule",
		Args: append([]bot.Arg{targetArg, {Name: "every", Kind: bot.Enum, Values: []string{"every"}},
			{Name: "interval", Kind: bot.Duration}}, portsArgs[1:]...),
		Help:       "scan a target periodically and report here only what changed",
		Examples:   []string{"scan schedule 10.20.0.0/28 every 24h --ports 1-1024"},
		Permission: "scan.ports", Sensitive: true, Handler: bot.HandlerFunc(p.schedule),
	})
	r.Command(bot.Command{Words: "scan schedules", Help: "list the scheduled scans of this room", Permission: "scan.ports", Handler: bot.HandlerFunc(p.listSchedules)})
	r.Command(bot.Command{
		Words: "scan unschedule", Args: []bot.Arg{{Name: "id", Kind: bot.String}},
		Help: "stop a scheduled scan", Permission: "scan.ports", Sensitive: true, Handler: bot.HandlerFunc(p.unschedule),
	})
}

// portRequest is a checked port scan.
type portRequest struct {
	Target   string       `json:"target"`
	Ports    string       `json:"ports"`
	Engine   string       `json:"engine"`
	Rate     int          `json:"rate"`
	Versions bool         `json:"versions"`
	addrs    []netip.Addr // approved by the scope check
	list     []int        // the parsed ports
}

// request checks the arguments of a port scan command against the scope
// and the limits.
func (p *Plugin) request(ctx context.Context, m *bot.Message) (*portRequest, error) {
	prefix, name := m.Args.Target("target")
	rq := &portRequest{Ports: m.Args.String("ports"), Engine: m.Args.String("engine"), Rate: int(m.Args.Int("rate")), Versions: m.Args.Bool("versions")}
	if err := p.prepare(ctx, m.Room, prefix, name, rq); err != nil {
		return nil, err
	}
	return rq, nil
}

// prepare checks rq's target in room, and its ports, engine and rate.
func (p *Plugin) prepare(ctx context.Context, room string, prefix netip.Prefix, name string, rq *portRequest) error {
	t, err := p.o.Scope.Check(ctx, room, prefix, name)
	if err != nil {
		return userScopeError(err)
	}
	rq.Target = t.String()
	if rq.addrs, err = ports.Hosts(t.Prefixes, p.o.MaxHosts); err != nil {
		return bot.Userf("%s covers more than %d addresses, the most one scan may; scan a smaller range.", t, p.o.MaxHosts)
	}
	if rq.list, err = ports.ParsePorts(rq.Ports); err != nil {
		return bot.Userf("%q is not a port list; use 1-1024, 22,80,443, top100 or all.", rq.Ports)
	}
	if rq.Rate == 0 {
		rq.Rate = p.o.Rate
	}
	if rq.Engine == "nmap" {
		if _, err := nmap.Lookup(p.o.NmapPath); err != nil {
			return bot.Userf("nmap is not installed where the bot runs; use --engine builtin.")
		}
	} else if rq.Versions {
		return bot.Userf("--versions needs --engine nmap.")
	}
	return nil
}

// run scans rq's addresses.
func (p *Plugin) run(ctx context.Context, rq *portRequest, progress func(string)) ([]ports.Open, error) {
	if rq.Engine == "nmap" {
		progress(fmt.Sprintf("nmap is scanning %d ports on %d addresses…", len(rq.list), len(rq.addrs)))
		return nmap.Scan(ctx, rq.addrs, rq.list, nmap.Options{Path: p.o.NmapPath, Versions: rq.Versions, Rate: rq.Rate})
	}
	return ports.Scan(ctx, rq.addrs, rq.list, ports.Options{
		Rate: rq.Rate, Timeout: p.o.PortTimeout,
		Progress: func(done, total int) { progress(fmt.Sprintf("%d%% of %d probes done", done*100/total, total)) },
	})
}

// baseline is the last scan of a target, which the next is compared with.
type baseline struct {
	portRequest
	Taken time.Time    `json:"taken"`
	Open  []ports.Open `json:"open"`
}

func (p *Plugin) loadBaseline(ctx context.Context, target string) (*baseline, error) {
	return load[baseline](ctx, p.o.Store, baselinePrefix+target)
}

// load reads a JSON record, or nil if there is none.
func load[T any](ctx context.Context, st store.Store, key string) (*T, error) {
	b, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("secops: %s: %w", key, err)
	}
	return v, nil
}

// place is where a scheduled check reports: the room (or direct
// conversation) it was set up in.
type place struct {
	Owner   string `json:"owner"`
	Adapter string `json:"adapter"`
	Room    string `json:"room"`
	Direct  bool   `json:"direct"`
}

func placeOf(m *bot.Message) place {
	return place{Owner: m.User.ID, Adapter: m.Adapter, Room: m.Room, Direct: m.Direct}
}

// say reports text durably in the place, under id so a retried check
// replaces rather than repeats its report.
func (p *Plugin) say(ctx context.Context, at place, id, text string) error {
	r := bot.Response{Adapter: at.Adapter, Room: at.Room, Text: text}
	if at.Direct {
		r.Direct, r.User = true, at.Owner
	}
	return p.o.Out.SendDurable(ctx, id, r)
}

// scanAndCompare scans, replaces the target's baseline and returns the
// scan with the changes since the previous baseline (nil if there was
// none).
func (p *Plugin) scanAndCompare(ctx context.Context, rq *portRequest, progress func(string)) ([]ports.Open, []string, error) {
	found, err := p.run(ctx, rq, progress)
	if err != nil {
		return nil, nil, err
	}
	prev, err := p.loadBaseline(ctx, rq.Target)
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(baseline{portRequest: *rq, Taken: p.o.Now(), Open: found})
	if err != nil {
		return nil, nil, err
	}
	if err := p.o.Store.Put(ctx, baselinePrefix+rq.Target, raw, 0); err != nil {
		return nil, nil, err
	}
	if prev == nil {
		return found, nil, nil
	}
	return found, Diff(prev.Open, found, rq.list), nil
}

func (p *Plugin) scanPorts(ctx context.Context, w bot.Responder, m *bot.Message) error {
	rq, err := p.request(ctx, m)
	if err != nil {
		return err
	}
	j, err := p.o.Jobs.Start(ctx, w, jobs.SpecFor(m), func(ctx context.Context, progress func(string)) (string, error) {
		found, changes, err := p.scanAndCompare(ctx, rq, progress)
		if err != nil {
			return "", err
		}
		text := Table(found)
		if len(changes) > 0 {
			text += "\nSince the last scan:\n" + strings.Join(changes, "\n")
		}
		return text, nil
	})
	if err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Job %s: scanning %d ports on %d addresses of %s; the result will follow in the thread.", j.ID, len(rq.list), len(rq.addrs), rq.Target))
}

func (p *Plugin) scanDiff(ctx context.Context, w bot.Responder, m *bot.Message) error {
	prefix, name := m.Args.Target("target")
	t, err := p.check(ctx, m, prefix, name)
	if err != nil {
		return err
	}
	prev, err := p.loadBaseline(ctx, t.String())
	if err != nil {
		return err
	}
	if prev == nil {
		return bot.Userf("%s has no baseline yet; run \"scan ports %s\" first.", t, t)
	}
	rq := &portRequest{Ports: prev.Ports, Engine: prev.Engine, Rate: prev.Rate, Versions: prev.Versions}
	if err := p.prepare(ctx, m.Room, prefix, name, rq); err != nil {
		return err
	}
	j, err := p.o.Jobs.Start(ctx, w, jobs.SpecFor(m), func(ctx context.Context, progress func(string)) (string, error) {
		_, changes, err := p.scanAndCompare(ctx, rq, progress)
		if err != nil {
			return "", err
		}
		return changesText(rq.Target, prev.Taken, changes), nil
	})
	if err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Job %s: comparing %s with its baseline of %s.", j.ID, rq.Target, prev.Taken.UTC().Format(time.DateTime)))
}

func changesText(target string, since time.Time, changes []string) string {
	if len(changes) == 0 {
		return fmt.Sprintf("No change on %s since %s UTC.", target, since.UTC().Format(time.DateTime))
	}
	return fmt.Sprintf("Changes on %s since %s UTC:\n%s", target, since.UTC().Format(time.DateTime), strings.Join(changes, "\n"))
}

// Table renders open ports as a fixed-width table.
func Table(found []ports.Open) string {
	if len(found) == 0 {
		return "No open ports."
	}
	var b strings.Builder
	b.WriteString("```\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tPORT\tSERVICE\tBANNER")
	for _, o := range found {
		fmt.Fprintf(tw, "%s\t%d/tcp\t%s\t%s\n", o.Addr, o.Port, o.Service, o.Banner)
	}
	tw.Flush()
	b.WriteString("```")
	return b.String()
}

// Diff lists what changed from before to after, comparing only the ports
// both scans covered: new open ports, closed ones, changed services.
func Diff(before, after []ports.Open, covered []int) []string {
	key := func(o ports.Open) string { return netip.AddrPortFrom(o.Addr, uint16(o.Port)).String() }
	was := map[string]ports.Open{}
	for _, o := range before {
		was[key(o)] = o
	}
	var out []string
	for _, o := range after {
		k := key(o)
		old, ok := was[k]
		delete(was, k)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("+ %s open (%s)", k, describe(o)))
		case old.Service != o.Service || old.Banner != o.Banner:
			out = append(out, fmt.Sprintf("~ %s changed: %s → %s", k, describe(old), describe(o)))
		}
	}
	for k, o := range was {
		if slices.Contains(covered, o.Port) {
			out = append(out, fmt.Sprintf("- %s closed (was %s)", k, describe(o)))
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return strings.Compare(a[2:], b[2:]) })
	return out
}

func describe(o ports.Open) string {
	s := strings.TrimSpace(o.Service + " " + o.Banner)
	if s == "" {
		return "unknown service"
	}
	return s
}

// scheduledScan is a stored schedule; scheduler entries carry its id.
type scheduledScan struct {
	ID string `json:"id"`
	portRequest
	place
	Every time.Duration `json:"every"`
}

func (p *Plugin) schedule(ctx context.Context, w bot.Responder, m *bot.Message) error {
	every := m.Args.Duration("interval")
	if every < minEvery {
		return bot.Userf("Scheduled scans run at most every %s; give a longer interval.", minEvery)
	}
	rq, err := p.request(ctx, m)
	if err != nil {
		return err
	}
	s := scheduledScan{ID: strings.ToLower(rand.Text()[:6]), portRequest: *rq, place: placeOf(m), Every: every}
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := p.o.Store.Put(ctx, schedulePrefix+s.ID, raw, 0); err != nil {
		return err
	}
	// The first run is now, so the target has a baseline to compare with.
	if _, err := p.o.Sched.At(ctx, p.o.Now(), scheduledKind, []byte(s.ID)); err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Scan %s of %s every %s scheduled; I'll report here only what changes. Stop it with \"scan unschedule %s\".", s.ID, rq.Target, every, s.ID))
}

func (p *Plugin) schedules(ctx context.Context, room string) ([]scheduledScan, error) {
	var out []scheduledScan
	err := p.o.Store.Scan(ctx, schedulePrefix, func(_ string, v []byte) error {
		var s scheduledScan
		if json.Unmarshal(v, &s) == nil && s.Room == room {
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

func (p *Plugin) listSchedules(ctx context.Context, w bot.Responder, m *bot.Message) error {
	list, err := p.schedules(ctx, m.Room)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return w.Reply(ctx, "No scans are scheduled here.")
	}
	var b strings.Builder
	b.WriteString("Scheduled scans:")
	for _, s := range list {
		fmt.Fprintf(&b, "\n  %s  %s every %s, ports %s (%s)", s.ID, s.Target, s.Every, s.Ports, s.Engine)
	}
	return w.Reply(ctx, b.String())
}

func (p *Plugin) unschedule(ctx context.Context, w bot.Responder, m *bot.Message) error {
	id := strings.ToLower(m.Args.String("id"))
	list, err := p.schedules(ctx, m.Room)
	if err != nil {
		return err
	}
	for _, s := range list {
		if s.ID == id {
			if err := p.o.Store.Delete(ctx, schedulePrefix+id); err != nil {
				return err
			}
			return w.Reply(ctx, fmt.Sprintf("Scheduled scan %s of %s stopped.", id, s.Target))
		}
	}
	return bot.Userf("There is no scheduled scan %q here; \"scan schedules\" lists them.", id)
}

// scheduled runs one scheduled scan, reports changes durably and books the
// next run. The scope is checked again on every run: it may have changed,
// and so may what a name resolves to.
func (p *Plugin) scheduled(ctx context.Context, e schedule.Entry, _ bool) error {
	s, err := load[scheduledScan](ctx, p.o.Store, schedulePrefix+string(e.Payload))
	if s == nil || err != nil {
		return err // nil and nil: unscheduled
	}
	say := func(text string) error { return p.say(ctx, s.place, "scan-"+e.ID, text) }
	prefix, name := parseTarget(s.Target)
	rq := s.portRequest
	if err := p.prepare(ctx, s.Room, prefix, name, &rq); err != nil {
		if errors.Is(err, scope.ErrOutOfScope) {
			_ = p.o.Store.Delete(ctx, schedulePrefix+s.ID)
			return say(fmt.Sprintf("Scheduled scan %s stopped: %s", s.ID, err))
		}
		return err
	}
	prev, err := p.loadBaseline(ctx, rq.Target)
	if err != nil {
		return err
	}
	_, changes, err := p.scanAndCompare(ctx, &rq, func(string) {})
	if err != nil {
		p.log.Error("secops: scheduled scan failed", "schedule", s.ID, "target", s.Target, "err", err)
	} else if len(changes) > 0 {
		if err := say(fmt.Sprintf("Scheduled scan %s: %s", s.ID, changesText(rq.Target, prev.Taken, changes))); err != nil {
			return err
		}
	}
	// After downtime, resume the rhythm from now rather than catch up
	// with a burst of scans.
	next := e.At.Add(s.Every)
	if now := p.o.Now(); next.Before(now) {
		next = now.Add(s.Every)
	}
	_, err = p.o.Sched.At(ctx, next, scheduledKind, e.Payload)
	return err
}

// parseTarget reads a stored target back into Check's arguments.
func parseTarget(s string) (netip.Prefix, string) {
	if pr, err := netip.ParsePrefix(s); err == nil {
		return pr, ""
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), ""
	}
	return netip.Prefix{}, s
}
