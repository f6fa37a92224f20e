// Package alert turns what monitoring tools and Git hosts report into chat
// messages: it routes each alert to rooms by rules, drops repeats within a
// window, folds storms into one summary, follows up on resolved alerts,
// keeps open alerts for "alerts", "ack" and "silence", and escalates those
// nobody acknowledged in time. Every decision is stored before Accept
// returns, so the HTTP source that reported an alert is told 2xx only once
// a restart can no longer lose it.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status says whether an alert is still happening.
type Status string

// The statuses an alert can have.
const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Alert is one report from a source, already verified and parsed.
type Alert struct {
	Source     string            `json:"source"` // "github", "alertmanager", …
	Status     Status            `json:"status"`
	Severity   Severity          `json:"severity"`
	Title      string            `json:"title"`
	Text       string            `json:"text,omitempty"` // further lines, in the bot's markup
	URL        string            `json:"url,omitempty"`
	Repository string            `json:"repository,omitempty"` // "owner/name" for Git hosts
	Labels     map[string]string `json:"labels,omitempty"`
	// Fingerprint is the source's own identity for the alert, when it has
	// one (Alertmanager's fingerprint, a GitHub alert number); without it
	// the identity is derived from the title, repository and labels.
	Fingerprint string `json:"fingerprint,omitempty"`
	// GroupKey puts alerts that belong together in one storm; empty means
	// the source and title.
	GroupKey string `json:"group_key,omitempty"`
	// Notice marks information rather than a problem (a push, a merged
	// pull request): it is routed and deduplicated but not kept open, so
	// nobody has to acknowledge it.
	Notice   bool      `json:"notice,omitempty"`
	StartsAt time.Time `json:"starts_at,omitzero"`
}

// ID returns the alert's fingerprint: a short hash that is the same for
// every report of the same problem from the same source.
func (a *Alert) ID() string {
	h := sha256.New()
	h.Write([]byte(a.Source))
	h.Write([]byte{0})
	if a.Fingerprint != "" {
		h.Write([]byte(a.Fingerprint))
	} else {
		h.Write([]byte(a.Title))
		h.Write([]byte{0})
		h.Write([]byte(a.Repository))
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "\x00%s=%s", k, a.Labels[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (a *Alert) groupKey() string {
	if a.GroupKey != "" {
		return a.Source + "\x00" + a.GroupKey
	}
	return a.Source + "\x00" + a.Title
}

// field returns what a matcher named key compares: one of the alert's own
// fields, or else the label of that name.
func (a *Alert) field(key string) string {
	switch key {
	case "source":
		return a.Source
	case "severity":
		return a.Severity.String()
	case "repository", "repo":
		return a.Repository
	case "title":
		return a.Title
	case "status":
		return string(a.Status)
	}
	return a.Labels[key]
}

// Severity orders alerts from information to emergencies.
type Severity int

// The severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the severity's name.
func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "info"
}

// MarshalText writes the name, so stored alerts stay readable.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads any name ParseSeverity knows.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return fmt.Errorf("unknown severity %q", b)
	}
	*s = v
	return nil
}

// ParseSeverity reads the words sources use for severity (GitHub's
// "moderate", Alertmanager's "warning", Falco's priorities, Security Hub's
// labels) onto the five levels.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info", "informational", "debug", "none", "notice", "note", "":
		return Info, true
	case "low", "minor":
		return Low, true
	case "medium", "moderate", "warning", "warn":
		return Medium, true
	case "high", "error", "major":
		return High, true
	case "critical", "alert", "emergency", "page":
		return Critical, true
	}
	return Info, false
}
