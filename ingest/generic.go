package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/template"
)

// Generic receives JSON from any tool that can sign it: the header
// X-Seipbot-Signature is "sha256=" and the hex HMAC-SHA256, under the
// shared secret, of X-Seipbot-Timestamp (Unix seconds), a dot, and the
// body. A timestamp outside the window, or a signature seen before within
// it, is refused.
//
// The body is an alert object ({"title", "text", "severity", "status",
// "labels", "fingerprint", "group_key", "url", "repository", "notice"}) or
// a list of them. With a Template, the body may be any JSON object instead:
// the template renders it, its first line becomes the title and the rest
// the text, and "severity", "status" and "fingerprint" are still read if
// present.
type Generic struct {
	Secret   string
	Window   time.Duration // default 5m
	Template *template.Template
	Now      func() time.Time
}

// Name returns "generic".
func (g *Generic) Name() string { return "generic" }

// ReplayWindow is the timestamp window.
func (g *Generic) ReplayWindow() time.Duration {
	if g.Window <= 0 {
		return 5 * time.Minute
	}
	return g.Window
}

// Verify checks the timestamp, then the signature over it and the body.
func (g *Generic) Verify(r *http.Request, body []byte) (string, error) {
	sig, tsText := r.Header.Get("X-Seipbot-Signature"), r.Header.Get("X-Seipbot-Timestamp")
	if sig == "" || tsText == "" {
		return "", ErrUnsigned
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", ErrBadSignature
	}
	if err := checkHMAC(g.Secret, sig, []byte(tsText), []byte{'.'}, body); err != nil {
		return "", err
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	return sig, inWindow(time.Unix(secs, 0), now(), g.ReplayWindow())
}

// Sign returns the headers that make body verify under secret at t, for
// senders written in Go (and the load generator).
func Sign(secret string, t time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(t.Unix(), 10)
	return timestamp, sigHex(secret, []byte(timestamp), []byte{'.'}, body)
}

type genericAlert struct {
	Title       string            `json:"title"`
	Text        string            `json:"text"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Fingerprint string            `json:"fingerprint"`
	GroupKey    string            `json:"group_key"`
	URL         string            `json:"url"`
	Repository  string            `json:"repository"`
	Notice      bool              `json:"notice"`
}

// Parse reads one alert or a list.
func (g *Generic) Parse(_ *http.Request, body []byte) ([]alert.Alert, error) {
	if g.Template != nil {
		return g.templated(body)
	}
	var list []genericAlert
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, err
		}
	} else {
		var one genericAlert
		if err := json.Unmarshal(body, &one); err != nil {
			return nil, err
		}
		list = []genericAlert{one}
	}
	out := make([]alert.Alert, 0, len(list))
	for i, x := range list {
		if strings.TrimSpace(x.Title) == "" {
			return nil, fmt.Errorf("alert %d has no title", i)
		}
		a, err := x.alert()
		if err != nil {
			return nil, fmt.Errorf("alert %d: %w", i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func (x *genericAlert) alert() (alert.Alert, error) {
	sev, ok := alert.ParseSeverity(x.Severity)
	if !ok {
		return alert.Alert{}, fmt.Errorf("severity %q is not one of info, low, medium, high, critical", x.Severity)
	}
	a := alert.Alert{
		Source: "generic", Status: alert.Firing, Severity: sev, Title: x.Title, Text: x.Text,
		Labels: x.Labels, Fingerprint: x.Fingerprint, GroupKey: x.GroupKey, URL: x.URL,
		Repository: x.Repository, Notice: x.Notice,
	}
	switch x.Status {
	case "", "firing":
	case "resolved":
		a.Status = alert.Resolved
	default:
		return alert.Alert{}, fmt.Errorf("status %q is not firing or resolved", x.Status)
	}
	return a, nil
}

func (g *Generic) templated(body []byte) ([]alert.Alert, error) {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := g.Template.Execute(&b, doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	title, text, _ := strings.Cut(strings.TrimSpace(b.String()), "\n")
	if title == "" {
		return nil, errors.New("the template rendered nothing for this payload")
	}
	x := genericAlert{Title: title, Text: strings.TrimSpace(text)}
	x.Severity, _ = doc["severity"].(string)
	x.Status, _ = doc["status"].(string)
	x.Fingerprint, _ = doc["fingerprint"].(string)
	a, err := x.alert()
	if err != nil {
		return nil, err
	}
	return []alert.Alert{a}, nil
}
