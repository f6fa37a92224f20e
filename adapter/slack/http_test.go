package slack_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	seipslack "github.com/seipbot/seipbot/adapter/slack"
	"github.com/seipbot/seipbot/adapter/slack/slackfake"
	"github.com/seipbot/seipbot/bot"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// inbox collects what the adapter delivers.
type inbox chan *bot.Message

func (in inbox) Receive(_ context.Context, m *bot.Message) { in <- m }

// next returns the next message delivered, or fails t.
func (in inbox) next(t *testing.T) *bot.Message {
	t.Helper()
	select {
	case m := <-in:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was delivered to the bot")
		return nil
	}
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// httpAdapter runs an adapter in HTTP mode and returns its endpoints'
// server, what it delivers, and its clock.
func httpAdapter(t *testing.T) (*httptest.Server, inbox, *clock) {
	t.Helper()
	f := slackfake.New(t)
	clk := &clock{t: time.Now()}
	a := newAdapter(t, f, func(o *seipslack.Options) {
		o.Mode, o.AppToken, o.SigningSecret, o.Now = "http", "", signingSecret, clk.now
	})
	in := make(inbox, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, in) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	// The endpoints answer 503 until Run has signed in, so Slack retries;
	// one event that got through shows the adapter is ready.
	ready := sign(seipslack.EventsPath, "application/json", eventBody(t, "Ev0000099999", "ready"), clk.now())
	for code, _ := ready.send(t, srv); code != http.StatusOK; code, _ = ready.send(t, srv) {
		if code != http.StatusServiceUnavailable {
			t.Fatalf("the events endpoint answered %d", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	in.next(t)
	return srv, in, clk
}

// signed is a request as Slack signs it at ts.
type signed struct {
	path, contentType string
	body              []byte
	ts                time.Time
	signature         string // as computed, unless a test spoils it
	omitHeaders       bool
}

func sign(path, contentType string, body []byte, ts time.Time) signed {
	mac := hmac.New(sha256.New, []byte(signingSecret))
	mac.Write([]byte("v0:" + strconv.FormatInt(ts.Unix(), 10) + ":"))
	mac.Write(body)
	return signed{path: path, contentType: contentType, body: body, ts: ts, signature: "v0=" + hex.EncodeToString(mac.Sum(nil))}
}

func (s signed) send(t *testing.T, srv *httptest.Server) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+s.path, bytes.NewReader(s.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", s.contentType)
	if !s.omitHeaders {
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(s.ts.Unix(), 10))
		req.Header.Set("X-Slack-Signature", s.signature)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// eventBody is the message fixture with text and a fresh event_id and ts.
func eventBody(t *testing.T, id, text string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(slackfake.Fixture(t, "event_message.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["event_id"] = id
	ev := p["event"].(map[string]any)
	ev["text"], ev["ts"] = text, "1712345678.0"+id[len(id)-5:]
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEventsAPISignatures(t *testing.T) {
	srv, in, clk := httpAdapter(t)
	valid := sign(seipslack.EventsPath, "application/json", eventBody(t, "Ev0000000001", "first"), clk.now())

	if code, _ := valid.send(t, srv); code != http.StatusOK {
		t.Fatalf("a well-signed event got %d", code)
	}
	if m := in.next(t); m.Text != "first" || m.User.ID != "slack:"+slackfake.Human || m.Room != slackfake.Room {
		t.Errorf("delivered %+v", m)
	}

	spoiled := sign(seipslack.EventsPath, "application/json", eventBody(t, "Ev0000000002", "forged"), clk.now())
	spoiled.signature = sign(spoiled.path, "", []byte("something else"), clk.now()).signature
	missing := sign(seipslack.EventsPath, "application/json", eventBody(t, "Ev0000000003", "unsigned"), clk.now())
	missing.omitHeaders = true
	notHex := sign(seipslack.EventsPath, "application/json", eventBody(t, "Ev0000000004", "garbled"), clk.now())
	notHex.signature = "v0=not-hex"
	for name, req := range map[string]signed{"invalid": spoiled, "missing": missing, "malformed": notHex} {
		if code, _ := req.send(t, srv); code != http.StatusUnauthorized {
			t.Errorf("%s signature: got %d, want 401", name, code)
		}
	}

	// The same request again within the window passes the signature, and
	// its event_id marks it as a replay (or a Slack retry).
	if code, _ := valid.send(t, srv); code != http.StatusOK {
		t.Errorf("a replay within the window got %d; Slack would keep retrying", code)
	}
	// Six minutes later the captured request is refused outright.
	clk.advance(6 * time.Minute)
	if code, _ := valid.send(t, srv); code != http.StatusUnauthorized {
		t.Errorf("a replay outside the five-minute window got %d, want 401", code)
	}

	sentinel := sign(seipslack.EventsPath, "application/json", eventBody(t, "Ev0000000005", "last"), clk.now())
	if code, _ := sentinel.send(t, srv); code != http.StatusOK {
		t.Fatalf("a well-signed event got %d", code)
	}
	if m := in.next(t); m.Text != "last" {
		t.Errorf("after the refused and replayed requests the bot got %q, want only \"last\"", m.Text)
	}
}

func TestEventsAPIURLVerification(t *testing.T) {
	srv, _, clk := httpAdapter(t)
	body := slackfake.Fixture(t, "url_verification.json")
	code, got := sign(seipslack.EventsPath, "application/json", body, clk.now()).send(t, srv)
	var want struct{ Challenge string }
	json.Unmarshal(body, &want)
	if code != http.StatusOK || got != want.Challenge {
		t.Errorf("url_verification answered %d %q, want the challenge %q", code, got, want.Challenge)
	}
	unsigned := sign(seipslack.EventsPath, "application/json", body, clk.now())
	unsigned.omitHeaders = true
	if code, got := unsigned.send(t, srv); code != http.StatusUnauthorized || got == want.Challenge {
		t.Errorf("an unsigned url_verification answered %d %q", code, got)
	}
}

func TestInteractivityEndpoint(t *testing.T) {
	srv, in, clk := httpAdapter(t)
	form := url.Values{"payload": {string(slackfake.Fixture(t, "block_actions.json"))}}.Encode()
	req := sign(seipslack.InteractivityPath, "application/x-www-form-urlencoded", []byte(form), clk.now())

	forged := req
	forged.signature = "v0=" + hex.EncodeToString(make([]byte, sha256.Size))
	if code, _ := forged.send(t, srv); code != http.StatusUnauthorized {
		t.Errorf("a forged click got %d, want 401", code)
	}
	if code, _ := req.send(t, srv); code != http.StatusOK {
		t.Fatalf("a signed click got %d", code)
	}
	m := in.next(t)
	want := bot.Message{Adapter: "slack", Text: "approve abc", Room: slackfake.Room, User: bot.User{ID: "slack:" + slackfake.Human, Name: slackfake.Human}, Mentioned: true}
	if m.Text != want.Text || m.Room != want.Room || m.User != want.User || !m.Mentioned || m.Direct {
		t.Errorf("the click was delivered as %+v, want %+v", m, want)
	}
}
