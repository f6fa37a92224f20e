// Package slackfake is a loopback Slack built from Slack's documented
// payloads, for tests: Slack itself cannot run on a test machine. The Slack
// adapter's own tests and the end-to-end tests of "seipbot run" share it.
// (Not "slacktest": slack-go has a package of that name.)
package slackfake

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// The fake workspace: one Team, the bot, a Room and the people in it.
const (
	BotToken = "xoxb-test-bot-token"
	AppToken = "xapp-test-app-token"
	Team     = "T0HOME"
	BotUser  = "U0BOT"
	BotID    = "B0BOT"
	Room     = "C0ROOM"
	Human    = "U0HUMAN"
	// DMPrefix starts the direct conversation of the bot with a user.
	DMPrefix = "D0"
)

// Server is a loopback Slack built from the documented payloads: the
// Web API methods the adapter calls, the file upload URL, and a Socket
// Mode websocket that sends events_api and interactive envelopes, resends
// those not acknowledged when the bot reconnects, and pings as Slack does.
// Everything the bot posts is echoed back as a message event, as Slack
// does for a bot subscribed to its channels.
type Server struct {
	t      testing.TB
	srv    *httptest.Server
	scopes string
	posted chan Post // the bot's posts, in order

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
	messages  map[string]bool // channel + ts of every message posted, for chat.update
}

// Post is one message the bot posted, as Slack stored it, or an edit of
// one (chat.update): Edited, with TS naming the message edited.
type Post struct {
	Channel, Thread, Text string
	Sections              []string
	Buttons               []Button
	File                  []byte
	// TS is the message's timestamp, Slack's id for it in its channel.
	TS     string
	Edited bool
}

// Button is a button on a Post.
type Button struct{ ActionID, Label, Value string }

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

// New starts a fake Slack, stopped when t ends.
func New(t testing.TB) *Server {
	f := &Server{
		t:        t,
		scopes:   "app_mentions:read,channels:history,groups:history,im:history,chat:write,im:write,files:write",
		posted:   make(chan Post, 4096),
		conns:    map[*fakeConn]bool{},
		acked:    map[string]bool{},
		uploads:  map[string][]byte{},
		messages: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth.test", f.authTest)
	mux.HandleFunc("POST /api/apps.connections.open", f.connectionsOpen)
	mux.HandleFunc("GET /ws", f.websocket)
	mux.HandleFunc("POST /api/chat.postMessage", f.postMessage)
	mux.HandleFunc("POST /api/chat.update", f.update)
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
func (f *Server) APIURL() string { return f.srv.URL + "/api/" }

// unlessDown answers 503 to everything while the server is down, as
// Slack's edge does in an outage.
func (f *Server) unlessDown(h http.Handler) http.Handler {
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

// Drop cuts the bot off until the returned function is called.
func (f *Server) Drop(*testing.T) func() {
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

func (f *Server) authTest(w http.ResponseWriter, r *http.Request) {
	if token(r) != BotToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f.mu.Lock()
	scopes := f.scopes
	f.mu.Unlock()
	w.Header().Set("X-OAuth-Scopes", scopes)
	reply(w, map[string]any{"ok": true, "url": "https://example.slack.com/", "team": "Example", "user": "seipbot",
		"team_id": Team, "user_id": BotUser, "bot_id": BotID, "is_enterprise_install": false})
}

func (f *Server) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	if token(r) != AppToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f.mu.Lock()
	f.opened++
	n := f.opened
	f.mu.Unlock()
	reply(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws?ticket=" + strconv.Itoa(n)})
}

// Connections returns how many Socket Mode connections the bot opened.
func (f *Server) Connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opened
}

// websocket is the Socket Mode connection: hello, then every envelope not
// yet acknowledged, then new ones as they come; pings keep it alive.
func (f *Server) websocket(w http.ResponseWriter, r *http.Request) {
	// slack-go dials with the Origin Slack's own server expects.
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://api.slack.com" }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn := &fakeConn{c: c}
	f.mu.Lock()
	f.conns[conn] = true
	conn.write(Fixture(f.t, "socket_hello.json"))
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

// Send queues an envelope and writes it to the open connection, if any.
func (f *Server) Send(kind string, payload any, retry int) string {
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

// WriteRaw writes a frame to the open connection without queueing it.
func (f *Server) WriteRaw(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.write(b)
	}
}

// AwaitAck reports whether the bot acknowledged envelope id, waiting a
// while for the acknowledgement, which may come after the bot's answer.
func (f *Server) AwaitAck(id string) bool {
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

// NextTS returns a fresh message timestamp.
func (f *Server) NextTS() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("1712345678.%06d", f.seq)
}

// Event fills the inner event of an event_callback fixture and gives it
// a fresh event_id.
func (f *Server) Event(name string, fields map[string]any) map[string]any {
	var p map[string]any
	if err := json.Unmarshal(Fixture(f.t, name), &p); err != nil {
		f.t.Fatal(err)
	}
	ev := p["event"].(map[string]any)
	maps.Copy(ev, fields)
	for k, v := range fields {
		if v == nil {
			delete(ev, k)
		}
	}
	p["event_id"] = "Ev" + strings.ReplaceAll(f.NextTS(), ".", "")
	return p
}

// Say makes user say text in channel. A leading "seipbot: " is turned into
// a mention, as Slack's client does when one picks the bot from its
// completion, and the mention then arrives twice, as app_mention and as
// message, as Slack sends it.
func (f *Server) Say(user, channel, text string) {
	ts := f.NextTS()
	kind := "channel"
	if strings.HasPrefix(channel, DMPrefix) {
		kind = "im"
	}
	if rest, ok := strings.CutPrefix(text, "seipbot: "); ok && kind == "channel" {
		text = "<@" + BotUser + "> " + rest
		f.Send("events_api", f.Event("event_app_mention.json", map[string]any{"user": user, "channel": channel, "text": text, "ts": ts, "event_ts": ts}), 0)
	}
	f.Send("events_api", f.Event("event_message.json", map[string]any{"user": user, "channel": channel, "channel_type": kind, "text": escapeText(text), "ts": ts, "event_ts": ts}), 0)
}

// escapeText escapes what a user typed as Slack does in events, leaving
// mentions in Slack's form.
func escapeText(s string) string {
	mention := "<@" + BotUser + ">"
	parts := strings.Split(s, mention)
	for i, p := range parts {
		parts[i] = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(p)
	}
	return strings.Join(parts, mention)
}

// Click makes user click the button with value on the message the bot
// posted in channel, and returns the envelope's id.
func (f *Server) Click(t testing.TB, user, channel, value string) string {
	var p map[string]any
	if err := json.Unmarshal(Fixture(t, "block_actions.json"), &p); err != nil {
		t.Fatal(err)
	}
	ts := f.NextTS()
	p["user"].(map[string]any)["id"] = user
	p["container"].(map[string]any)["channel_id"] = channel
	p["channel"].(map[string]any)["id"] = channel
	p["trigger_id"] = "trigger-" + ts
	act := p["actions"].([]any)[0].(map[string]any)
	act["value"] = value
	act["action_ts"] = ts
	return f.Send("interactive", p, 0)
}

func (f *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	if token(r) != BotToken {
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
	if ch != Room && !strings.HasPrefix(ch, DMPrefix) {
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	ts := f.NextTS()
	p := Post{Channel: ch, Thread: r.FormValue("thread_ts"), Text: r.FormValue("text"), TS: ts}
	p.Sections, p.Buttons = readBlocks(f.t, r.FormValue("blocks"))
	f.mu.Lock()
	f.messages[ch+"\x00"+ts] = true
	f.mu.Unlock()
	f.posted <- p
	// Slack delivers the bot's own post to it as a message event.
	f.Send("events_api", f.Event("event_message.json", map[string]any{
		"user": BotUser, "bot_id": BotID, "channel": ch, "text": p.Text, "ts": ts, "event_ts": ts, "client_msg_id": nil,
		"channel_type": map[bool]string{true: "im", false: "channel"}[strings.HasPrefix(ch, DMPrefix)],
	}), 0)
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": ts})
}

// update edits a message the bot posted, as chat.update does, and passes
// the edit on as a Post marked Edited.
func (f *Server) update(w http.ResponseWriter, r *http.Request) {
	if token(r) != BotToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	ch, ts := r.FormValue("channel"), r.FormValue("ts")
	f.mu.Lock()
	known := f.messages[ch+"\x00"+ts]
	f.mu.Unlock()
	if !known {
		reply(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	p := Post{Channel: ch, TS: ts, Text: r.FormValue("text"), Edited: true}
	p.Sections, p.Buttons = readBlocks(f.t, r.FormValue("blocks"))
	f.posted <- p
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "text": p.Text})
}

// readBlocks returns the texts of the section blocks and the buttons.
func readBlocks(t testing.TB, raw string) ([]string, []Button) {
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
	var buttons []Button
	for _, b := range blocks {
		switch b.Type {
		case "section":
			if b.Text.Type != "mrkdwn" {
				t.Errorf("a section's text is %q, want mrkdwn", b.Text.Type)
			}
			sections = append(sections, b.Text.Text)
		case "actions":
			for _, e := range b.Elements {
				buttons = append(buttons, Button{ActionID: e.ActionID, Label: e.Text.Text, Value: e.Value})
			}
		}
	}
	return sections, buttons
}

func (f *Server) conversationsOpen(w http.ResponseWriter, r *http.Request) {
	user := r.FormValue("users")
	f.mu.Lock()
	f.openedDMs = append(f.openedDMs, user)
	f.mu.Unlock()
	reply(w, map[string]any{"ok": true, "channel": map[string]any{"id": DMPrefix + strings.TrimPrefix(user, "U")}})
}

func (f *Server) uploadURL(w http.ResponseWriter, r *http.Request) {
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

func (f *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
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

func (f *Server) completeUpload(w http.ResponseWriter, r *http.Request) {
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
	p := Post{Channel: r.FormValue("channel_id"), Thread: r.FormValue("thread_ts"), File: data}
	p.Sections, p.Buttons = readBlocks(f.t, r.FormValue("blocks"))
	f.posted <- p
	reply(w, map[string]any{"ok": true, "files": []map[string]any{{"id": files[0].ID, "title": files[0].Title}}})
}

// Next returns the bot's next post.
func (f *Server) Next(ctx context.Context) (Post, error) {
	select {
	case p := <-f.posted:
		return p, nil
	case <-ctx.Done():
		return Post{}, ctx.Err()
	}
}

// NextPost returns the bot's next post, failing t after a while.
func (f *Server) NextPost(t testing.TB) Post {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	p, err := f.Next(ctx)
	if err != nil {
		t.Fatalf("the bot posted nothing: %v", err)
	}
	return p
}

//go:embed testdata/*.json
var fixtures embed.FS

// Fixture returns testdata/name: a payload as Slack documents it.
func Fixture(t testing.TB, name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Person is a user of the fake workspace, as adaptertest drives one.
type Person struct {
	f    *Server
	user string
	// bot makes the person another bot, whose messages Slack marks
	// bot_message.
	bot bool
}

var _ adaptertest.Client = Person{}

// Person is user, a person in the workspace.
func (f *Server) Person(user string) Person { return Person{f: f, user: user} }

// OtherBot is another bot in Room, whose messages Slack marks bot_message.
func (f *Server) OtherBot() Person { return Person{f: f, bot: true} }

// ID is the identity the adapter reports for the person.
func (p Person) ID() string { return "slack:" + p.user }

// Say says text in Room.
func (p Person) Say(_ context.Context, text string) error {
	if p.bot {
		ts := p.f.NextTS()
		p.f.Send("events_api", p.f.Event("event_bot_message.json", map[string]any{"text": text, "ts": ts, "event_ts": ts}), 0)
		return nil
	}
	p.f.Say(p.user, Room, text)
	return nil
}

// SayDirect says text to the bot directly.
func (p Person) SayDirect(_ context.Context, text string) error {
	p.f.Say(p.user, DMPrefix+strings.TrimPrefix(p.user, "U"), text)
	return nil
}

// Next returns what the bot said in the Room or to this person directly,
// with the sections of a message joined as the person reads them.
func (p Person) Next(ctx context.Context) (adaptertest.Received, error) {
	for {
		got, err := p.f.Next(ctx)
		if err != nil {
			return adaptertest.Received{}, err
		}
		text := strings.Join(got.Sections, "\n")
		switch {
		case got.Channel == Room:
			return adaptertest.Received{Room: Room, Text: text}, nil
		case got.Channel == DMPrefix+strings.TrimPrefix(p.user, "U"):
			return adaptertest.Received{Direct: true, Text: text}, nil
		}
	}
}

// SetScopes sets the OAuth scopes auth.test reports the bot token has.
func (f *Server) SetScopes(scopes string) {
	f.mu.Lock()
	f.scopes = scopes
	f.mu.Unlock()
}

// RateLimit makes the next n chat.postMessage calls answer 429, and
// starts a new record of the calls' times.
func (f *Server) RateLimit(n int) {
	f.mu.Lock()
	f.limited, f.attempts = n, nil
	f.mu.Unlock()
}

// Attempts returns when chat.postMessage was called since RateLimit.
func (f *Server) Attempts() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attempts)
}

// OpenedDMs returns the users the bot opened direct conversations with.
func (f *Server) OpenedDMs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.openedDMs)
}
