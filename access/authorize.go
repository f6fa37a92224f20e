package access

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Options configure an Authorizer. The zero value is ready to use.
type Options struct {
	// Now is the clock for rate limits and denial counts. Default time.Now.
	Now func() time.Time
	// Notify carries notices to the policy's SecurityRoom; nil sends none.
	Notify bot.Sender
	// DenialThreshold denials of one identity within DenialWindow make a
	// notice to the security room. Defaults 5 and 10 minutes.
	DenialThreshold int
	DenialWindow    time.Duration
}

// Authorizer decides commands by a Policy. It is a bot.Authorizer.
type Authorizer struct {
	p    *compiled
	opts Options

	mu      sync.Mutex
	denials map[string][]time.Time // identity → recent denials
	due     map[string]time.Time   // identity and rate limit → when the next run is due
}

var _ bot.Authorizer = (*Authorizer)(nil)

// New checks p and returns an Authorizer for it. It does no I/O.
func New(p Policy, opts Options) (*Authorizer, error) {
	c, err := compile(p)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DenialThreshold <= 0 {
		opts.DenialThreshold = 5
	}
	if opts.DenialWindow <= 0 {
		opts.DenialWindow = 10 * time.Minute
	}
	return &Authorizer{p: c, opts: opts, denials: map[string][]time.Time{}, due: map[string]time.Time{}}, nil
}

// Owner is the policy of a bot whose only user owns it: the person at the
// terminal of "seipbot shell" with no policy configured, who owns the data
// directory and its key anyway.
func Owner(identity string) Policy {
	return Policy{
		Roles:  map[string]Role{"owner": {Permissions: []string{"*"}}},
		Grants: []Grant{{Identity: identity, Role: "owner"}},
	}
}

// Decision is the outcome of a check and why.
type Decision struct {
	Allowed    bool
	Permission string
	// Grant is the index of the grant that allowed, or -1.
	Grant int
	// Reason is one sentence: for a refusal, written for the user.
	Reason string
}

// Decide checks m.User against what m asks for, in m.Room with m.Args.
func (a *Authorizer) Decide(m *bot.Message) Decision {
	return a.decide(m, true)
}

// decide is Decide; without explain, an allowed Decision has no Reason.
// Authorize runs for every command and shows only a refusal's reason, so
// it leaves out the sentence nobody reads.
func (a *Authorizer) decide(m *bot.Message, explain bool) Decision {
	perm, sensitive := permission(m)
	d := Decision{Permission: perm, Grant: -1}
	if perm == "" {
		if sensitive {
			d.Reason = fmt.Sprintf("%q is restricted but declares no permission, so no one may run it; its plugin must declare one.", m.Action())
			return d
		}
		d.Allowed = true
		if explain {
			d.Reason = fmt.Sprintf("%q declares no permission, so everyone may run it.", m.Action())
		}
		return d
	}
	var rooms []string
	argMiss := ""
	for i, g := range a.p.Grants {
		if !a.p.holds(g, m.User.ID) || !a.p.grants(g.Role, perm) {
			continue
		}
		if !inRoom(g, m.Room, m.Direct) {
			rooms = append(rooms, g.Rooms...)
			continue
		}
		if miss := outsideScope(g, m); miss != "" {
			argMiss = miss
			continue
		}
		d.Allowed, d.Grant = true, i
		if explain {
			d.Reason = fmt.Sprintf("grant %d (%s → role %s) gives %q.", i, grantee(g), g.Role, perm)
		}
		return d
	}
	name := m.Action()
	switch {
	case argMiss != "":
		d.Reason = fmt.Sprintf("You may run %q only %s; ask an admin if you need more.", name, argMiss)
	case len(rooms) > 0:
		slices.Sort(rooms)
		d.Reason = fmt.Sprintf("You may run %q only in %s, not here.", name, strings.Join(slices.Compact(rooms), ", "))
	default:
		d.Reason = fmt.Sprintf("You may not run %q: it needs the permission %q, which none of your roles grants; ask an admin to grant it.", name, perm)
	}
	return d
}

// permission returns the permission m asks for and whether it is marked
// sensitive.
func permission(m *bot.Message) (perm string, sensitive bool) {
	switch {
	case m.Command != nil:
		return m.Command.Permission, m.Command.Sensitive
	case m.Hear != nil:
		return m.Hear.Permission, m.Hear.Sensitive
	}
	return "", true
}

func grantee(g Grant) string {
	if g.Group != "" {
		return "group " + g.Group
	}
	return g.Identity
}

// outsideScope returns, when m's arguments fall outside g's argument
// limits, the phrase saying what g allows; "" when they are within.
func outsideScope(g Grant, m *bot.Message) string {
	if len(g.Args) == 0 {
		return "" // most grants have no limits; skip sorting nothing
	}
	for _, name := range slices.Sorted(maps.Keys(g.Args)) {
		allowed := g.Args[name]
		phrase := fmt.Sprintf("with %s in %s", name, strings.Join(allowed, ", "))
		if m.Command == nil {
			return phrase
		}
		i := slices.IndexFunc(m.Command.Args, func(a bot.Arg) bool { return a.Name == name })
		j := slices.IndexFunc(m.Args, func(v bot.ArgValue) bool { return v.Name == name })
		if i < 0 || j < 0 || !scopeAllows(m.Command.Args[i].Kind, allowed, m.Args[j]) {
			return phrase
		}
	}
	return ""
}

// Authorize implements bot.Authorizer: it refuses what Decide refuses, and
// commands beyond a rate limit (a refusal too, so audit records it as one). Denials are counted, and an identity
// refused DenialThreshold times within DenialWindow is reported to the
// security room.
func (a *Authorizer) Authorize(ctx context.Context, m *bot.Message) error {
	d := a.decide(m, false)
	if !d.Allowed {
		a.noteDenial(ctx, m)
		return bot.Denied(d.Reason)
	}
	if wait, limit, ok := a.allowRate(m.User.ID, d.Permission); !ok {
		return bot.Denied(fmt.Sprintf("You may run %q %d times a minute; try again in %s.", m.Command.Words, limit.PerMinute, wait.Round(time.Second)+time.Second))
	}
	return nil
}

// noteDenial counts a refusal and tells the security room when one
// identity's refusals reach the threshold; the count then starts again, so
// a persistent caller is reported once per threshold, not once per try.
func (a *Authorizer) noteDenial(ctx context.Context, m *bot.Message) {
	now := a.opts.Now()
	a.mu.Lock()
	recent := slices.DeleteFunc(a.denials[m.User.ID], func(t time.Time) bool { return now.Sub(t) > a.opts.DenialWindow })
	recent = append(recent, now)
	report := len(recent) >= a.opts.DenialThreshold
	if report {
		recent = nil
	}
	a.denials[m.User.ID] = recent
	a.mu.Unlock()
	if !report || a.opts.Notify == nil || a.p.SecurityRoom == "" || !a.MayNotify(a.p.SecurityRoom, TopicDenials) {
		return
	}
	text := fmt.Sprintf("%s was refused %d times within %s; the last was %q in %s.", m.User.ID, a.opts.DenialThreshold, a.opts.DenialWindow, m.Action(), m.Room)
	// A notice that cannot be queued must not turn the refusal into an
	// internal error for the user; the outbox logs its own failures.
	_ = a.opts.Notify.Send(ctx, bot.Response{Adapter: m.Adapter, Room: a.p.SecurityRoom, Text: text})
}

// allowRate applies every rate limit whose pattern matches perm, as a
// generic cell rate algorithm: each identity has a time at which its next
// run is due, which advances by one interval per run and may run ahead of
// the clock by Burst-1 intervals.
func (a *Authorizer) allowRate(id, perm string) (time.Duration, RateLimit, bool) {
	if len(a.p.RateLimits) == 0 {
		return 0, RateLimit{}, true // and no clock read for every command
	}
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, l := range a.p.RateLimits {
		if !Match(l.Permission, perm) {
			continue
		}
		interval := time.Minute / time.Duration(l.PerMinute)
		ahead := time.Duration(max(l.Burst, 1)-1) * interval
		key := fmt.Sprintf("%s\x00%d", id, i)
		due := a.due[key]
		if due.Before(now) {
			due = now
		}
		if due.Sub(now) > ahead {
			return due.Sub(now) - ahead, l, false
		}
		a.due[key] = due.Add(interval)
	}
	return 0, RateLimit{}, true
}

// MayNotify reports whether room may receive notifications of topic
// ("alerts.github", "jobs.results"). Without notification rules every room
// may receive everything; with them, only a rule naming room with a
// pattern matching topic lets it.
func (a *Authorizer) MayNotify(room, topic string) bool {
	if len(a.p.Notifications) == 0 {
		return true
	}
	return slices.ContainsFunc(a.p.Notifications, func(n NotificationRule) bool {
		return slices.Contains(n.Rooms, room) && slices.ContainsFunc(n.Allow, func(p string) bool { return Match(p, topic) })
	})
}

// ApprovalRule returns the first approval rule whose pattern matches perm.
func (a *Authorizer) ApprovalRule(perm string) (ApprovalRule, bool) {
	for _, r := range a.p.Approvals {
		if Match(r.Permission, perm) {
			return r, true
		}
	}
	return ApprovalRule{}, false
}

// Visible reports whether the sender of m may run c in m's room with some
// arguments; help lists only such commands.
func (a *Authorizer) Visible(_ context.Context, m *bot.Message, c *bot.Command) bool {
	if c.Permission == "" {
		return !c.Sensitive
	}
	return slices.ContainsFunc(a.p.Grants, func(g Grant) bool {
		return a.p.holds(g, m.User.ID) && a.p.grants(g.Role, c.Permission) && inRoom(g, m.Room, m.Direct)
	})
}

// Roles names the roles identity holds, each with the rooms it is limited
// to, for whoami.
func (a *Authorizer) Roles(identity string) []string {
	var out []string
	for _, g := range a.p.Grants {
		if !a.p.holds(g, identity) {
			continue
		}
		r := g.Role
		if len(g.Rooms) > 0 {
			r += " (in " + strings.Join(g.Rooms, ", ") + ")"
		}
		if len(g.Args) > 0 {
			r += " (limited arguments)"
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
