package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// The fake workspace: one team, the bot, a room and the people in it.
const (
	botToken = "xoxb-test-bot-token"
	appToken = "xapp-test-app-token"
	team     = "T0HOME"
	botUser  = "U0BOT"
	botID    = "B0BOT"
	room     = "C0ROOM"
	human    = "U0HUMAN"
	// dmPrefix starts the direct conversation of the bot with a user.
	dmPrefix = "D0"
)

// fakeSlack is a loopback Slack built from the documented payloads: the
// Web API methods the adapter calls, the file upload URL, and a Socket
// Mode websocket that sends events_api and interactive envelopes, resends
// those not acknowledged when the bot reconnects, and pings as Slack does.
// Everything the bot posts is echoed back as a message event, as Slack
// does for a bot subscribed to its channels.
type fakeSlack struct {
	t      *testing.T
	srv    *httptest.Server
	scopes string
	posted chan post // the bot's posts, in order

	mu        sync.Mutex
	down      bool
	conns     map[*fakeConn]bool
	pending   []envelope // sent or waiting to be, until acknowledged
	acked     map[string]bool
	seq       int
	opened    int         // apps.connections.open calls answered
	limited   int         // chat.postMessage calls still to answer 429
	attempts  []time.Time // chat.postMessage calls
	uploads   map[string][]byte
	openedDMs []string
}

// post is one message the bot posted, as Slack stored it.
type post struct {
	Channel, Thread, Text string
	Sections              []string
	Buttons               []button
	File                  []byte
}

type button struct{ ActionID, Label, Value string }

type envelope struct {
	id   string
	body []byte
}

type fakeConn struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (c *fakeConn) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.c.WriteMessage(websocket.TextMessage, b)
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{
		t:       t,
		scopes:  "app_mentions:read,channels:history,groups:history,im:history,chat:write,im:write,files:write",
		posted:  make(chan post, 4096),
		conns:   map[*fakeConn]bool{},
		acked:   map[string]bool{},
		uploads: map[string][]byte{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth.test", f.authTest)
	mux.HandleFunc("POST /api/apps.connections.open", f.connectionsOpen)
	mux.HandleFunc("GET /ws", f.websocket)
	mux.HandleFunc("POST /api/chat.postMessage", f.postMessage)
	mux.HandleFunc("POST /api/conversations.open", f.conversationsOpen)
	mux.HandleFunc("POST /api/files.getUploadURLExternal", f.uploadURL)
	mux.HandleFunc("POST /upload/{id}", f.uploadFile)
	mux.HandleFunc("POST /api/files.completeUploadExternal", f.completeUpload)
	f.srv = httptest.NewServer(f.unlessDown(mux))
	t.Cleanup(func() {
		f.mu.Lock()
		for c := range f.conns {
			c.c.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

// APIURL is the Web API base URL to give the adapter.
func (f *fakeSlack) APIURL() string { return f.srv.URL + "/api/" }

// unlessDown answers 503 to everything while the server is down, as
// Slack's edge does in an outage.
func (f *fakeSlack) unlessDown(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down := f.down
		f.mu.Unlock()
		if down {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// drop cuts the bot off until the returned function is called.
func (f *fakeSlack) drop(*testing.T) func() {
	f.mu.Lock()
	f.down = true
	for c := range f.conns {
		c.c.Close()
	}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.down = false
		f.mu.Unlock()
	}
}

func token(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return r.FormValue("token")
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) authTest(w http.ResponseWriter, r *http.Request) {
	if token(r) != botToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	w.Header().Set("X-OAuth-Scopes", f.scopes)
	reply(w, map[string]any{"ok": true, "url": "https://example.slack.com/", "team": "Example", "user": "seipbot",
		"team_id": team, "user_id": botUser, "bot_id": botID, "is_enterprise_install": false})
}

func (f *fakeSlack) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	if token(r) != appToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f.mu.Lock()
	f.opened++
	n := f.opened
	f.mu.Unlock()
	reply(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws?ticket=" + strconv.Itoa(n)})
}

// connections returns how many Socket Mode connections the bot opened.
func (f *fakeSlack) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opened
}

// websocket is the Socket Mode connection: hello, then every envelope not
// yet acknowledged, then new ones as they come; pings keep it alive.
func (f *fakeSlack) websocket(w http.ResponseWriter, r *http.Request) {
	// slack-go dials with the Origin Slack's own server expects.
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://api.slack.com" }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn := &fakeConn{c: c}
	f.mu.Lock()
	f.conns[conn] = true
	conn.write(fixture(f.t, "socket_hello.json"))
	for _, e := range f.pending {
		conn.write(e.body)
	}
	f.mu.Unlock()
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			}
		}
	}()
	defer func() {
		close(stop)
		f.mu.Lock()
		delete(f.conns, conn)
		f.mu.Unlock()
		c.Close()
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(msg, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		f.mu.Lock()
		f.acked[ack.EnvelopeID] = true
		for i, e := range f.pending {
			if e.id == ack.EnvelopeID {
				f.pending = append(f.pending[:i], f.pending[i+1:]...)
				break
			}
		}
		f.mu.Unlock()
	}
}

// send queues an envelope and writes it to the open connection, if any.
func (f *fakeSlack) send(kind string, payload any, retry int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("env-%04d", f.seq)
	body, err := json.Marshal(map[string]any{
		"envelope_id": id, "type": kind, "payload": payload,
		"accepts_response_payload": kind == "interactive", "retry_attempt": retry, "retry_reason": map[bool]string{true: "timeout"}[retry > 0],
	})
	if err != nil {
		f.t.Error(err)
	}
	f.pending = append(f.pending, envelope{id: id, body: body})
	for c := range f.conns {
		c.write(body)
	}
	return id
}

// writeRaw writes a frame to the open connection without queueing it.
func (f *fakeSlack) writeRaw(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.write(b)
	}
}

// awaitAck reports whether the bot acknowledged envelope id, waiting a
// while for the acknowledgement, which may come after the bot's answer.
func (f *fakeSlack) awaitAck(id string) bool {
	for deadline := time.Now().Add(adaptertest.Timeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		f.mu.Lock()
		acked := f.acked[id]
		f.mu.Unlock()
		if acked {
			return true
		}
	}
	return false
}

// nextTS returns a fresh message timestamp.
func (f *fakeSlack) nextTS() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("1712345678.%06d", f.seq)
}

// event fills the inner event of an event_callback fixture and gives it
// a fresh event_id.
func (f *fakeSlack) event(name string, fields map[string]any) map[string]any {
	var p map[string]any
	if err := json.Unmarshal(fixture(f.t, name), &p); err != nil {
		f.t.Fatal(err)
	}
	ev := p["event"].(map[string]any)
	maps.Copy(ev, fields)
	for k, v := range fields {
		if v == nil {
			delete(ev, k)
		}
	}
	p["event_id"] = "Ev" + strings.ReplaceAll(f.nextTS(), ".", "")
	return p
}

// say makes user say text in channel. A leading "seipbot: " is turned into
// a mention, as Slack's client does when one picks the bot from its
// completion, and the mention then arrives twice, as app_mention and as
// message, as Slack sends it.
func (f *fakeSlack) say(user, channel, text string) {
	ts := f.nextTS()
	kind := "channel"
	if strings.HasPrefix(channel, dmPrefix) {
		kind = "im"
	}
	if rest, ok := strings.CutPrefix(text, "seipbot: "); ok && kind == "channel" {
		text = "<@" + botUser + "> " + rest
		f.send("events_api", f.event("event_app_mention.json", map[string]any{"user": user, "channel": channel, "text": text, "ts": ts, "event_ts": ts}), 0)
	}
	f.send("events_api", f.event("event_message.json", map[string]any{"user": user, "channel": channel, "channel_type": kind, "text": escapeText(text), "ts": ts, "event_ts": ts}), 0)
}

// escapeText escapes what a user typed as Slack does in events, leaving
// mentions in Slack's form.
func escapeText(s string) string {
	mention := "<@" + botUser + ">"
	parts := strings.Split(s, mention)
	for i, p := range parts {
		parts[i] = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(p)
	}
	return strings.Join(parts, mention)
}

// click makes user click the button with value on the message the bot
// posted in channel, and returns the envelope's id.
func (f *fakeSlack) click(t *testing.T, user, channel, value string) string {
	var p map[string]any
	if err := json.Unmarshal(fixture(t, "block_actions.json"), &p); err != nil {
		t.Fatal(err)
	}
	ts := f.nextTS()
	p["user"].(map[string]any)["id"] = user
	p["container"].(map[string]any)["channel_id"] = channel
	p["channel"].(map[string]any)["id"] = channel
	p["trigger_id"] = "trigger-" + ts
	act := p["actions"].([]any)[0].(map[string]any)
	act["value"] = value
	act["action_ts"] = ts
	return f.send("interactive", p, 0)
}

func (f *fakeSlack) postMessage(w http.ResponseWriter, r *http.Request) {
	if token(r) != botToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f.mu.Lock()
	f.attempts = append(f.attempts, time.Now())
	limited := f.limited > 0
	if limited {
		f.limited--
	}
	f.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "ratelimited", http.StatusTooManyRequests)
		return
	}
	ch := r.FormValue("channel")
	if ch != room && !strings.HasPrefix(ch, dmPrefix) {
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	p := post{Channel: ch, Thread: r.FormValue("thread_ts"), Text: r.FormValue("text")}
	p.Sections, p.Buttons = readBlocks(f.t, r.FormValue("blocks"))
	f.posted <- p
	ts := f.nextTS()
	// Slack delivers the bot's own post to it as a message event.
	f.send("events_api", f.event("event_message.json", map[string]any{
		"user": botUser, "bot_id": botID, "channel": ch, "text": p.Text, "ts": ts, "event_ts": ts, "client_msg_id": nil,
		"channel_type": map[bool]string{true: "im", false: "channel"}[strings.HasPrefix(ch, dmPrefix)],
	}), 0)
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": ts})
}

// readBlocks returns the texts of the section blocks and the buttons.
func readBlocks(t *testing.T, raw string) ([]string, []button) {
	if raw == "" {
		return nil, nil
	}
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
			Text     struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		t.Errorf("blocks are not Block Kit JSON: %v: %s", err, raw)
	}
	var sections []string
	var buttons []button
	for _, b := range blocks {
		switch b.Type {
		case "section":
			if b.Text.Type != "mrkdwn" {
				t.Errorf("a section's text is %q, want mrkdwn", b.Text.Type)
			}
			sections = append(sections, b.Text.Text)
		case "actions":
			for _, e := range b.Elements {
				buttons = append(buttons, button{ActionID: e.ActionID, Label: e.Text.Text, Value: e.Value})
			}
		}
	}
	return sections, buttons
}

func (f *fakeSlack) conversationsOpen(w http.ResponseWriter, r *http.Request) {
	user := r.FormValue("users")
	f.mu.Lock()
	f.openedDMs = append(f.openedDMs, user)
	f.mu.Unlock()
	reply(w, map[string]any{"ok": true, "channel": map[string]any{"id": dmPrefix + strings.TrimPrefix(user, "U")}})
}

func (f *fakeSlack) uploadURL(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seq++
	id := fmt.Sprintf("F%04d", f.seq)
	f.mu.Unlock()
	if r.FormValue("filename") == "" || r.FormValue("length") == "" {
		reply(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	reply(w, map[string]any{"ok": true, "upload_url": f.srv.URL + "/upload/" + id, "file_id": id})
}

func (f *fakeSlack) uploadFile(w http.ResponseWriter, r *http.Request) {
	file, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, _ := io.ReadAll(file)
	f.mu.Lock()
	f.uploads[r.PathValue("id")] = data
	f.mu.Unlock()
	io.WriteString(w, "OK - "+strconv.Itoa(len(data)))
}

func (f *fakeSlack) completeUpload(w http.ResponseWriter, r *http.Request) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(r.FormValue("files")), &files); err != nil || len(files) != 1 {
		reply(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	f.mu.Lock()
	data, ok := f.uploads[files[0].ID]
	f.mu.Unlock()
	if !ok {
		reply(w, map[string]any{"ok": false, "error": "file_not_found"})
		return
	}
	p := post{Channel: r.FormValue("channel_id"), Thread: r.FormValue("thread_ts"), File: data}
	p.Sections, p.Buttons = readBlocks(f.t, r.FormValue("blocks"))
	f.posted <- p
	reply(w, map[string]any{"ok": true, "files": []map[string]any{{"id": files[0].ID, "title": files[0].Title}}})
}

// next returns the bot's next post.
func (f *fakeSlack) next(ctx context.Context) (post, error) {
	select {
	case p := <-f.posted:
		return p, nil
	case <-ctx.Done():
		return post{}, ctx.Err()
	}
}

// nextPost returns the bot's next post, failing t after a while.
func (f *fakeSlack) nextPost(t *testing.T) post {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	p, err := f.next(ctx)
	if err != nil {
		t.Fatalf("the bot posted nothing: %v", err)
	}
	return p
}

func fixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// person is a user of the fake workspace, as the conformance suite drives
// one.
type person struct {
	f    *fakeSlack
	user string
	// bot makes the person another bot, whose messages Slack marks
	// bot_message.
	bot bool
}

func (p person) ID() string { return "slack:" + p.user }

func (p person) Say(_ context.Context, text string) error {
	if p.bot {
		ts := p.f.nextTS()
		p.f.send("events_api", p.f.event("event_bot_message.json", map[string]any{"text": text, "ts": ts, "event_ts": ts}), 0)
		return nil
	}
	p.f.say(p.user, room, text)
	return nil
}

func (p person) SayDirect(_ context.Context, text string) error {
	p.f.say(p.user, dmPrefix+strings.TrimPrefix(p.user, "U"), text)
	return nil
}

// Next returns what the bot said in the room or to this person directly,
// with the sections of a message joined as the person reads them.
func (p person) Next(ctx context.Context) (adaptertest.Received, error) {
	for {
		got, err := p.f.next(ctx)
		if err != nil {
			return adaptertest.Received{}, err
		}
		text := strings.Join(got.Sections, "\n")
		switch {
		case got.Channel == room:
			return adaptertest.Received{Room: room, Text: text}, nil
		case got.Channel == dmPrefix+strings.TrimPrefix(p.user, "U"):
			return adaptertest.Received{Direct: true, Text: text}, nil
		}
	}
}
