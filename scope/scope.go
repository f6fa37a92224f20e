// Package scope decides what the bot may scan. A scope is a list of rules,
// each putting address ranges and host names in scope for some rooms (or
// all). A target is checked before any packet is sent to it: a host name is
// resolved first and every address it has must be in scope, unless the
// name itself is listed. With no rules, nothing is in scope.
//
// Check returns the addresses it approved, and callers scan those rather
// than resolving the name again, so a DNS answer that changes between the
// check and the scan cannot lead a scan out of scope.
package scope

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// ErrOutOfScope is wrapped by every refusal.
var ErrOutOfScope = errors.New("scope: target out of scope")

// Rule puts CIDRs and host names in scope in Rooms, or in every room when
// Rooms is empty.
type Rule struct {
	Rooms    []string
	Prefixes []netip.Prefix
	// Hosts are exact names or "*.suffix" patterns, in lower case.
	Hosts []string
}

// Resolver looks up a host name's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Scope holds the rules.
type Scope struct {
	rules    []Rule
	resolver Resolver
}

// New returns a Scope of rules resolving through r (nil means
// net.DefaultResolver).
func New(rules []Rule, r Resolver) *Scope {
	if r == nil {
		r = net.DefaultResolver
	}
	return &Scope{rules: rules, resolver: r}
}

// Parse turns configured CIDR strings (a CIDR or a single address) and host
// names into a Rule.
func Parse(rooms, cidrs, hosts []string) (Rule, error) {
	r := Rule{Rooms: rooms}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return Rule{}, fmt.Errorf("scope: %q is not a CIDR or an address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r.Prefixes = append(r.Prefixes, p.Masked())
	}
	for _, h := range hosts {
		r.Hosts = append(r.Hosts, strings.ToLower(strings.TrimSuffix(h, ".")))
	}
	return r, nil
}

// Target is something to scan: a range of addresses, or a host name with
// the addresses it resolved to when it was checked.
type Target struct {
	Name     string         // the host name, or "" for an address or CIDR
	Prefixes []netip.Prefix // the approved addresses (single-address prefixes for a name)
}

// String returns the target as the user gave it.
func (t Target) String() string {
	if t.Name != "" {
		return t.Name
	}
	if len(t.Prefixes) == 1 {
		if p := t.Prefixes[0]; p.IsSingleIP() {
			return p.Addr().String()
		}
		return t.Prefixes[0].String()
	}
	return fmt.Sprint(t.Prefixes)
}

// Check approves a target in room: a prefix (an address is a single-address
// prefix) or, when name is not empty, a host name. It returns the approved
// target, or an error matching ErrOutOfScope whose text is one sentence
// for the user.
func (s *Scope) Check(ctx context.Context, room string, prefix netip.Prefix, name string) (Target, error) {
	rules := s.forRoom(room)
	if len(rules) == 0 {
		return Target{}, refuse("Nothing can be scanned from here: no scan scope is configured for this room; an admin sets it under scope: in the configuration.")
	}
	if name == "" {
		if !covered(rules, prefix) {
			return Target{}, refuse(fmt.Sprintf("%s is outside the scan scope of this room; only configured ranges and hosts can be scanned.", prefix))
		}
		return Target{Prefixes: []netip.Prefix{prefix.Masked()}}, nil
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	addrs, err := s.resolver.LookupNetIP(ctx, "ip", name)
	if err != nil || len(addrs) == 0 {
		return Target{}, refuse(fmt.Sprintf("%s does not resolve, so it cannot be checked against the scan scope; check the name.", name))
	}
	listed := hostListed(rules, name)
	t := Target{Name: name}
	for _, a := range addrs {
		a = a.Unmap()
		p := netip.PrefixFrom(a, a.BitLen())
		if !listed && !covered(rules, p) {
			return Target{}, refuse(fmt.Sprintf("%s resolves to %s, which is outside the scan scope of this room; only configured ranges and hosts can be scanned.", name, a))
		}
		if !slices.Contains(t.Prefixes, p) {
			t.Prefixes = append(t.Prefixes, p)
		}
	}
	return t, nil
}

// CheckHost approves a host given as text (a name or an address), as a URL
// or host:port carries it.
func (s *Scope) CheckHost(ctx context.Context, room, host string) (Target, error) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return s.Check(ctx, room, netip.PrefixFrom(a, a.BitLen()), "")
	}
	return s.Check(ctx, room, netip.Prefix{}, host)
}

// refusal is a refusal whose text is the sentence for the user.
type refusal struct{ msg string }

func (r refusal) Error() string        { return r.msg }
func (r refusal) Is(target error) bool { return target == ErrOutOfScope }

func refuse(msg string) error { return refusal{msg} }

func (s *Scope) forRoom(room string) []Rule {
	var out []Rule
	for _, r := range s.rules {
		if len(r.Rooms) == 0 || slices.Contains(r.Rooms, room) {
			out = append(out, r)
		}
	}
	return out
}

// covered reports whether one rule's prefix holds all of p.
func covered(rules []Rule, p netip.Prefix) bool {
	for _, r := range rules {
		for _, in := range r.Prefixes {
			if in.Bits() <= p.Bits() && in.Contains(p.Addr()) {
				return true
			}
		}
	}
	return false
}

func hostListed(rules []Rule, name string) bool {
	for _, r := range rules {
		for _, h := range r.Hosts {
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				if strings.HasSuffix(name, "."+suffix) {
					return true
				}
			} else if h == name {
				return true
			}
		}
	}
	return false
}
