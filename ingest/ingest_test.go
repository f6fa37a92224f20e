package ingest_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/ingest"
	"github.com/seipbot/seipbot/metrics"
	"github.com/seipbot/seipbot/metrics/metricstest"
	"github.com/seipbot/seipbot/store/memory"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var now = time.Date(2026, 3, 10, 16, 0, 30, 0, time.UTC)

func clock() time.Time { return now }

const (
	secret   = "It's a Secret to Everybody"
	topicARN = "arn:aws:sns:eu-west-1:123456789012:security-findings"
)

// recorder is the outbox the tests read: it keeps each message in order,
// and replaces one sent again under the same id, as the outbox does.
type recorder struct {
	mu   sync.Mutex
	ids  []string
	msgs map[string]bot.Response
}

func (r *recorder) SendDurable(_ context.Context, id string, resp bot.Response) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.msgs == nil {
		r.msgs = map[string]bot.Response{}
	}
	if _, ok := r.msgs[id]; !ok {
		r.ids = append(r.ids, id)
	}
	r.msgs[id] = resp
	return nil
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, id := range r.ids {
		out = append(out, r.msgs[id].Text)
	}
	return out
}

// newServer returns a server with src behind a real alert manager that
// routes everything to #sec and records what it would say.
func newServer(t *testing.T, src ingest.Source) (http.Handler, *recorder) {
	return newServerWith(t, src, nil)
}

// newServerWith is newServer with both the server and the alert manager
// exporting their metrics on reg, served on /metrics, unless reg is nil.
func newServerWith(t *testing.T, src ingest.Source, reg *metrics.Registry) (http.Handler, *recorder) {
	t.Helper()
	rec := &recorder{}
	opts := ingest.Options{Sources: []ingest.Source{src}, MaxBody: 256 << 10, Now: clock}
	var registerer metrics.Registerer
	if reg != nil {
		registerer, opts.Registerer, opts.Metrics = reg, reg, reg
	}
	m, err := alert.New(alert.Options{
		Rules:       []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}},
		DedupWindow: time.Hour, Store: memory.New(), Outbox: rec, Now: clock, Registerer: registerer,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	opts.Sink = m
	s, err := ingest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler(), rec
}

// Modes of a request a case builds.
const (
	valid   = "valid"
	invalid = "invalid" // signed with the wrong secret
	missing = "missing" // no signature or credential
	stale   = "stale"   // signed, but outside the time window
)

type sourceCase struct {
	src      ingest.Source
	fixtures []string // testdata/<source>_<fixture>.json
	// build makes the request for a fixture's content, in a mode, with a
	// delivery id.
	build func(t *testing.T, fixture string, body []byte, mode, delivery string) *http.Request
	// replay says how a delivery sent twice is caught: refused by its id
	// (true), or accepted and deduplicated (false).
	refusesRepeat bool
	// hasWindow is set for sources that sign or carry a timestamp.
	hasWindow bool
}

func post(path string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func githubEvent(fixture string) string {
	e := strings.TrimPrefix(fixture, "github_")
	if strings.HasPrefix(e, "push") {
		return "push"
	}
	return strings.TrimSuffix(e, "_merged")
}

func cases(t testing.TB) map[string]sourceCase {
	snsFx := newSNSFixture(t)
	return map[string]sourceCase{
		"github": {
			src:           &ingest.GitHub{Secret: secret, Protected: []string{"release/*"}},
			fixtures:      []string{"push", "push_forced", "ping", "pull_request", "pull_request_merged", "workflow_run", "dependabot_alert", "code_scanning_alert", "secret_scanning_alert", "security_advisory"},
			refusesRepeat: true,
			build: func(t *testing.T, fixture string, body []byte, mode, delivery string) *http.Request {
				r := post("/hooks/github", body)
				r.Header.Set("X-GitHub-Event", githubEvent("github_"+fixture))
				r.Header.Set("X-GitHub-Delivery", delivery)
				switch mode {
				case valid, stale:
					r.Header.Set("X-Hub-Signature-256", githubSig(secret, body))
				case invalid:
					r.Header.Set("X-Hub-Signature-256", githubSig("wrong", body))
				}
				return r
			},
		},
		"gitlab": {
			src:           &ingest.GitLab{Token: secret},
			fixtures:      []string{"push", "merge_request", "pipeline"},
			refusesRepeat: true,
			build: func(t *testing.T, fixture string, body []byte, mode, delivery string) *http.Request {
				r := post("/hooks/gitlab", body)
				r.Header.Set("X-Gitlab-Event-UUID", delivery)
				switch mode {
				case valid, stale:
					r.Header.Set("X-Gitlab-Token", secret)
				case invalid:
					r.Header.Set("X-Gitlab-Token", "wrong")
				}
				return r
			},
		},
		"alertmanager": {
			src:      &ingest.Alertmanager{BearerToken: secret},
			fixtures: []string{"firing", "resolved"},
			build: func(t *testing.T, fixture string, body []byte, mode, delivery string) *http.Request {
				r := post("/hooks/alertmanager", body)
				return withBearer(r, mode)
			},
		},
		"falco": {
			src:       &ingest.Falco{Token: secret, Now: clock},
			fixtures:  []string{"event"},
			hasWindow: true,
			build: func(t *testing.T, fixture string, body []byte, mode, delivery string) *http.Request {
				if mode == stale {
					body = bytes.ReplaceAll(body, []byte(`"time": "2026-03-10T16:00:00`), []byte(`"time": "2026-03-10T15:40:00`))
				}
				r := post("/hooks/falco", body)
				return withBearer(r, mode)
			},
		},
		"generic": {
			src:           &ingest.Generic{Secret: secret, Now: clock},
			fixtures:      []string{"alert"},
			refusesRepeat: true,
			hasWindow:     true,
			build: func(t *testing.T, fixture string, body []byte, mode, delivery string) *http.Request {
				r := post("/hooks/generic", body)
				at := now
				key := secret
				switch mode {
				case missing:
					return r
				case stale:
					at = now.Add(-10 * time.Minute)
				case invalid:
					key = "wrong"
				}
				ts, sig := ingest.Sign(key, at, body)
				r.Header.Set("X-Seipbot-Timestamp", ts)
				r.Header.Set("X-Seipbot-Signature", sig)
				return r
			},
		},
		"sns": {
			src: &ingest.SNS{TopicARNs: []string{topicARN}, Hosts: []string{"127.0.0.1"}, Roots: snsFx.roots, Now: clock},
			// The fixtures are EventBridge events; build wraps them in a
			// signed SNS notification.
			fixtures:      []string{"guardduty", "securityhub"},
			refusesRepeat: true,
			hasWindow:     true,
			build: func(t *testing.T, fixture string, body []byte, mode, delivery string) *http.Request {
				m := snsFx.notification(string(body), delivery)
				switch mode {
				case missing:
					m["Signature"] = ""
				case stale:
					m["Timestamp"] = now.Add(-2 * time.Hour).Format(time.RFC3339)
					snsFx.sign(t, m, "2", snsFx.key)
				case invalid:
					snsFx.sign(t, m, "2", snsFx.other)
				default:
					snsFx.sign(t, m, "2", snsFx.key)
				}
				return post("/hooks/sns", mustJSON(t, m))
			},
		},
	}
}

// withBearer authenticates r as Alertmanager and falcosidekick do.
func withBearer(r *http.Request, mode string) *http.Request {
	switch mode {
	case valid, stale:
		r.Header.Set("Authorization", "Bearer "+secret)
	case invalid:
		r.Header.Set("Authorization", "Bearer wrong")
	}
	return r
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func send(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// alertIDs are the random short ids, replaced so golden files are stable.
var alertIDs = regexp.MustCompile(`\b(alert|ack) [a-z2-9]{6}\b`)

// TestFixturesGolden posts each fixture, validly signed, and compares what
// the bot would say in the room with testdata/<source>_<fixture>.golden.
func TestFixturesGolden(t *testing.T) {
	for name, c := range cases(t) {
		for _, fx := range c.fixtures {
			t.Run(name+"_"+fx, func(t *testing.T) {
				h, rec := newServer(t, c.src)
				if fx == "resolved" { // a resolution follows what it resolves
					w := send(h, c.build(t, "firing", readFixture(t, name+"_firing"), valid, "d0"))
					if w.Code != http.StatusAccepted {
						t.Fatalf("firing: %d %s", w.Code, w.Body)
					}
				}
				w := send(h, c.build(t, fx, readFixture(t, name+"_"+fx), valid, "d1"))
				if w.Code != http.StatusAccepted {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				got := alertIDs.ReplaceAllString(strings.Join(rec.texts(), "\n-----\n")+"\n", "$1 ID")
				golden(t, name+"_"+fx, got)
			})
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// TestVerification checks, for every source, that a valid request is
// accepted and that an invalid, missing, replayed or oversized one is
// refused and posts nothing.
func TestVerification(t *testing.T) {
	for name, c := range cases(t) {
		fx := c.fixtures[0]
		body := readFixture(t, name+"_"+fx)
		t.Run(name, func(t *testing.T) {
			h, rec := newServer(t, c.src)
			for _, mode := range []string{invalid, missing} {
				if w := send(h, c.build(t, fx, body, mode, "d-"+mode)); w.Code != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", mode, w.Code)
				}
			}
			if c.hasWindow {
				if w := send(h, c.build(t, fx, body, stale, "d-stale")); w.Code != http.StatusUnauthorized {
					t.Errorf("outside the window: status %d, want 401", w.Code)
				}
			}
			big := append(bytes.Repeat([]byte(" "), 300<<10), body...)
			if w := send(h, c.build(t, fx, big, valid, "d-big")); w.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("oversized: status %d, want 413", w.Code)
			}
			if n := len(rec.texts()); n != 0 {
				t.Fatalf("refused requests posted %d messages", n)
			}

			if w := send(h, c.build(t, fx, body, valid, "d-1")); w.Code != http.StatusAccepted {
				t.Fatalf("valid: status %d (%s), want 202", w.Code, w.Body)
			}
			posted := len(rec.texts())
			if posted == 0 {
				t.Fatal("a valid request posted nothing")
			}
			w := send(h, c.build(t, fx, body, valid, "d-1"))
			switch {
			case c.refusesRepeat && w.Code != http.StatusUnauthorized:
				t.Errorf("replayed: status %d, want 401", w.Code)
			case !c.refusesRepeat && w.Code != http.StatusAccepted:
				t.Errorf("repeated: status %d, want 202 (deduplicated)", w.Code)
			}
			if n := len(rec.texts()); n != posted {
				t.Errorf("the repeat posted %d more messages", n-posted)
			}
		})
	}
}

// TestMetrics sends one accepted, one forged and one oversized webhook and
// reads what /metrics says of them, the alert manager's metrics on the
// same registry as the server's.
func TestMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	c := cases(t)["generic"]
	body := readFixture(t, "generic_alert")
	h, _ := newServerWith(t, c.src, reg)
	if w := send(h, c.build(t, "alert", body, valid, "d-1")); w.Code != http.StatusAccepted {
		t.Fatalf("valid: status %d (%s), want 202", w.Code, w.Body)
	}
	send(h, c.build(t, "alert", body, invalid, "d-2"))
	send(h, c.build(t, "alert", append(bytes.Repeat([]byte(" "), 300<<10), body...), valid, "d-3"))
	generic := func(labels ...string) map[string]string {
		m := map[string]string{"source": "generic"}
		for i := 0; i < len(labels); i += 2 {
			m[labels[i]] = labels[i+1]
		}
		return m
	}
	for _, want := range []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"seipbot_ingest_requests_total", generic("code", "202"), 1},
		{"seipbot_ingest_requests_total", generic("code", "401"), 1},
		{"seipbot_ingest_requests_total", generic("code", "413"), 1},
		{"seipbot_ingest_rejected_total", generic("reason", "invalid"), 1},
		{"seipbot_ingest_rejected_total", generic("reason", "oversized"), 1},
		{"seipbot_alerts_received_total", generic(), 1},
		{"seipbot_ingest_accept_seconds", generic(), 1}, // observations
		{"seipbot_alerts_open", nil, 1},
		{"seipbot_alerts_notified_total", map[string]string{"kind": "new"}, 1},
	} {
		if got, ok := metricstest.Value(t, h, want.name, want.labels); !ok || got != want.value {
			t.Errorf("%s%v = %v (found: %v), want %v", want.name, want.labels, got, ok, want.value)
		}
	}
}

func githubSig(key string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
