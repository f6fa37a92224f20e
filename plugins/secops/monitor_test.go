package secops

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestMonitorFlapping drives a monitor of a loopback server that is up,
// down for three checks and up again, running its scheduler entries by
// hand on a fake clock: it must say down once and up once, with how long
// the outage lasted.
func TestMonitorFlapping(t *testing.T) {
	f := newFixture(t)
	f.p.o.Monitor.MinEvery = 30 * time.Second
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("status: ok"))
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	f.p.o.Now = clk.now

	got := f.say(t, fmt.Sprintf("monitor add API http://lab.test:%d/health --every 1m --expect 200 --contains \"status: ok\"", port))
	if !strings.HasPrefix(got, "Monitoring api (http://lab.test:") {
		t.Fatalf("add: %q", got)
	}
	ctx := context.Background()
	entries, err := f.p.o.Sched.List(ctx, monitorKind)
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries: %v %v", entries, err)
	}
	e := entries[0]
	for i, up := range []bool{true, false, false, false, true, true} {
		healthy.Store(up)
		clk.set(t0.Add(time.Duration(i) * time.Minute))
		e.At, e.ID = clk.now(), fmt.Sprintf("e%d", i)
		if err := f.p.monitorCheck(ctx, e, false); err != nil {
			t.Fatal(err)
		}
	}
	var down, back []string
	for _, r := range f.said.get() {
		switch {
		case strings.Contains(r.Text, "is DOWN"):
			down = append(down, r.Text)
		case strings.Contains(r.Text, "is back UP"):
			back = append(back, r.Text)
		}
		if r.Room != "#soc" {
			t.Errorf("said in %q", r.Room)
		}
	}
	wantDown := fmt.Sprintf("Monitor api (http://lab.test:%d/health) is DOWN: HTTP 500, expected 200 (3 failed checks in a row since 2026-05-01 12:01:00 UTC).", port)
	if len(down) != 1 || down[0] != wantDown {
		t.Errorf("down messages %q, want [%q]", down, wantDown)
	}
	if len(back) != 1 || !strings.HasSuffix(back[0], "is back UP after 3m0s down.") {
		t.Errorf("up messages %q", back)
	}
	if got := f.say(t, "monitor list"); !strings.Contains(got, "api  http://lab.test:") || !strings.HasSuffix(got, "every 1m0s: up") {
		t.Errorf("list: %q", got)
	}
	got = f.say(t, "monitor status api")
	for _, want := range []string{": up; last check 2026-05-01 12:05:00: HTTP 200; 3 of the last 6 checks passed (50.0%); response min/avg/max/p95 "} {
		if !strings.Contains(got, want) {
			t.Errorf("status %q lacks %q", got, want)
		}
	}
	// Each check booked the next; after removal a check stops quietly.
	if got := f.say(t, "monitor remove api"); !strings.Contains(got, "removed") {
		t.Errorf("remove: %q", got)
	}
	before := len(f.said.get())
	if err := f.p.monitorCheck(ctx, e, false); err != nil || len(f.said.get()) != before {
		t.Errorf("a removed monitor checked: %v", err)
	}
}

func TestMonitorRefusals(t *testing.T) {
	f := newFixture(t)
	f.p.o.Monitor.MinEvery = 30 * time.Second
	f.answers(t, map[string]string{
		"monitor add web http://evil.test/":         "evil.test resolves to 127.0.0.2, which is outside the scan scope",
		"monitor add ssh 127.0.0.2:22":              "127.0.0.2/32 is outside the scan scope",
		"monitor add ssh 127.0.0.1:22 --every 10s":  "Monitors check at most every 30s",
		"monitor add ssh 127.0.0.1:22 --expect 200": "--expect and --contains need an http(s) URL",
		"monitor add ftp ftp://lab.test/":           "is not a web address",
		"monitor add Bad/Name 127.0.0.1:22":         "is not a monitor name",
		"monitor remove nothing":                    "There is no monitor \"nothing\" here",
		"monitor status":                            "No monitors here.",
	})
	if got := f.say(t, "monitor add ssh 127.0.0.1:22"); !strings.HasPrefix(got, "Monitoring ssh") {
		t.Errorf("add: %q", got)
	}
	if got := f.say(t, "monitor add ssh 127.0.0.1:2222"); !strings.Contains(got, "already a monitor \"ssh\"") {
		t.Errorf("duplicate: %q", got)
	}
	if entries, _ := f.p.o.Sched.List(context.Background(), monitorKind); len(entries) != 1 {
		t.Errorf("%d entries booked", len(entries))
	}
}
