package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func TestCheckHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		w.Write([]byte("all systems go"))
	}))
	defer srv.Close()
	// The URL names a host that does not resolve: the check must use the
	// approved address and nothing else.
	u, _ := url.Parse(srv.URL)
	at := func(path string) Target {
		return Target{URL: &url.URL{Scheme: "http", Host: "svc.lab.test:" + u.Port(), Path: path}, Addr: loopback}
	}
	ctx := context.Background()
	for _, tt := range []struct {
		path   string
		o      Options
		ok     bool
		detail string
	}{
		{"/", Options{}, true, "HTTP 200"},
		{"/", Options{Expect: 200, Contains: "systems go"}, true, "HTTP 200"},
		{"/", Options{Contains: "on fire"}, false, "HTTP 200, but the expected text is missing"},
		{"/gone", Options{}, false, "HTTP 410"},
		{"/gone", Options{Expect: 410}, true, "HTTP 410"},
		{"/", Options{Expect: 204}, false, "HTTP 200, expected 204"},
	} {
		r := Check(ctx, at(tt.path), tt.o, time.Now)
		if r.OK != tt.ok || r.Detail != tt.detail {
			t.Errorf("%s %+v: %+v", tt.path, tt.o, r)
		}
	}
}

func TestCheckTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx := context.Background()
	if r := Check(ctx, Target{Port: port, Addr: loopback}, Options{}, time.Now); !r.OK {
		t.Errorf("open port: %+v", r)
	}
	l.Close()
	if r := Check(ctx, Target{Port: port, Addr: loopback}, Options{}, time.Now); r.OK || r.Detail != "connection refused" {
		t.Errorf("closed port: %+v", r)
	}
}

func TestRecord(t *testing.T) {
	var s State
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var changes []Change
	for i, ok := range []bool{true, false, false, true, false, false, false, false, true, true} {
		r := Result{At: t0.Add(time.Duration(i) * time.Minute), OK: ok, Latency: time.Duration(i+1) * time.Millisecond, Detail: "x"}
		if c, changed := s.Record(r, 3, 5); changed {
			changes = append(changes, c)
		}
	}
	// Two failures are a blip; four from minute 4 are an outage that
	// ends at minute 8.
	if len(changes) != 2 || !changes[0].Down || changes[1].Down || changes[1].Lasted != 4*time.Minute {
		t.Errorf("changes: %+v", changes)
	}
	if len(s.History) != 5 {
		t.Errorf("history keeps %d", len(s.History))
	}
	st := s.Summary()
	if st.Checks != 5 || st.OK != 2 || st.Min != 9*time.Millisecond || st.Max != 10*time.Millisecond || st.P95 != 10*time.Millisecond {
		t.Errorf("stats: %+v", st)
	}
}
