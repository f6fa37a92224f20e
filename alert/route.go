package alert

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/seipbot/seipbot/template"
)

// Matcher compares one field or label of an alert: key=value, key!=value,
// or key=~regexp (anchored, RE2).
type Matcher struct {
	Key   string
	Op    string // "=", "!=" or "=~"
	Value string
	re    *regexp.Regexp
}

// MatcherError is a mistake in matchers, in words for the person who
// typed them.
type MatcherError struct{ Msg string }

func (e *MatcherError) Error() string { return e.Msg }

// Matchers all have to match.
type Matchers []Matcher

// ParseMatchers reads comma-separated matchers such as
// "source=falco,priority=~Critical|Error,host!=bastion".
func ParseMatchers(s string) (Matchers, error) {
	var ms Matchers
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var m Matcher
		var ok bool
		for _, op := range []string{"!=", "=~", "="} {
			if k, v, found := strings.Cut(part, op); found {
				m, ok = Matcher{Key: strings.TrimSpace(k), Op: op, Value: strings.TrimSpace(v)}, true
				break
			}
		}
		if !ok || m.Key == "" {
			return nil, &MatcherError{fmt.Sprintf("%q is not a matcher; write key=value, key!=value or key=~regexp", part)}
		}
		if m.Op == "=~" {
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				return nil, &MatcherError{fmt.Sprintf("%q: %v", part, err)}
			}
			m.re = re
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, &MatcherError{"no matcher given; write key=value, such as alertname=HighLatency"}
	}
	return ms, nil
}

// String writes the matchers back in the form ParseMatchers reads.
func (ms Matchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Key + m.Op + m.Value
	}
	return strings.Join(parts, ",")
}

// Match reports whether every matcher matches a.
func (ms Matchers) Match(a *Alert) bool {
	for _, m := range ms {
		v := a.field(m.Key)
		var ok bool
		switch m.Op {
		case "=":
			ok = v == m.Value
		case "!=":
			ok = v != m.Value
		case "=~":
			ok = m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// Rule sends the alerts it matches to rooms. A rule with no conditions
// matches everything.
type Rule struct {
	Sources     []string // empty: any source
	MinSeverity Severity
	Match       Matchers // fields and labels
	// Repositories are path.Match patterns such as "acme/*".
	Repositories []string
	Rooms        []Destination
	// Escalate, when set, tells another room about an alert still not
	// acknowledged after a while. Notices never escalate.
	Escalate *Escalation
	// Continue lets the alert match later rules too; otherwise the first
	// matching rule decides.
	Continue bool
}

// Destination is a room and how alerts are written there.
type Destination struct {
	Adapter string // empty: the bot's first adapter
	Room    string
	// Template, when set, renders the message instead of the default; it
	// sees a View.
	Template *template.Template
}

// Escalation names where an unacknowledged alert goes, and when.
type Escalation struct {
	After time.Duration
	To    Destination
}

func (r *Rule) matches(a *Alert) bool {
	if len(r.Sources) > 0 && !slices.Contains(r.Sources, a.Source) {
		return false
	}
	if a.Severity < r.MinSeverity && !a.Notice {
		return false
	}
	if len(r.Repositories) > 0 && !slices.ContainsFunc(r.Repositories, func(p string) bool {
		ok, _ := path.Match(p, a.Repository)
		return ok
	}) {
		return false
	}
	return r.Match.Match(a)
}

// route returns the destinations of a, with no room twice, and the first
// escalation of the rules that matched.
func route(rules []Rule, a *Alert) ([]Destination, *Escalation) {
	var dests []Destination
	var esc *Escalation
	for i := range rules {
		r := &rules[i]
		if !r.matches(a) {
			continue
		}
		for _, d := range r.Rooms {
			if !slices.ContainsFunc(dests, func(o Destination) bool { return o.Adapter == d.Adapter && o.Room == d.Room }) {
				dests = append(dests, d)
			}
		}
		if esc == nil && r.Escalate != nil && !a.Notice {
			esc = r.Escalate
		}
		if !r.Continue {
			break
		}
	}
	return dests, esc
}

// ParseTemplate compiles a per-room template, failing on a syntax error so
// that a broken template stops start-up rather than an alert.
func ParseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return t, nil
}
