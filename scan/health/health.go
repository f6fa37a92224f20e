// Package health checks that a service answers — an HTTP(S) URL with an
// expected status and text, or a TCP port that accepts connections — and
// keeps a monitor's state: up or down after a run of failures, how long
// an outage lasted, and response times over the last checks.
//
// Like the other scanners, it connects only to the address the caller
// approved, never to a fresh DNS answer.
package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Target is what to check.
type Target struct {
	// URL is an http or https URL; nil for a TCP check of Port.
	URL *url.URL
	// Port is the TCP port of a TCP check.
	Port string
	// Addr is the approved address to connect to.
	Addr netip.Addr
}

// Options tune a check.
type Options struct {
	// Expect is the HTTP status wanted; zero accepts any below 400.
	Expect int
	// Contains is text the body must hold.
	Contains string
	// Timeout bounds the check; zero means 10s.
	Timeout time.Duration
	// Roots verifies HTTPS certificates; nil means the system's.
	Roots *x509.CertPool
}

// Result is one check.
type Result struct {
	At      time.Time     `json:"at"`
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"latency"`
	// Detail says why a check failed, or the status of one that passed.
	Detail string `json:"detail,omitempty"`
}

// bodyLimit bounds what is read of a response when looking for text.
const bodyLimit = 1 << 20

// Check checks t once. It never returns an error: a failure is a Result
// that is not OK, with the reason in Detail. The result is stamped with
// now(), the caller's clock, while its latency is measured on the real
// one.
func Check(ctx context.Context, t Target, o Options, now func() time.Time) Result {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	r := Result{At: now()}
	var err error
	if t.URL == nil {
		err = checkTCP(ctx, t)
		r.Detail = "connected"
	} else {
		r.Detail, err = checkHTTP(ctx, t, o)
	}
	r.Latency = time.Since(start)
	if err != nil {
		r.Detail = reason(err)
		return r
	}
	r.OK = true
	return r
}

func dial(ctx context.Context, t Target, port string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort(t.Addr.String(), port))
}

func checkTCP(ctx context.Context, t Target) error {
	c, err := dial(ctx, t, t.Port)
	if err != nil {
		return err
	}
	return c.Close()
}

// errCheck is a check that got an answer, but the wrong one.
type errCheck struct{ msg string }

func (e errCheck) Error() string { return e.msg }

func checkHTTP(ctx context.Context, t Target, o Options) (string, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return dial(ctx, t, port)
		},
		TLSClientConfig:   &tls.Config{RootCAs: o.Roots, ServerName: t.URL.Hostname()},
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	// Redirects are not followed: the next hop was not approved, and a
	// redirect is an answer worth checking with --expect.
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "seipbot-monitor")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	status := fmt.Sprintf("HTTP %d", resp.StatusCode)
	switch {
	case o.Expect != 0 && resp.StatusCode != o.Expect:
		return "", errCheck{fmt.Sprintf("%s, expected %d", status, o.Expect)}
	case o.Expect == 0 && resp.StatusCode >= 400:
		return "", errCheck{status}
	}
	if o.Contains != "" {
		body, err := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
		if err != nil {
			return "", err
		}
		if !strings.Contains(string(body), o.Contains) {
			return "", errCheck{status + ", but the expected text is missing"}
		}
	}
	return status, nil
}

// reason says briefly why a check failed, without internal detail.
func reason(err error) string {
	var ec errCheck
	var ne net.Error
	var cv *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ec):
		return ec.msg
	case errors.As(err, &cv):
		return "the certificate is not trusted"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	case strings.Contains(err.Error(), "refused"):
		return "connection refused"
	}
	return "the connection failed"
}

// State is a monitor's memory of its checks.
type State struct {
	// Down is set once Threshold checks in a row have failed, and cleared
	// by the next success.
	Down bool `json:"down"`
	// Failures counts the failed checks in a row.
	Failures int `json:"failures"`
	// FailingSince is when the current run of failures began: the start
	// of an outage, which is reported when it ends.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// History holds the last checks, oldest first.
	History []Result `json:"history"`
}

// Change is a state change worth telling people about.
type Change struct {
	Down bool
	// Lasted is how long the outage lasted, for a change to up.
	Lasted time.Duration
	// Detail is the failure that brought it down.
	Detail string
}

// Record adds a result, keeping at most history of them, and returns the
// change it caused, if any: down after threshold failures in a row, up at
// the first success after that.
func (s *State) Record(r Result, threshold, history int) (Change, bool) {
	s.History = append(s.History, r)
	if over := len(s.History) - history; over > 0 {
		s.History = slices.Delete(s.History, 0, over)
	}
	if r.OK {
		was, since := s.Down, s.FailingSince
		s.Down, s.Failures, s.FailingSince = false, 0, time.Time{}
		if was {
			return Change{Lasted: r.At.Sub(since)}, true
		}
		return Change{}, false
	}
	if s.Failures == 0 {
		s.FailingSince = r.At
	}
	s.Failures++
	if !s.Down && s.Failures >= threshold {
		s.Down = true
		return Change{Down: true, Detail: r.Detail}, true
	}
	return Change{}, false
}

// Stats sum up the response times of the successful checks in a history.
type Stats struct {
	Checks, OK         int
	Min, Avg, Max, P95 time.Duration
}

// Summary returns the stats of the state's history.
func (s *State) Summary() Stats {
	st := Stats{Checks: len(s.History)}
	var times []time.Duration
	for _, r := range s.History {
		if r.OK {
			times = append(times, r.Latency)
		}
	}
	st.OK = len(times)
	if len(times) == 0 {
		return st
	}
	slices.Sort(times)
	var sum time.Duration
	for _, d := range times {
		sum += d
	}
	// The nearest-rank percentile: the smallest time at least 95% of the
	// checks were as fast as.
	rank := (95*len(times) + 99) / 100
	st.Min, st.Max, st.Avg, st.P95 = times[0], times[len(times)-1], sum/time.Duration(len(times)), times[rank-1]
	return st
}
