// Package metricstest reads /metrics for tests. It parses what a handler
// serves with Prometheus's own text parser, so every test that reads a
// value also checks that the exposition is one Prometheus accepts. It is
// for tests only: the parser is the dependency the metrics package exists
// to keep out of the bot.
package metricstest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/seipbot/seipbot/metrics"
)

// Scrape GETs /metrics from h and returns the body, failing t unless the
// answer is a 200 in the text format that Prometheus parses with its
// strictest (legacy) name rules.
func Scrape(t testing.TB, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != metrics.ContentType {
		t.Fatalf("GET /metrics: Content-Type %q, want %q", ct, metrics.ContentType)
	}
	body := rec.Body.String()
	p := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(body)); err != nil {
		t.Fatalf("GET /metrics: Prometheus does not parse it: %v\n%s", err, body)
	}
	return body
}

// Value scrapes h and returns the first series of the named metric whose
// labels include these: a counter's or gauge's value, a histogram's or
// summary's count of observations. ok is false when there is none.
func Value(t testing.TB, h http.Handler, name string, labels map[string]string) (v float64, ok bool) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(Scrape(t, h)))
	if err != nil {
		t.Fatal(err)
	}
series:
	for _, m := range families[name].GetMetric() {
		matched := 0
		for _, l := range m.GetLabel() {
			if want, ok := labels[l.GetName()]; ok {
				if want != l.GetValue() {
					continue series
				}
				matched++
			}
		}
		if matched < len(labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		}
	}
	return 0, false
}
