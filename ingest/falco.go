package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/seipbot/seipbot/alert"
)

// Falco receives falcosidekick's webhook output. falcosidekick signs
// nothing, so it is set to send "Authorization: Bearer <token>" through its
// custom headers, and events older than the window are refused.
type Falco struct {
	Token  string
	Window time.Duration // default 5m
	Now    func() time.Time
}

// Name returns "falco".
func (f *Falco) Name() string { return "falco" }

// ReplayWindow is the window events must fall in.
func (f *Falco) ReplayWindow() time.Duration {
	if f.Window <= 0 {
		return 5 * time.Minute
	}
	return f.Window
}

// Verify checks the bearer token.
func (f *Falco) Verify(r *http.Request, _ []byte) (string, error) {
	return "", checkToken(f.Token, bearer(r.Header.Get("Authorization")))
}

type falcoEvent struct {
	UUID     string         `json:"uuid"`
	Output   string         `json:"output"`
	Priority string         `json:"priority"`
	Rule     string         `json:"rule"`
	Time     time.Time      `json:"time"`
	Fields   map[string]any `json:"output_fields"`
	Source   string         `json:"source"`
	Tags     []string       `json:"tags"`
	Hostname string         `json:"hostname"`
}

// Parse renders the event with its priority, rule, output and fields.
// Events of one rule on one host are one alert, and a rule firing across
// many hosts is one storm.
func (f *Falco) Parse(_ *http.Request, body []byte) ([]alert.Alert, error) {
	var e falcoEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	if e.Rule == "" || e.Time.IsZero() {
		return nil, fmt.Errorf("an event needs a rule and a time")
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	if err := inWindow(e.Time, now(), f.ReplayWindow()); err != nil {
		return nil, fmt.Errorf("event time %s: %w", e.Time.Format(time.RFC3339), err)
	}
	sev, _ := alert.ParseSeverity(e.Priority)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lines := []string{"`" + strings.TrimSpace(e.Output) + "`"}
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s: %v", k, e.Fields[k]))
	}
	if len(e.Tags) > 0 {
		lines = append(lines, "tags: "+strings.Join(e.Tags, ", "))
	}
	return []alert.Alert{{
		Source:   "falco",
		Status:   alert.Firing,
		Severity: sev,
		Title:    fmt.Sprintf("%s on %s (%s)", e.Rule, e.Hostname, e.Priority),
		Text:     strings.Join(lines, "\n"),
		Labels:   map[string]string{"rule": e.Rule, "priority": e.Priority, "hostname": e.Hostname, "event_source": e.Source},
		GroupKey: e.Rule,
		StartsAt: e.Time,
	}}, nil
}
