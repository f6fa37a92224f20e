package xmpp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/bot"
)

// The accounts every test server has.
const (
	botJID, botPass     = "seipbot@localhost", "bot-pass-1"
	aliceJID, alicePass = "alice@localhost", "alice-pass-1"
)

// prosody is a Prosody server the test started on loopback, in a folder of
// its own, with the bot's and alice's accounts.
type prosody struct {
	t             *testing.T
	bin, ctl, cfg string
	base, caFile  string
	port, tlsPort int
	env           []string
	cmd           *exec.Cmd
	exited        chan struct{}
}

// startProsody starts a server for t and stops it when t ends. Without
// Prosody the test is skipped, or fails under CI=true (scripts/prosody.sh
// installs it).
func startProsody(t *testing.T) *prosody {
	t.Helper()
	bin := os.Getenv("SEIPBOT_PROSODY")
	if bin == "" {
		bin, _ = exec.LookPath("prosody")
	}
	if bin == "" {
		adaptertest.ServerRequired(t, "prosody")
	}
	cfg, err := filepath.Abs(filepath.Join("testdata", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	p := &prosody{t: t, bin: bin, ctl: filepath.Join(filepath.Dir(bin), "prosodyctl"), cfg: cfg, base: t.TempDir()}
	for _, dir := range []string{"data", "logs", "certs"} {
		if err := os.Mkdir(filepath.Join(p.base, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p.caFile = writeCert(t, filepath.Join(p.base, "certs"))
	p.port, p.tlsPort = freePort(t), freePort(t)
	p.env = append(os.Environ(), "PROSODY_BASE="+p.base,
		"PROSODY_PORT="+strconv.Itoa(p.port), "PROSODY_TLS_PORT="+strconv.Itoa(p.tlsPort))
	for _, u := range [][2]string{{"seipbot", botPass}, {"alice", alicePass}} {
		cmd := exec.Command(p.ctl, "--config", p.cfg, "register", u[0], "localhost", u[1])
		cmd.Env = p.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("prosodyctl register %s: %v\n%s", u[0], err, out)
		}
	}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *prosody) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// start runs the server and returns once it accepts connections.
func (p *prosody) start() {
	p.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(p.base, "logs", "console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logFile.Close()
	p.cmd = exec.Command(p.bin, "--config", p.cfg, "-F")
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, logFile, logFile
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start prosody: %v", err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(p.cmd, p.exited)
	deadline := time.Now().Add(adaptertest.Timeout)
	for {
		c, err := net.DialTimeout("tcp", p.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.exited:
			log, _ := os.ReadFile(filepath.Join(p.base, "logs", "console.log"))
			p.t.Fatalf("prosody exited at start:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("prosody did not listen on %s within %s", p.addr(), adaptertest.Timeout)
		}
	}
}

// stop shuts the server down, as a restart does, and waits until it is
// gone. It asks with SIGTERM rather than killing: a server killed in the
// instant between delivering a reply and answering the bot's ping leaves
// the bot unable to tell whether the reply arrived, so it sends it again
// (delivery is at least once), and the suite counts a duplicate.
func (p *prosody) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(adaptertest.Timeout):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

func (p *prosody) tlsConfig() *tls.Config {
	pemData, err := os.ReadFile(p.caFile)
	if err != nil {
		p.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	return &tls.Config{ServerName: "localhost", RootCAs: pool}
}

// writeCert makes a self-signed certificate for localhost and its MUC
// service, as Prosody finds it in dir, and returns the certificate's path
// for clients to trust.
func writeCert(t *testing.T, dir string) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost", "conference.localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt := filepath.Join(dir, "localhost.crt")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "localhost.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return crt
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// human is alice's client, built on the adapter's own session code. It is
// in the room under the nick "alice" and collects what the bot says.
type human struct {
	p        *prosody
	room     string
	botNick  string
	password string // the room's, when alice protects it

	// observe, when set before connect, sees every stanza of the current
	// connection before the human acts on it.
	observe func(*stanza)

	mu     sync.Mutex
	s      *session
	conns  int // connections made; only the last one's stanzas count
	joined chan struct{}
	got    chan adaptertest.Received
}

var _ adaptertest.Client = (*human)(nil)

func newHuman(t *testing.T, p *prosody, room string) *human {
	return newObservedHuman(t, p, room, nil)
}

func newObservedHuman(t *testing.T, p *prosody, room string, observe func(*stanza)) *human {
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
	s, err := dial(ctx, dialConfig{local: "alice", domain: "localhost", password: alicePass, resource: "test",
		address: h.p.addr(), tls: h.p.tlsConfig(), handle: handle})
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
	case st.Type == "chat" && room == botJID:
		r = adaptertest.Received{Direct: true, Text: *st.Body}
	default:
		return
	}
	h.got <- r
}

func (h *human) ID() string { return "xmpp:" + aliceJID }

func (h *human) Say(_ context.Context, text string) error {
	return h.session().write(outMessage{To: h.room, Type: "groupchat", ID: nonce(), Body: text})
}

func (h *human) SayDirect(_ context.Context, text string) error {
	return h.session().write(outMessage{To: botJID, Type: "chat", ID: nonce(), Body: text})
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

func botOptions(t *testing.T, p *prosody, room Room) Options {
	return Options{
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		JID:    botJID, Password: botPass, Address: p.addr(), CAFile: p.caFile,
		Nick: "seipbot", Rooms: []Room{room}, MaxLen: 300,
		PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second,
		Backoff: botBackoff,
	}
}

// TestConformance runs the adapter conformance suite against Prosody.
func TestConformance(t *testing.T) {
	p := startProsody(t)
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
			p.stop()
			return func() {
				p.start()
				alice.connect(t)
			}
		},
	})
}

// TestConnect logs in every way the adapter can, and checks that it
// refuses a server it cannot verify and a wrong password.
func TestConnect(t *testing.T) {
	p := startProsody(t)
	base := dialConfig{local: "seipbot", domain: "localhost", password: botPass, resource: "t",
		address: p.addr(), tls: p.tlsConfig(), handle: func(*stanza) {}}
	tests := []struct {
		name    string
		change  func(*dialConfig)
		wantErr string // "" for success
	}{
		{"STARTTLS", func(*dialConfig) {}, ""},
		{"direct TLS", func(c *dialConfig) {
			c.directTLS, c.address = true, "127.0.0.1:"+strconv.Itoa(p.tlsPort)
		}, ""},
		// The server offers no PLAIN without TLS, and the client would not
		// use it: this logs in with SCRAM-SHA-1.
		{"plaintext", func(c *dialConfig) { c.plaintext = true }, ""},
		{"untrusted certificate", func(c *dialConfig) { c.tls = &tls.Config{ServerName: "localhost"} }, "certificate"},
		{"certificate for another name", func(c *dialConfig) {
			c.tls = p.tlsConfig()
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
	p := startProsody(t)
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
func joinAs(t *testing.T, p *prosody, room, password string) string {
	t.Helper()
	answer := make(chan *stanza, 1)
	s, err := dial(t.Context(), dialConfig{local: "seipbot", domain: "localhost", password: botPass, resource: "probe",
		address: p.addr(), tls: p.tlsConfig(), handle: func(st *stanza) {
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
