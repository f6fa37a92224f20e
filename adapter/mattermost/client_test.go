package mattermost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/seipbot/seipbot/bot"
)

// The real server's answers are tested by the tests that start one; these
// cover the failures it cannot be made to give on demand.

const testChannel = "c0000000000000000000000000"

// fakeAPI answers users/me, and posts with what post returns.
func fakeAPI(t *testing.T, post http.HandlerFunc) *Adapter {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/users/me", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"b0000000000000000000000000","username":"seipbot","is_bot":true}`))
	})
	mux.HandleFunc("POST /api/v4/posts", post)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a, err := New(Options{URL: srv.URL, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSendErrors checks which refusals the outbox may retry.
func TestSendErrors(t *testing.T) {
	for _, tt := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusBadRequest, true},
		{http.StatusForbidden, true},
		{http.StatusNotFound, true},
		{http.StatusRequestTimeout, false},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
	} {
		a := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			w.Write([]byte(`{"id":"api.test.refused","message":"refused","status_code":0}`))
		})
		err := a.Send(context.Background(), bot.Response{Room: testChannel, Text: "hello"})
		if err == nil || bot.IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), "refused") {
			t.Errorf("HTTP %d: %v (permanent %v); want an error saying why, permanent %v", tt.status, err, bot.IsPermanent(err), tt.permanent)
		}
	}
}

// TestRateLimitRetryAfter answers the first post with 429 and
// Retry-After: 1; the outbox's own backoff is 20ms, but the second attempt
// comes no sooner than a second later.
func TestRateLimitRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var attempts []time.Time
	a := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts = append(attempts, time.Now())
		n := len(attempts)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"id":"p0000000000000000000000000"}`))
	})
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: 20 * time.Millisecond, Max: 40 * time.Millisecond})
	o.AddAdapter(a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go o.Run(ctx)
	o.Send(ctx, bot.Response{Room: testChannel, Text: "hello"})
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 {
		t.Fatalf("%d attempts to post; want the refused one and one more", len(attempts))
	}
	if waited := attempts[1].Sub(attempts[0]); waited < time.Second {
		t.Errorf("retried %s after a 429 with Retry-After: 1", waited)
	}
}

// TestStreamGap checks that a gap in the events' numbering ends the
// stream, so the reconnect catches up on what was dropped.
func TestStreamGap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var challenge struct {
			Seq    int    `json:"seq"`
			Action string `json:"action"`
			Data   struct {
				Token string `json:"token"`
			} `json:"data"`
		}
		if err := c.ReadJSON(&challenge); err != nil || challenge.Action != "authentication_challenge" || challenge.Data.Token != "t" {
			t.Errorf("the first message was %+v (%v); want the authentication challenge with the token", challenge, err)
			return
		}
		c.WriteJSON(map[string]any{"status": "OK", "seq_reply": challenge.Seq})
		c.WriteJSON(map[string]any{"event": "hello", "data": map[string]any{}, "seq": 0})
		c.WriteJSON(map[string]any{"event": "posted", "data": map[string]any{}, "seq": 1})
		c.WriteJSON(map[string]any{"event": "posted", "data": map[string]any{}, "seq": 3})
		c.ReadMessage() // until the client hangs up
	}))
	defer srv.Close()
	s, err := dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), "t")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for ev := range s.events {
		got = append(got, ev.Event)
	}
	if strings.Join(got, " ") != " hello posted" || s.err == nil || !strings.Contains(s.err.Error(), "event 3 came where 2 was due") {
		t.Errorf("the stream gave %q and ended with %v; want the reply, hello and one post, then the gap", got, s.err)
	}
}
