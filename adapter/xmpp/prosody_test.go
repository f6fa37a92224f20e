package xmpp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/xmpp/xmpptest"
	"github.com/seipbot/seipbot/bot"
)

// human is alice's client, built on the adapter's own session code. It is
// in the room under the nick "alice" and collects what the bot says.
type human struct {
	p        *xmpptest.Server
	room     string
	botNick  string
	password string // the room's, when alice protects it

	// observe, when set before connect, sees every stanza of the current
	// connection before the human acts on it.
	observe func(*stanza)

	mu     sync.Mutex
	s      *session
	joined chan struct{}
	conns  int // connections made; only the last one's stanzas count
	got    chan adaptertest.Received
}

var _ adaptertest.Client = (*human)(nil)

func newHuman(t *testing.T, p *xmpptest.Server, room string) *human {
	return newObservedHuman(t, p, room, nil)
}

func newObservedHuman(t *testing.T, p *xmpptest.Server, room string, observe func(*stanza)) *human {
	h := &human{p: p, room: room, botNick: "seipbot", got: make(chan adaptertest.Received, 4096), observe: observe}
	h.connect(t)
	t.Cleanup(func() { h.session().close(errDisconnected) })
	return h
}

// connect logs alice in and joins the room. A human's client shows the
// room's recent history on join, so alice accepts delayed messages: a reply
// the bot sent after a server restart but before alice was back still
// reaches her, once.
func (h *human) connect(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	joined := make(chan struct{})
	h.mu.Lock()
	h.joined = joined
	h.conns++
	conn := h.conns
	h.mu.Unlock()
	// A dead connection's reader may still be working through what it
	// read before the server went; none of that is news any more.
	handle := func(st *stanza) {
		h.mu.Lock()
		current := conn == h.conns
		h.mu.Unlock()
		if current {
			h.handle(st)
		}
	}
	s, err := dial(ctx, dialConfig{local: "alice", domain: "localhost", password: xmpptest.AlicePassword, resource: "test",
		address: h.p.Addr(), tls: h.p.TLSConfig(), handle: handle})
	if err != nil {
		t.Fatalf("alice cannot log in: %v", err)
	}
	h.mu.Lock()
	h.s = s
	h.mu.Unlock()
	if err := s.write(joinPresence{To: h.room + "/alice", X: mucJoin{Password: h.password}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-joined:
	case <-ctx.Done():
		t.Fatalf("alice could not join %s", h.room)
	}
}

func (h *human) session() *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

func (h *human) handle(st *stanza) {
	if h.observe != nil {
		h.observe(st)
	}
	room, nick := bareAndResource(st.From)
	if st.XMLName.Local == "presence" {
		if room == h.room && nick == "alice" && st.Type == "" {
			h.mu.Lock()
			if h.joined != nil {
				close(h.joined)
				h.joined = nil
			}
			h.mu.Unlock()
		}
		return
	}
	if st.Body == nil || st.Type == "error" {
		return
	}
	var r adaptertest.Received
	switch {
	case st.Type == "groupchat" && room == h.room && nick == h.botNick:
		r = adaptertest.Received{Room: room, Text: *st.Body}
	case st.Type == "chat" && room == xmpptest.BotJID:
		r = adaptertest.Received{Direct: true, Text: *st.Body}
	default:
		return
	}
	h.got <- r
}

func (h *human) ID() string { return "xmpp:" + xmpptest.AliceJID }

func (h *human) Say(_ context.Context, text string) error {
	return h.session().write(outMessage{To: h.room, Type: "groupchat", ID: nonce(), Body: text})
}

func (h *human) SayDirect(_ context.Context, text string) error {
	return h.session().write(outMessage{To: xmpptest.BotJID, Type: "chat", ID: nonce(), Body: text})
}

func (h *human) Next(ctx context.Context) (adaptertest.Received, error) {
	select {
	case r := <-h.got:
		return r, nil
	case <-ctx.Done():
		return adaptertest.Received{}, ctx.Err()
	}
}

// admin sends a MUC admin or owner request as alice, who made the room and
// so owns it, and fails t unless the server agrees.
func (h *human) admin(t *testing.T, payload string) {
	t.Helper()
	st, err := h.session().request(context.Background(), adaptertest.Timeout, "", "set", h.room, payload)
	if err != nil {
		t.Fatal(err)
	}
	if st.Type != "result" {
		t.Fatalf("the room refused %s: %s", payload, st.condition())
	}
}

// botBackoff reconnects and rejoins quickly, so the tests wait little.
var botBackoff = bot.Backoff{Min: 100 * time.Millisecond, Max: time.Second}

func botOptions(t *testing.T, p *xmpptest.Server, room Room) Options {
	return Options{
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		JID:    xmpptest.BotJID, Password: xmpptest.BotPassword, Address: p.Addr(), CAFile: p.CAFile,
		Nick: "seipbot", Rooms: []Room{room}, MaxLen: 300,
		PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second,
		Backoff: botBackoff,
	}
}

// TestConformance runs the adapter conformance suite against Prosody.
func TestConformance(t *testing.T) {
	p := xmpptest.Start(t)
	const room = "soc@conference.localhost"
	alice := newHuman(t, p, room)
	adaptertest.Run(t, adaptertest.Harness{
		NewAdapter: func(t *testing.T) bot.Adapter {
			a, err := New(botOptions(t, p, Room{JID: room}))
			if err != nil {
				t.Fatal(err)
			}
			return a
		},
		User:    alice,
		Room:    room,
		BotName: "seipbot",
		MaxLen:  300,
		Render: func(markup string) string {
			if markup != adaptertest.MarkupSample {
				t.Fatalf("no rendering known for %q", markup)
			}
			return "*Scan done*: see the report <https://example.com/r/1>\n" +
				"```\nopen 22/tcp ssh\nopen 443/tcp https\n```\n" +
				"Run `scan ports` again."
		},
		// XMPP has no way to mark an account as a bot.
		OtherBot: nil,
		Drop: func(t *testing.T) func() {
			p.Stop()
			return func() {
				p.Start()
				alice.connect(t)
			}
		},
	})
}

// TestConnect logs in every way the adapter can, and checks that it
// refuses a server it cannot verify and a wrong password.
func TestConnect(t *testing.T) {
	p := xmpptest.Start(t)
	base := dialConfig{local: "seipbot", domain: "localhost", password: xmpptest.BotPassword, resource: "t",
		address: p.Addr(), tls: p.TLSConfig(), handle: func(*stanza) {}}
	tests := []struct {
		name    string
		change  func(*dialConfig)
		wantErr string // "" for success
	}{
		{"STARTTLS", func(*dialConfig) {}, ""},
		{"direct TLS", func(c *dialConfig) {
			c.directTLS, c.address = true, "127.0.0.1:"+strconv.Itoa(p.TLSPort)
		}, ""},
		// The server offers no PLAIN without TLS, and the client would not
		// use it: this logs in with SCRAM-SHA-1.
		{"plaintext", func(c *dialConfig) { c.plaintext = true }, ""},
		{"untrusted certificate", func(c *dialConfig) { c.tls = &tls.Config{ServerName: "localhost"} }, "certificate"},
		{"certificate for another name", func(c *dialConfig) {
			c.tls = p.TLSConfig()
			c.tls.ServerName = "example.com"
		}, "certificate"},
		{"wrong password", func(c *dialConfig) { c.password = "nope" }, errAuth.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
			defer cancel()
			s, err := dial(ctx, c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("dial = %v; want an error about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.bye()
			if s.jid != "seipbot@localhost/t" {
				t.Errorf("bound %q", s.jid)
			}
			if err := s.ping(ctx, adaptertest.Timeout, ""); err != nil {
				t.Errorf("ping: %v", err)
			}
		})
	}
}

// TestRoomLife joins a room with a password whose history holds a command,
// which must not run, and rejoins after being kicked.
func TestRoomLife(t *testing.T) {
	p := xmpptest.Start(t)
	const room = "ir@conference.localhost"
	alice := newHuman(t, p, room)
	alice.admin(t, `<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>`+
		`<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>`+
		`<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>`+
		`<field var='muc#roomconfig_roomsecret'><value>letmein</value></field></x></query>`)
	ctx := t.Context()
	if cond := joinAs(t, p, room, "wrong"); cond != "not-authorized" {
		t.Fatalf("joining with a wrong password: %q; want not-authorized, so the room has a password", cond)
	}
	if err := alice.Say(ctx, "seipbot: echo replayed"); err != nil {
		t.Fatal(err)
	}

	a, err := New(botOptions(t, p, Room{JID: room, Password: "letmein"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Options{Outbox: bot.NewOutbox(nil, nil, botBackoff)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(echoPlugin{}); err != nil {
		t.Fatal(err)
	}
	b.AddAdapter(a)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	got := askUntilAnswered(t, alice, "ready")
	alice.admin(t, `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='seipbot' role='none'/></query>`)
	got = append(got, askUntilAnswered(t, alice, "back")...)
	for _, r := range got {
		if strings.Contains(r.Text, "replayed") {
			t.Errorf("the bot ran a command from the room's history: %+v", r)
		}
	}
}

// joinAs tries to join room with password as a second connection of the
// bot's account, and returns the error condition the room answers, or ""
// once in.
func joinAs(t *testing.T, p *xmpptest.Server, room, password string) string {
	t.Helper()
	answer := make(chan *stanza, 1)
	s, err := dial(t.Context(), dialConfig{local: "seipbot", domain: "localhost", password: xmpptest.BotPassword, resource: "probe",
		address: p.Addr(), tls: p.TLSConfig(), handle: func(st *stanza) {
			if from, nick := bareAndResource(st.From); st.XMLName.Local == "presence" && from == room && nick == "probe" {
				select {
				case answer <- st:
				default: // only the first answer counts
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.bye()
	if err := s.write(joinPresence{To: room + "/probe", X: mucJoin{Password: password}}); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-answer:
		return st.condition()
	case <-time.After(adaptertest.Timeout):
		t.Fatal("the room did not answer the join")
		return ""
	}
}

// askUntilAnswered says "seipbot: echo WORD-n" every few seconds until the
// bot echoes one, and returns everything alice received meanwhile.
func askUntilAnswered(t *testing.T, h *human, word string) []adaptertest.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*adaptertest.Timeout)
	defer cancel()
	var got []adaptertest.Received
	for n := 0; ; n++ {
		token := word + "-" + strconv.Itoa(n)
		if err := h.Say(ctx, "seipbot: echo "+token); err != nil {
			t.Fatal(err)
		}
		wait, cancelWait := context.WithTimeout(ctx, 2*time.Second)
		for {
			r, err := h.Next(wait)
			if err != nil {
				break
			}
			got = append(got, r)
			if strings.HasPrefix(r.Text, word+"-") {
				cancelWait()
				return got
			}
		}
		cancelWait()
		if ctx.Err() != nil {
			t.Fatalf("the bot never answered %q; received %+v", word, got)
		}
	}
}

// echoPlugin says its argument back.
type echoPlugin struct{}

func (echoPlugin) Name() string { return "echo" }

func (echoPlugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "echo", Help: "say the text back",
		Args: []bot.Arg{{Name: "text", Kind: bot.Rest}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, m.Args.String("text"))
		}),
	})
	return nil
}
