// Package access decides who may run which command, where, with which
// arguments, and with whose approval.
//
// A Policy names groups of identities ("slack:U024BE7LH", "shell:alice":
// platform ids, never display names), roles that hold permissions, and
// grants that give a role to a group or one identity, optionally only in
// some rooms and only for some argument values. Every command declares a
// permission ("scan.ports"); a role's pattern matches it exactly or, ending
// in ".*", matches every permission below that dot ("scan.*" matches
// "scan.ports" but not "scan" and not "scanner.x"); "*" matches all.
//
// Everything not granted is refused: the zero Policy lets people run only
// the commands that declare no permission.
//
// Notification rules say which rooms may receive which notifications. A
// notification has a topic named like a permission ("alerts.github",
// "jobs.results") and rule patterns match it the same way. With no rules
// every room receives every topic, so a policy written before rules
// existed keeps working; the first rule makes the list exhaustive, and a
// room then receives only what some rule lets it.
package access

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Policy is the access section of the configuration.
type Policy struct {
	// Groups name sets of identities.
	Groups map[string][]string
	// Roles name sets of permission patterns.
	Roles map[string]Role
	// Grants give roles to groups or identities.
	Grants []Grant
	// Approvals hold back commands until others approve them.
	Approvals []ApprovalRule
	// RateLimits bound how often one identity runs matching commands.
	RateLimits []RateLimit
	// SecurityRoom, when set, hears about identities refused again and
	// again (topic TopicDenials).
	SecurityRoom string
	// Notifications say which rooms receive which topics; none lets every
	// room receive everything, and any makes the list exhaustive.
	Notifications []NotificationRule
}

// NotificationRule lets Rooms receive the notifications whose topic one
// of the Allow patterns matches.
type NotificationRule struct {
	Rooms []string
	Allow []string
}

// TopicDenials is the topic of the security room's notices about
// identities refused again and again.
const TopicDenials = "access.denials"

// Role is a named set of permission patterns.
type Role struct {
	Permissions []string
}

// Grant gives Role to a Group or to one Identity. Rooms, when set, are the
// only rooms the grant holds in ("direct" stands for any direct
// conversation). Args, when set, limit argument values: for a host-or-CIDR
// argument each value is a CIDR, an address, a host name, or "*.domain" for
// the names below a domain; for any other argument the value as typed must
// be one of the list (in any case).
type Grant struct {
	Group    string
	Identity string
	Role     string
	Rooms    []string
	Args     map[string][]string
}

// ApprovalRule holds back commands whose permission matches Permission
// until Approvals people holding the role Approvers have approved them,
// within Expires (default DefaultApprovalExpiry).
type ApprovalRule struct {
	Permission string
	Approvals  int
	Approvers  string
	Expires    time.Duration
}

// DefaultApprovalExpiry is how long an approval request waits when its rule
// does not say.
const DefaultApprovalExpiry = 15 * time.Minute

// RateLimit lets one identity run commands whose permission matches
// Permission PerMinute times a minute on average, Burst at once.
type RateLimit struct {
	Permission string
	PerMinute  int
	Burst      int
}

// directRoom is what a grant's Rooms say for direct conversations, whose
// room ids differ per platform and per person.
const directRoom = "direct"

// permissionPattern is the form of a permission or a pattern: dot-separated
// lower-case words, optionally ending in ".*", or "*" alone.
var permissionPattern = regexp.MustCompile(`^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?)$`)

// ValidPattern reports whether p is a well-formed permission pattern.
func ValidPattern(p string) bool { return permissionPattern.MatchString(p) }

// Match reports whether pattern grants perm: exactly, by "*", or by a
// trailing ".*" that matches only at a dot, so "scan.p" never matches
// "scan.ports" and "scan.*" does not match "scanner.x".
func Match(pattern, perm string) bool {
	if perm == "" {
		return false
	}
	if pattern == "*" {
		return true
	}
	if stem, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasSuffix(stem, ".") && len(perm) > len(stem) && strings.HasPrefix(perm, stem)
	}
	return pattern == perm
}

// compiled is a Policy checked and indexed for decisions.
type compiled struct {
	Policy
	members map[string]map[string]bool // group → identities
}

// compile checks p. The configuration reports mistakes with their keys;
// this catches a Policy built in code that refers to what does not exist.
func compile(p Policy) (*compiled, error) {
	c := &compiled{Policy: p, members: map[string]map[string]bool{}}
	var errs []error
	for g, ids := range p.Groups {
		c.members[g] = map[string]bool{}
		for _, id := range ids {
			c.members[g][id] = true
		}
	}
	for r, role := range p.Roles {
		for _, perm := range role.Permissions {
			if !ValidPattern(perm) {
				errs = append(errs, fmt.Errorf("access: role %q: permission %q is malformed", r, perm))
			}
		}
	}
	for i, g := range p.Grants {
		if _, ok := p.Roles[g.Role]; !ok {
			errs = append(errs, fmt.Errorf("access: grant %d: role %q is not defined", i, g.Role))
		}
		switch {
		case g.Group == "" && g.Identity == "":
			errs = append(errs, fmt.Errorf("access: grant %d gives role %q to nobody", i, g.Role))
		case g.Group != "" && g.Identity != "":
			errs = append(errs, fmt.Errorf("access: grant %d names both a group and an identity", i))
		case g.Group != "" && p.Groups[g.Group] == nil:
			errs = append(errs, fmt.Errorf("access: grant %d: group %q is not defined", i, g.Group))
		}
	}
	for i, a := range p.Approvals {
		if !ValidPattern(a.Permission) {
			errs = append(errs, fmt.Errorf("access: approval %d: permission %q is malformed", i, a.Permission))
		}
		if _, ok := p.Roles[a.Approvers]; !ok {
			errs = append(errs, fmt.Errorf("access: approval %d: role %q is not defined", i, a.Approvers))
		}
		if a.Approvals < 1 {
			errs = append(errs, fmt.Errorf("access: approval %d needs at least one approval", i))
		}
	}
	for i, l := range p.RateLimits {
		if !ValidPattern(l.Permission) || l.PerMinute < 1 {
			errs = append(errs, fmt.Errorf("access: rate limit %d: want a well-formed permission and a positive rate", i))
		}
	}
	for i, n := range p.Notifications {
		if len(n.Rooms) == 0 || len(n.Allow) == 0 || slices.ContainsFunc(n.Allow, func(t string) bool { return !ValidPattern(t) }) {
			errs = append(errs, fmt.Errorf("access: notification rule %d: want rooms and well-formed topic patterns", i))
		}
	}
	return c, errors.Join(errs...)
}

// holds reports whether grant g applies to identity id.
func (c *compiled) holds(g Grant, id string) bool {
	if g.Identity != "" {
		return g.Identity == id
	}
	return c.members[g.Group][id]
}

// grants reports whether role r has a pattern matching perm.
func (c *compiled) grants(r, perm string) bool {
	return slices.ContainsFunc(c.Roles[r].Permissions, func(p string) bool { return Match(p, perm) })
}

// inRoom reports whether g holds in room.
func inRoom(g Grant, room string, direct bool) bool {
	if len(g.Rooms) == 0 {
		return true
	}
	return slices.Contains(g.Rooms, room) || direct && slices.Contains(g.Rooms, directRoom)
}

// hasRole reports whether id holds role anywhere.
func (c *compiled) hasRole(id, role string) bool {
	return slices.ContainsFunc(c.Grants, func(g Grant) bool { return g.Role == role && c.holds(g, id) })
}

// scopeAllows reports whether v, an argument of kind as the router parsed
// it, lies within allowed, a grant's list for that argument.
func scopeAllows(kind bot.ArgKind, allowed []string, v bot.ArgValue) bool {
	if kind != bot.Target {
		return slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, v.Raw) })
	}
	switch t := v.Value.(type) {
	case netip.Prefix:
		return slices.ContainsFunc(allowed, func(a string) bool {
			p, ok := parseScope(a)
			return ok && p.Bits() <= t.Bits() && p.Contains(t.Addr())
		})
	case string:
		return slices.ContainsFunc(allowed, func(a string) bool {
			a = strings.ToLower(strings.TrimSuffix(a, "."))
			if dom, ok := strings.CutPrefix(a, "*."); ok {
				return strings.HasSuffix(t, "."+dom)
			}
			return a == t
		})
	}
	return false
}

// parseScope reads a CIDR or a single address from a grant's argument list.
func parseScope(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
