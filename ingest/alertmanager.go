package ingest

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/seipbot/seipbot/alert"
)

// Alertmanager receives Prometheus Alertmanager's webhook (version 4),
// authenticated by a bearer token or basic auth as http_config sets them.
type Alertmanager struct {
	BearerToken        string
	Username, Password string
}

// Name returns "alertmanager".
func (am *Alertmanager) Name() string { return "alertmanager" }

// ReplayWindow is unused: Alertmanager repeats notifications on purpose
// (repeat_interval) and sends no delivery id, so repeats are the alert
// manager's deduplication to handle.
func (am *Alertmanager) ReplayWindow() time.Duration { return 0 }

// Verify checks the bearer token or the basic-auth pair, whichever is
// configured.
func (am *Alertmanager) Verify(r *http.Request, _ []byte) (string, error) {
	if am.BearerToken != "" {
		return "", checkToken(am.BearerToken, bearer(r.Header.Get("Authorization")))
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", ErrUnsigned
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(am.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(am.Password))
	if u&p != 1 {
		return "", ErrBadSignature
	}
	return "", nil
}

type amPayload struct {
	Version  string `json:"version"`
	GroupKey string `json:"groupKey"`
	Alerts   []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// Parse turns each alert of the notification into one, grouped by the
// notification's groupKey.
func (am *Alertmanager) Parse(_ *http.Request, body []byte) ([]alert.Alert, error) {
	var p amPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	if p.Version != "4" {
		return nil, fmt.Errorf("webhook version %q; this endpoint reads version 4", p.Version)
	}
	if len(p.Alerts) == 0 {
		return nil, errors.New("no alerts in the notification")
	}
	out := make([]alert.Alert, 0, len(p.Alerts))
	for _, x := range p.Alerts {
		sev, _ := alert.ParseSeverity(x.Labels["severity"])
		a := alert.Alert{
			Source:      "alertmanager",
			Status:      alert.Status(x.Status),
			Severity:    sev,
			Title:       cmp.Or(x.Annotations["summary"], x.Labels["alertname"]),
			Text:        x.Annotations["description"],
			URL:         x.GeneratorURL,
			Labels:      x.Labels,
			Fingerprint: x.Fingerprint,
			GroupKey:    p.GroupKey,
			StartsAt:    x.StartsAt,
		}
		if a.Status != alert.Resolved {
			a.Status = alert.Firing
		}
		out = append(out, a)
	}
	return out, nil
}
