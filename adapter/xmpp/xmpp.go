// Package xmpp is the adapter for XMPP servers (Prosody, ejabberd,
// Openfire): it logs in as a client, joins multi-user chat (MUC) rooms and
// answers in them and in one-to-one chats.
//
// # Why its own protocol code
//
// The package speaks the subset of XMPP a bot needs itself, over
// encoding/xml: the stream, STARTTLS or direct TLS (XEP-0368), SASL
// SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN, resource binding, presence, MUC
// (XEP-0045), delayed delivery (XEP-0203) and ping (XEP-0199). That is a few
// hundred lines, and it keeps two things in our hands that the libraries
// got wrong or make hard: github.com/xmppo/go-xmpp v0.4.1 fails SCRAM
// against Prosody 0.12 ("Invalid channel binding value"), leaving PLAIN as
// the only way in; and
// mellium.im/xmpp v0.22.0, well designed but idle since 2024, would bring a
// module tree and its own session and multiplexing model for the same few
// stanzas. Here SCRAM sends "n" (no channel binding) and is tested against
// Prosody and against the RFC 5802 and RFC 7677 examples.
//
// # Security
//
// TLS with certificate verification is on by default: STARTTLS, which must
// be offered, or TLS from the first byte with DirectTLS. CAFile adds a
// private CA. Plaintext needs Plaintext set, and then only SCRAM is used,
// which never sends the password; PLAIN is used only over TLS. The
// certificate must be valid for the JID's domain, whatever Address says.
//
// # Identities and rooms
//
// A user is "xmpp:" and their bare JID ("xmpp:alice@example.com"). In a
// room the bare JID is known only when the room shows occupants' real JIDs
// (non-anonymous rooms, or semi-anonymous ones where the bot is a
// moderator); otherwise the identity is the occupant's room JID,
// "xmpp:room@conference.example.com/nick". A nick is not an account: anyone
// may take it once its holder leaves, so grant nothing to such identities;
// make security rooms non-anonymous instead.
//
// Message.Room is the room's bare JID in a room and the user's bare JID in
// a one-to-one chat (the occupant's room JID for a private message through a
// room). Messages the server marks as delayed (a room's history replayed on
// join, messages stored while the bot was offline) are never delivered: an
// old command must not run again because the bot reconnected. The bot's own
// messages, echoed by the room, are dropped too.
//
// # Delivery
//
// Send renders the bot's markup as XEP-0393 message styling, splits long
// text into messages of at most MaxLen bytes, and then pings the server: it
// returns only once the server has answered, which proves the messages
// arrived, since a server handles one client's stanzas in order. While the
// bot is disconnected or not (yet) in the room, Send fails with a retryable
// error, so the outbox keeps the message and tries again after the
// reconnect.
package xmpp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/seipbot/seipbot/bot"
)

// Options configure the XMPP adapter.
type Options struct {
	// JID is the bot's account, a bare JID such as seipbot@example.com.
	JID      string
	Password string
	// Resource names this connection; empty means "seipbot".
	Resource string
	// Address is the server's host:port; empty means the JID's domain on
	// port 5222, or 5223 with DirectTLS.
	Address string
	// DirectTLS starts TLS at once instead of upgrading with STARTTLS.
	DirectTLS bool
	// Plaintext connects without TLS. It is insecure: use it only on
	// loopback or inside a tunnel.
	Plaintext bool
	// CAFile is a PEM file of CA certificates to trust instead of the
	// system's, for a server with a private CA.
	CAFile string
	// Nick is the bot's nickname in rooms; empty means the JID's local part.
	Nick  string
	Rooms []Room
	// MaxLen is the most bytes of text in one message; longer text is
	// split. Zero means 4000.
	MaxLen int
	// PingInterval is how often an idle connection is checked; zero means
	// one minute. PingTimeout is how long an answer may take before the
	// connection counts as dead; zero means 30 seconds.
	PingInterval, PingTimeout time.Duration
	// Backoff bounds the wait between reconnects and between attempts to
	// rejoin a room; zero values mean 1s and 2m.
	Backoff bot.Backoff
	Logger  *slog.Logger
}

// Room is a MUC room to join.
type Room struct {
	// JID is the room's bare JID, room@conference.example.com.
	JID      string
	Password string
}

// Adapter is the XMPP adapter.
type Adapter struct {
	opts          Options
	local, domain string
	rooms         map[string]Room
	log           *slog.Logger

	mu  sync.Mutex
	cur *link // the live connection; nil while disconnected
}

var _ bot.Adapter = (*Adapter)(nil)

// minMaxLen keeps a split from having to cut inside a character.
const minMaxLen = 64

// New checks opts and returns an adapter. It connects to nothing until Run.
func New(opts Options) (*Adapter, error) {
	local, domain, resource := splitJID(opts.JID)
	var errs []error
	if local == "" || domain == "" || resource != "" {
		errs = append(errs, fmt.Errorf("xmpp: JID %q is not a bare JID such as bot@example.com", opts.JID))
	}
	if opts.DirectTLS && opts.Plaintext {
		errs = append(errs, errors.New("xmpp: DirectTLS and Plaintext exclude each other"))
	}
	if opts.MaxLen != 0 && opts.MaxLen < minMaxLen {
		errs = append(errs, fmt.Errorf("xmpp: MaxLen %d is below %d", opts.MaxLen, minMaxLen))
	}
	rooms := make(map[string]Room, len(opts.Rooms))
	for _, r := range opts.Rooms {
		if l, d, res := splitJID(r.JID); l == "" || d == "" || res != "" {
			errs = append(errs, fmt.Errorf("xmpp: room %q is not a bare JID such as soc@conference.example.com", r.JID))
		}
		rooms[r.JID] = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Resource == "" {
		opts.Resource = "seipbot"
	}
	if opts.Address == "" {
		port := "5222"
		if opts.DirectTLS {
			port = "5223"
		}
		opts.Address = net.JoinHostPort(domain, port)
	}
	if opts.Nick == "" {
		opts.Nick = local
	}
	if opts.MaxLen == 0 {
		opts.MaxLen = 4000
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = time.Minute
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 30 * time.Second
	}
	if opts.Backoff.Min <= 0 {
		opts.Backoff.Min = time.Second
	}
	if opts.Backoff.Max < opts.Backoff.Min {
		opts.Backoff.Max = max(2*time.Minute, opts.Backoff.Min)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{opts: opts, local: local, domain: domain, rooms: rooms, log: log.With("adapter", "xmpp")}, nil
}

// Name returns "xmpp".
func (a *Adapter) Name() string { return "xmpp" }

// Run connects, joins the rooms and delivers messages until ctx is
// cancelled, reconnecting with backoff whenever the connection drops. When
// ctx ends, the connection stays open so the bot can deliver what it still
// has to say; Close ends it.
func (a *Adapter) Run(ctx context.Context, in bot.Inbox) error {
	conf, err := a.tlsConfig()
	if err != nil {
		return err
	}
	wait := a.opts.Backoff.Min
	for {
		l, err := a.connect(ctx, conf)
		if err == nil {
			began := time.Now()
			a.log.Info("connected", "jid", l.s.jid, "address", a.opts.Address)
			a.serve(ctx, l, in)
			if ctx.Err() != nil {
				return nil
			}
			a.setCurrent(l, nil)
			err = l.s.err()
			// A connection that lasted resets the backoff; one that drops
			// at once (a server in trouble) keeps it growing.
			if time.Since(began) > a.opts.Backoff.Max {
				wait = a.opts.Backoff.Min
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("disconnected; reconnecting", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, a.opts.Backoff.Max)
	}
}

func (a *Adapter) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{ServerName: a.domain, MinVersion: tls.VersionTLS12}
	if a.opts.CAFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(a.opts.CAFile)
	if err != nil {
		return nil, fmt.Errorf("xmpp: CA file: %w", err)
	}
	conf.RootCAs = x509.NewCertPool()
	if !conf.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("xmpp: CA file %s holds no PEM certificate", a.opts.CAFile)
	}
	return conf, nil
}

func (a *Adapter) connect(ctx context.Context, conf *tls.Config) (*link, error) {
	l := &link{a: a, in: make(chan *bot.Message, 64), detached: make(chan struct{}), rooms: map[string]*roomState{}}
	for jid := range a.rooms {
		l.rooms[jid] = &roomState{nick: a.opts.Nick, occupants: map[string]string{}}
	}
	s, err := dial(ctx, dialConfig{
		local: a.local, domain: a.domain, password: a.opts.Password, resource: a.opts.Resource,
		address: a.opts.Address, directTLS: a.opts.DirectTLS, plaintext: a.opts.Plaintext,
		tls: conf, handle: l.handle,
	})
	if err != nil {
		return nil, err
	}
	l.s = s
	a.setCurrent(nil, l)
	for jid := range l.rooms {
		l.join(jid)
	}
	return l, nil
}

// serve delivers the connection's messages until it drops or ctx ends.
func (a *Adapter) serve(ctx context.Context, l *link, in bot.Inbox) {
	go a.keepalive(l.s)
	for {
		select {
		case <-ctx.Done():
			close(l.detached)
			return
		case <-l.s.closed:
			return
		case m := <-l.in:
			in.Receive(ctx, m)
		}
	}
}

// keepalive pings an open connection regularly, so one that died without a
// word (a NAT forgetting it, a server frozen) is noticed and replaced; the
// server's own pings are answered by the reader.
func (a *Adapter) keepalive(s *session) {
	t := time.NewTicker(a.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			s.ping(context.Background(), a.opts.PingTimeout, "")
		}
	}
}

// setCurrent replaces old with l as the live connection; old nil replaces
// whatever is there.
func (a *Adapter) setCurrent(old, l *link) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old == nil || a.cur == old {
		a.cur = l
	}
}

func (a *Adapter) current() *link {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

// Close leaves the rooms and ends the connection.
func (a *Adapter) Close() error {
	a.mu.Lock()
	l := a.cur
	a.cur = nil
	a.mu.Unlock()
	if l != nil {
		l.s.bye()
	}
	return nil
}

// outMessage is a message the bot sends.
type outMessage struct {
	XMLName xml.Name `xml:"message"`
	To      string   `xml:"to,attr"`
	Type    string   `xml:"type,attr"`
	ID      string   `xml:"id,attr"`
	Body    string   `xml:"body"`
}

// Send delivers r: to a room as groupchat, directly as chat.
func (a *Adapter) Send(ctx context.Context, r bot.Response) error {
	to, kind, err := a.destination(r)
	if err != nil {
		return bot.Permanent(err)
	}
	parts := split(render(r.Text), a.opts.MaxLen)
	if len(parts) == 0 {
		return nil
	}
	l := a.current()
	if l == nil {
		return errDisconnected
	}
	if kind == "groupchat" && !l.joined(to) {
		return fmt.Errorf("xmpp: not in %s yet", to)
	}
	var stanzas strings.Builder
	for _, p := range parts {
		x, err := encode(outMessage{To: to, Type: kind, ID: nonce(), Body: p})
		if err != nil {
			return err
		}
		stanzas.WriteString(x)
	}
	return l.s.ping(ctx, a.opts.PingTimeout, stanzas.String())
}

func (a *Adapter) destination(r bot.Response) (to, kind string, err error) {
	if r.Direct {
		jid, ok := strings.CutPrefix(r.User, "xmpp:")
		if l, d, _ := splitJID(jid); !ok || l == "" || d == "" {
			return "", "", fmt.Errorf("xmpp: %q is not an XMPP user; want xmpp:user@host", r.User)
		}
		return jid, "chat", nil
	}
	if _, ok := a.rooms[r.Room]; !ok {
		return "", "", fmt.Errorf("xmpp: %q is not one of the configured rooms", r.Room)
	}
	return r.Room, "groupchat", nil
}

// link is one connection and the state of the rooms on it.
type link struct {
	a        *Adapter
	s        *session
	in       chan *bot.Message
	detached chan struct{} // closed when Run no longer takes messages

	mu    sync.Mutex
	rooms map[string]*roomState
}

type roomState struct {
	nick      string
	joined    bool
	occupants map[string]string // nick → bare real JID, where the room shows it
	retry     time.Duration     // the wait before the next rejoin
}

type joinPresence struct {
	XMLName xml.Name `xml:"presence"`
	To      string   `xml:"to,attr"`
	X       mucJoin
}

type mucJoin struct {
	XMLName  xml.Name    `xml:"http://jabber.org/protocol/muc x"`
	Password string      `xml:"password,omitempty"`
	History  *mucHistory `xml:"history"`
}

type mucHistory struct {
	MaxStanzas int `xml:"maxstanzas,attr"`
}

func (l *link) join(room string) {
	l.mu.Lock()
	nick := l.rooms[room].nick
	l.mu.Unlock()
	// No history is asked for: the bot has nothing to learn from it, and
	// the reader drops delayed messages anyway should a server send some.
	l.s.write(joinPresence{To: room + "/" + nick, X: mucJoin{
		Password: l.a.rooms[room].Password, History: &mucHistory{MaxStanzas: 0},
	}})
}

func (l *link) joined(room string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rooms[room]
	return r != nil && r.joined
}

// handle runs on the reader goroutine for every message and presence.
func (l *link) handle(st *stanza) {
	switch st.XMLName.Local {
	case "presence":
		l.presence(st)
	case "message":
		m := l.message(st)
		if m == nil {
			return
		}
		select {
		case l.in <- m:
		case <-l.s.closed:
		case <-l.detached:
		}
	}
}

// presence follows the rooms: who is in them, and whether the bot still is.
func (l *link) presence(st *stanza) {
	roomJID, nick := bareAndResource(st.From)
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rooms[roomJID]
	if r == nil {
		return
	}
	self := nick == r.nick || st.MUCUser.has(110)
	switch st.Type {
	case "":
		if self {
			r.joined, r.nick, r.retry = true, nick, 0
			l.a.log.Info("joined room", "room", roomJID, "nick", nick)
		}
		if st.MUCUser != nil {
			for _, it := range st.MUCUser.Items {
				if it.JID != "" {
					r.occupants[nick], _ = bareAndResource(it.JID)
				}
			}
		}
	case "unavailable":
		if !self {
			delete(r.occupants, nick)
			return
		}
		r.joined = false
		why := "left"
		switch {
		case st.MUCUser.has(307):
			why = "kicked"
		case st.MUCUser.has(301):
			why = "banned"
		}
		l.rejoinLater(roomJID, r, why)
	case "error":
		if self || nick == "" {
			r.joined = false
			l.rejoinLater(roomJID, r, "join refused: "+st.condition())
		}
	}
}

// rejoinLater tries the room again after a growing wait, as long as this
// connection lives. l.mu is held.
func (l *link) rejoinLater(room string, r *roomState, why string) {
	b := l.a.opts.Backoff
	r.retry = min(max(2*r.retry, b.Min), b.Max)
	l.a.log.Warn("not in room; rejoining", "room", room, "why", why, "in", r.retry)
	time.AfterFunc(r.retry, func() {
		select {
		case <-l.s.closed:
		default:
			l.join(room)
		}
	})
}

// message turns a message stanza into the bot's Message, or nil for one the
// bot must not see: without text, delayed, an error, or its own.
func (l *link) message(st *stanza) *bot.Message {
	if st.Body == nil || strings.TrimSpace(*st.Body) == "" || st.Type == "error" {
		return nil
	}
	if st.Delay != nil || st.OldDelay != nil {
		return nil
	}
	from, nick := bareAndResource(st.From)
	ownJID := l.a.local + "@" + l.a.domain
	m := &bot.Message{ID: st.ID, Adapter: "xmpp", Text: *st.Body}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rooms[from]
	switch {
	case r != nil && (nick == "" || nick == r.nick || r.occupants[nick] == ownJID):
		// The room itself (a subject, a status) or the bot's own echo.
		return nil
	case r != nil && st.Type == "groupchat":
		m.Room, m.User = from, r.user(from, nick)
		if rest, ok := mentions(m.Text, r.nick); ok {
			m.Text, m.Mentioned = rest, true
		}
	case r != nil:
		// A private message through the room.
		m.Room, m.User, m.Direct = st.From, r.user(from, nick), true
	case st.Type == "groupchat" || from == ownJID:
		// A room the bot was not asked to join, or another of its own
		// connections.
		return nil
	default:
		local, _, _ := splitJID(from)
		m.Room, m.User, m.Direct = from, bot.User{ID: "xmpp:" + from, Name: local}, true
	}
	return m
}

// user is the identity of the occupant nick: the real JID where the room
// shows it, else the occupant's room JID.
func (r *roomState) user(room, nick string) bot.User {
	if real := r.occupants[nick]; real != "" {
		return bot.User{ID: "xmpp:" + real, Name: nick}
	}
	return bot.User{ID: "xmpp:" + room + "/" + nick, Name: nick}
}

// mentions reports whether text starts by addressing nick, as clients
// complete it ("nick: " or "nick, "), and returns the rest. The router finds
// the bot's name itself; this catches a nick that differs from it.
func mentions(text, nick string) (string, bool) {
	t := strings.TrimLeftFunc(text, unicode.IsSpace)
	if len(t) <= len(nick) || !strings.EqualFold(t[:len(nick)], nick) {
		return "", false
	}
	c, size := utf8.DecodeRuneInString(t[len(nick):])
	if c != ':' && c != ',' {
		return "", false
	}
	return strings.TrimSpace(t[len(nick)+size:]), true
}

// splitJID splits local@domain/resource.
func splitJID(jid string) (local, domain, resource string) {
	bare, resource, _ := strings.Cut(jid, "/")
	local, domain, ok := strings.Cut(bare, "@")
	if !ok {
		return "", local, resource
	}
	return local, domain, resource
}

// bareAndResource splits a JID at its first slash.
func bareAndResource(jid string) (string, string) {
	bare, resource, _ := strings.Cut(jid, "/")
	return bare, resource
}
