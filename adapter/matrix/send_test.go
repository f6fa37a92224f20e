package matrix

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/seipbot/seipbot/bot"
)

// TestSendRetries drives Send against a homeserver that rate-limits the
// first attempt and fails the second: the adapter waits out
// retry_after_ms by itself, hands the 503 back as retryable, and the
// outbox's retry reuses the transaction id, so the server could tell it
// apart from a new message. (Dendrite's limits are off in the integration
// tests, and a real outage gives no 429, hence a test server here.)
func TestSendRetries(t *testing.T) {
	var mu sync.Mutex
	var txns []string
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/send/m.room.message/") {
			http.NotFound(w, r)
			return
		}
		txns = append(txns, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
		at = append(at, time.Now())
		w.Header().Set("Content-Type", "application/json")
		switch len(txns) {
		case 1:
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":300}`))
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"busy"}`))
		default:
			w.Write([]byte(`{"event_id":"$ok"}`))
		}
	}))
	defer srv.Close()

	a, err := New(Options{Homeserver: srv.URL, UserID: "@bot:example.org", AccessToken: "token"})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := mautrix.NewClient(srv.URL, "@bot:example.org", "token")
	if err != nil {
		t.Fatal(err)
	}
	a.cli = cli
	close(a.ready)

	r := bot.Response{Room: "!room:example.org", Text: "hello"}
	err = a.Send(context.Background(), r)
	if err == nil || bot.IsPermanent(err) {
		t.Fatalf("Send against a 503 = %v; want a retryable error", err)
	}
	if err := a.Send(context.Background(), r); err != nil {
		t.Fatalf("the retry failed: %v", err)
	}
	if len(txns) != 3 {
		t.Fatalf("the server saw %d attempts; want 3", len(txns))
	}
	if txns[0] != txns[1] || txns[1] != txns[2] {
		t.Errorf("attempts used transaction ids %v; want one id throughout", txns)
	}
	if waited := at[1].Sub(at[0]); waited < 300*time.Millisecond {
		t.Errorf("the adapter retried %s after a 429 asking for 300ms", waited)
	}
	// A new response is a new message, with a new id.
	if err := a.Send(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if txns[3] == txns[2] {
		t.Errorf("a second, separate response reused the transaction id %s", txns[3])
	}
}

// TestContentsFit: text that escapes to far more HTML than itself is cut
// until every event fits.
func TestContentsFit(t *testing.T) {
	text := "**" + strings.Repeat("<", maxText-4) + "**"
	parts := contents(text, "")
	if len(parts) < 2 {
		t.Fatalf("got %d part; want the text split", len(parts))
	}
	for i, c := range parts {
		data, _ := json.Marshal(c)
		if len(data) > maxContent {
			t.Errorf("part %d is %d bytes of JSON; limit %d", i, len(data), maxContent)
		}
	}
}
