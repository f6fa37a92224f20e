// Package irc is the adapter for IRC networks. It speaks the client
// protocol itself (RFC 1459/2812 with the IRCv3 capabilities it needs), so
// that it controls what a library would hide: the exact length of a relayed
// line, the pace of sending, and when a reply has really reached the server.
//
// Identity: IRC nicknames are not authenticated. Anyone may take a free
// nick, so "irc:alice" only means someone who called themself alice when
// they spoke. On networks with services accounts the adapter asks for the
// IRCv3 account-tag capability; a message tagged with an account comes
// from "irc:<account>", and one from a user who is not logged in from
// "irc:~<nick>", which no account can be (nicks and accounts never start
// with "~"), so a role granted to an account cannot be borrowed by a guest.
// Grant roles on networks without accounts only where nicks are protected
// by other means (a private server, or one that enforces nick
// registration).
package irc

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Auth methods.
const (
	AuthNone         = ""
	AuthSASLPlain    = "sasl-plain"    // account and password over SASL PLAIN
	AuthSASLExternal = "sasl-external" // the client certificate over SASL EXTERNAL
	AuthNickServ     = "nickserv"      // PRIVMSG NickServ :IDENTIFY after connecting
)

// Options configure the IRC adapter.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// Insecure connects without TLS. Use it only for a server on loopback
	// or in tests: it sends passwords in the clear.
	Insecure bool
	// CAFile is a PEM file of certificate authorities to verify the server
	// with, in place of the system's, for a private network.
	CAFile string
	// CertFile and KeyFile are a client certificate, for SASL EXTERNAL or
	// a network that recognises certificate fingerprints.
	CertFile, KeyFile string
	// ServerPassword is sent with PASS, for servers that require one.
	ServerPassword string

	// Nick is the nickname to use; when taken, the adapter tries Nick_,
	// Nick__, then Nick2, Nick3 and so on.
	Nick     string
	Username string // default: Nick
	RealName string // default: "seipbot"

	// Auth is how to log in to the network's services: AuthNone,
	// AuthSASLPlain, AuthSASLExternal or AuthNickServ.
	Auth     string
	Account  string // default: Nick
	Password string

	// Channels to join; Keys holds the keys of those that have one.
	Channels []string
	Keys     map[string]string

	// PaceBurst lines go out at once, then one every PaceEvery.
	// Defaults: 4 and 500ms, under common servers' flood limits. A
	// negative PaceEvery turns pacing off.
	PaceBurst int
	PaceEvery time.Duration

	// BackoffMin and BackoffMax bound the wait between reconnects.
	// Defaults: 1s and 2m.
	BackoffMin, BackoffMax time.Duration

	Logger *slog.Logger
}

// Adapter is the IRC adapter.
type Adapter struct {
	opts  Options
	log   *slog.Logger
	pace  *pacer
	tls   *tls.Config
	proto string // "irc" or "ircs", for logs

	mu    sync.Mutex
	cur   *session      // nil while not connected
	ready chan struct{} // closed when cur is set
	// ended yields the end of the session Run left connected when its
	// context ended: the bot delivers the replies it has in hand before it
	// calls Close, which quits.
	ended chan error
	// stopped is set, under inMu, when Run returns: the reader may outlive
	// Run, but must not hand the bot a message once Run has returned, as the
	// bot waits for the messages in hand only until then.
	inMu    sync.RWMutex
	stopped bool
	// closing ends the connection (with QUIT) when Close is called.
	closing context.Context
	close   context.CancelFunc
}

var _ bot.Adapter = (*Adapter)(nil)

// ErrConfig reports options that cannot work; Run returns it at once.
var ErrConfig = errors.New("irc: invalid options")

// New returns an adapter. It does no I/O except reading the certificate
// files named in opts.
func New(opts Options) (*Adapter, error) {
	if opts.Addr == "" || opts.Nick == "" {
		return nil, fmt.Errorf("%w: Addr and Nick are required", ErrConfig)
	}
	if opts.Username == "" {
		opts.Username = opts.Nick
	}
	if opts.RealName == "" {
		opts.RealName = "seipbot"
	}
	if opts.Account == "" {
		opts.Account = opts.Nick
	}
	if opts.PaceBurst <= 0 {
		opts.PaceBurst = 4
	}
	if opts.PaceEvery == 0 {
		opts.PaceEvery = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch opts.Auth {
	case AuthNone:
	case AuthSASLPlain, AuthNickServ:
		if opts.Password == "" {
			return nil, fmt.Errorf("%w: auth %s needs a password", ErrConfig, opts.Auth)
		}
	case AuthSASLExternal:
		if opts.CertFile == "" {
			return nil, fmt.Errorf("%w: auth %s needs a client certificate", ErrConfig, opts.Auth)
		}
	default:
		return nil, fmt.Errorf("%w: unknown auth %q", ErrConfig, opts.Auth)
	}
	a := &Adapter{opts: opts, log: opts.Logger, pace: newPacer(opts.PaceBurst, opts.PaceEvery), ready: make(chan struct{}), proto: "irc"}
	a.closing, a.close = context.WithCancel(context.Background())
	if !opts.Insecure {
		host, _, err := net.SplitHostPort(opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("%w: Addr: %v", ErrConfig, err)
		}
		a.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		a.proto = "ircs"
		if opts.CAFile != "" {
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, fmt.Errorf("irc: CA file: %w", err)
			}
			a.tls.RootCAs = x509.NewCertPool()
			if !a.tls.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrConfig, opts.CAFile)
			}
		}
	}
	if opts.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("irc: client certificate: %w", err)
		}
		if a.tls == nil {
			return nil, fmt.Errorf("%w: a client certificate needs TLS; unset Insecure", ErrConfig)
		}
		a.tls.Certificates = []tls.Certificate{cert}
	}
	return a, nil
}

// Name returns "irc".
func (a *Adapter) Name() string { return "irc" }

// Run connects, and reconnects with backoff whenever the connection ends,
// until ctx is cancelled. It returns an error only when the server refuses
// the bot's credentials or nick. When ctx ends it stops reading messages
// but leaves the connection up, so replies still in hand can be sent
// (and confirmed) until Close.
func (a *Adapter) Run(ctx context.Context, in bot.Inbox) error {
	a.inMu.Lock()
	a.stopped = false
	a.inMu.Unlock()
	return bot.Redial(ctx, bot.Backoff{Min: a.opts.BackoffMin, Max: a.opts.BackoffMax},
		func(ctx context.Context) (bool, error) {
			s := &session{a: a, in: in, pongs: map[string]chan struct{}{}, done: make(chan struct{})}
			ended := make(chan error, 1)
			go func() { ended <- s.run(ctx) }()
			select {
			case err := <-ended:
				return s.joined, err
			case <-ctx.Done():
				// The bot stops taking messages but keeps the connection,
				// so the replies in hand can still go out; Close quits.
				a.inMu.Lock()
				a.stopped = true
				a.inMu.Unlock()
				a.mu.Lock()
				a.ended = ended
				a.mu.Unlock()
				return false, nil
			}
		},
		func(err error, wait time.Duration) {
			a.log.Warn("irc: disconnected; reconnecting", "addr", a.opts.Addr, "err", err, "retry_in", wait)
		})
}

// Close quits the connection Run left up, and returns once it is gone.
func (a *Adapter) Close() error {
	a.close()
	a.mu.Lock()
	ended := a.ended
	a.ended = nil
	a.mu.Unlock()
	if ended != nil {
		<-ended
	}
	return nil
}

// sendWait bounds how long Send waits for a connection before it lets the
// outbox retry.
const sendWait = 30 * time.Second

// Send delivers r line by line at the adapter's pace, and returns only once
// the server has processed every line (it answers a PING sent after them),
// so a reply cut off by a dropped connection is sent again rather than
// lost.
func (a *Adapter) Send(ctx context.Context, r bot.Response) error {
	target := r.Room
	if r.Direct && target == "" {
		// Identities are irc:<nick> or irc:~<nick> for guests; a reply to an
		// account (irc:<account>) has its nick in Room, as ReplyTo sets it.
		target = strings.TrimPrefix(strings.TrimPrefix(r.User, "irc:"), "~")
	}
	if target == "" || strings.ContainsAny(target, " ,\r\n\x00") {
		return bot.Permanent(fmt.Errorf("irc: %q is not a channel or nick", target))
	}
	lines := render(r.Text)
	if len(lines) == 0 {
		return nil
	}
	s, err := a.session(ctx)
	if err != nil {
		return err
	}
	for _, l := range lines {
		for _, part := range split(l, s.budget(target)) {
			if err := a.pace.wait(ctx); err != nil {
				return err
			}
			if err := s.write("PRIVMSG " + target + " :" + part); err != nil {
				return err
			}
		}
	}
	// The PING goes out at once, so the reply is confirmed as soon as the
	// server has it, and is paid for by the next line's wait.
	a.pace.charge()
	return s.confirm(ctx)
}

// session returns the current connection, waiting for one if needed.
func (a *Adapter) session(ctx context.Context) (*session, error) {
	t := time.NewTimer(sendWait)
	defer t.Stop()
	for {
		a.mu.Lock()
		s, ready := a.cur, a.ready
		a.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, errors.New("irc: not connected")
		}
	}
}

func (a *Adapter) setSession(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s != nil {
		a.cur = s
		close(a.ready)
		return
	}
	if a.cur == nil {
		// Already down (a failed reconnect): senders waiting on ready
		// must keep waiting on the same channel, or they would never
		// hear of the next session.
		return
	}
	a.cur = nil
	a.ready = make(chan struct{})
}

// session is one connection to the server.
type session struct {
	a    *Adapter
	in   bot.Inbox
	conn net.Conn

	wmu sync.Mutex // one writer at a time, so lines never interleave

	mu        sync.Mutex
	nick      string // our nick as the server knows it
	source    string // our "nick!user@host", once the server has shown it
	chantypes string
	accounts  bool // account-tag negotiated
	pongs     map[string]chan struct{}
	seq       int
	// pendingJoins counts the channels the server has yet to answer a JOIN
	// for; joined is set when none is left.
	pendingJoins int
	joined       bool
	done         chan struct{} // closed when the connection is gone

	// registration state, only touched by the reading goroutine
	registered bool
	nickTry    int
	caps       []string
}

func (s *session) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: time.Minute}
	conn, err := d.DialContext(ctx, "tcp", s.a.opts.Addr)
	if err != nil {
		return err
	}
	if s.a.tls != nil {
		tc := tls.Client(conn, s.a.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("tls: %w", err)
		}
		conn = tc
	}
	s.conn = conn
	return nil
}

// run connects and reads until the connection ends.
func (s *session) run(ctx context.Context) error {
	if err := s.dial(ctx); err != nil {
		return err
	}
	defer s.conn.Close()
	// Not on ctx: the connection outlives Run until Close (see Run).
	stop := context.AfterFunc(s.a.closing, func() {
		s.write("QUIT :shutting down")
		s.conn.Close()
	})
	defer stop()
	defer func() {
		s.a.setSession(nil)
		close(s.done)
	}()

	s.nick = s.a.opts.Nick
	s.chantypes = "#&"
	s.write("CAP LS 302")
	if s.a.opts.ServerPassword != "" {
		s.write("PASS " + s.a.opts.ServerPassword)
	}
	s.write("NICK " + s.nick)
	s.write("USER " + s.a.opts.Username + " 0 * :" + s.a.opts.RealName)

	go s.keepalive(ctx)
	r := bufio.NewReaderSize(s.conn, 8192)
	for {
		// The keepalive PINGs every minute, so a silent server is a dead one.
		s.conn.SetReadDeadline(time.Now().Add(3 * time.Minute))
		raw, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		l, err := parseLine(strings.TrimRight(raw, "\r\n"))
		if err != nil {
			continue
		}
		if err := s.handle(ctx, l); err != nil {
			return err
		}
	}
}

func (s *session) keepalive(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			s.write("PING :keepalive")
		}
	}
}

// write sends one line. Lines are never longer than the protocol allows:
// Send splits text first, and everything else is short.
func (s *session) write(text string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := s.conn.Write([]byte(text + "\r\n"))
	return err
}

// budget is how many bytes of text fit in one PRIVMSG to target, once the
// server has put our source in front of it for the people it relays to.
func (s *session) budget(target string) int {
	s.mu.Lock()
	src := s.source
	if src == "" {
		// Until the server shows our host, assume the longest one it may use.
		src = s.nick + "!~" + s.a.opts.Username + "@" + strings.Repeat("h", 63)
	}
	s.mu.Unlock()
	return maxLine - len(":"+src+" PRIVMSG "+target+" :\r\n")
}

// confirm sends a PING and waits for its PONG. The server answers in order,
// so the PONG means every line written before it was processed.
func (s *session) confirm(ctx context.Context) error {
	s.mu.Lock()
	s.seq++
	token := "seipbot-" + strconv.Itoa(s.seq)
	ch := make(chan struct{})
	s.pongs[token] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pongs, token)
		s.mu.Unlock()
	}()
	if err := s.write("PING :" + token); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-s.done:
		return errors.New("irc: connection lost before the server confirmed the message")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wanted are the capabilities the adapter uses when the server has them.
var wanted = []string{"account-tag", "message-tags"}

func (s *session) handle(ctx context.Context, l line) error {
	switch l.command {
	case "PING":
		return s.write("PONG :" + l.param(0))
	case "PONG":
		s.mu.Lock()
		ch := s.pongs[l.param(len(l.params)-1)]
		s.mu.Unlock()
		if ch != nil {
			close(ch)
		}
	case "ERROR":
		return fmt.Errorf("server closed the connection: %s", l.param(0))
	case "CAP":
		return s.cap(l)
	case "AUTHENTICATE":
		return s.authenticate(l)
	case "903": // RPL_SASLSUCCESS
		return s.write("CAP END")
	case "902", "904", "905", "906", "908": // SASL failed
		return bot.Fatal(fmt.Errorf("irc: SASL login as %s failed: %s", s.a.opts.Account, l.param(len(l.params)-1)))
	case "433", "436", "437": // nick in use, collision, unavailable
		return s.nextNick(l)
	case "432":
		return bot.Fatal(fmt.Errorf("irc: the server refuses the nick %q: %s", l.param(1), l.param(len(l.params)-1)))
	case "464":
		return bot.Fatal(errors.New("irc: the server refused the server password"))
	case "001": // RPL_WELCOME: registered
		s.registered = true
		s.mu.Lock()
		s.nick = l.param(0)
		s.mu.Unlock()
		if s.nick != s.a.opts.Nick {
			s.a.log.Warn("irc: nick taken; using another", "wanted", s.a.opts.Nick, "nick", s.nick)
		}
		if s.a.opts.Auth == AuthNickServ {
			s.write("PRIVMSG NickServ :IDENTIFY " + s.a.opts.Account + " " + s.a.opts.Password)
		}
		s.write("USERHOST " + s.nick)
		return s.join()
	case "005": // RPL_ISUPPORT
		for _, p := range l.params[1:] {
			if v, ok := strings.CutPrefix(p, "CHANTYPES="); ok {
				s.mu.Lock()
				s.chantypes = v
				s.mu.Unlock()
			}
		}
	case "302": // RPL_USERHOST: "nick=+user@host" tells the source others see
		if nick, host, ok := strings.Cut(l.param(1), "="); ok {
			s.setSource(strings.TrimSuffix(strings.TrimSpace(nick), "*") + "!" + strings.TrimSpace(host[1:]))
		}
	case "JOIN":
		if s.isMe(l.nick()) {
			s.setSource(l.prefix)
			s.joinedOne()
		}
	case "NICK":
		if s.isMe(l.nick()) {
			s.mu.Lock()
			s.nick = l.param(0)
			s.mu.Unlock()
		}
	case "KICK":
		if s.isMe(l.param(1)) {
			s.a.log.Warn("irc: kicked; rejoining", "channel", l.param(0), "by", l.nick(), "reason", l.param(2))
			return s.write(joinLine([]string{l.param(0)}, s.a.opts.Keys))
		}
	case "471", "473", "474", "475", "403", "405": // cannot join
		s.a.log.Error("irc: cannot join", "channel", l.param(1), "reason", l.param(len(l.params)-1))
		s.joinedOne()
	case "PRIVMSG":
		s.privmsg(ctx, l)
	}
	return nil
}

func (s *session) isMe(nick string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.EqualFold(nick, s.nick)
}

func (s *session) setSource(src string) {
	s.mu.Lock()
	s.source = src
	s.mu.Unlock()
}

// cap negotiates IRCv3 capabilities: the wanted ones the server offers,
// and sasl when logging in by SASL.
func (s *session) cap(l line) error {
	switch l.param(1) {
	case "LS":
		s.caps = append(s.caps, strings.Fields(l.param(len(l.params)-1))...)
		if l.param(2) == "*" {
			return nil // more to come
		}
		offered := map[string]bool{}
		for _, c := range s.caps {
			name, _, _ := strings.Cut(c, "=")
			offered[name] = true
		}
		var req []string
		for _, c := range wanted {
			if offered[c] {
				req = append(req, c)
			}
		}
		if s.sasl() {
			if !offered["sasl"] {
				return bot.Fatal(errors.New("irc: the server does not offer SASL; use another auth method"))
			}
			req = append(req, "sasl")
		}
		if len(req) == 0 {
			return s.write("CAP END")
		}
		return s.write("CAP REQ :" + strings.Join(req, " "))
	case "ACK":
		acked := strings.Fields(l.param(len(l.params) - 1))
		for _, c := range acked {
			if c == "account-tag" {
				s.mu.Lock()
				s.accounts = true
				s.mu.Unlock()
			}
		}
		if s.sasl() {
			mech := "PLAIN"
			if s.a.opts.Auth == AuthSASLExternal {
				mech = "EXTERNAL"
			}
			return s.write("AUTHENTICATE " + mech)
		}
		return s.write("CAP END")
	case "NAK":
		if s.sasl() {
			return bot.Fatal(errors.New("irc: the server refused the SASL capability"))
		}
		return s.write("CAP END")
	}
	return nil
}

func (s *session) sasl() bool {
	return s.a.opts.Auth == AuthSASLPlain || s.a.opts.Auth == AuthSASLExternal
}

// authenticate answers the server's SASL challenge, in 400-byte chunks as
// the protocol requires.
func (s *session) authenticate(l line) error {
	if l.param(0) != "+" {
		return nil
	}
	if s.a.opts.Auth == AuthSASLExternal {
		return s.write("AUTHENTICATE +")
	}
	o := s.a.opts
	payload := base64.StdEncoding.EncodeToString([]byte(o.Account + "\x00" + o.Account + "\x00" + o.Password))
	for len(payload) >= 400 {
		if err := s.write("AUTHENTICATE " + payload[:400]); err != nil {
			return err
		}
		payload = payload[400:]
	}
	if payload == "" {
		payload = "+"
	}
	return s.write("AUTHENTICATE " + payload)
}

// nextNick tries the next nick after a collision, while registering.
func (s *session) nextNick(l line) error {
	if s.registered {
		return nil // the adapter changes no nick after registering
	}
	s.nickTry++
	if s.nickTry > 20 {
		return errors.New("irc: no free nick found")
	}
	n := s.a.opts.Nick + strings.Repeat("_", s.nickTry)
	if s.nickTry > 2 {
		n = s.a.opts.Nick + strconv.Itoa(s.nickTry)
	}
	s.mu.Lock()
	s.nick = n
	s.mu.Unlock()
	return s.write("NICK " + n)
}

// join joins the configured channels; the session is ready once the server
// has answered for each. With none, it is ready at once.
func (s *session) join() error {
	s.mu.Lock()
	s.pendingJoins = len(s.a.opts.Channels)
	s.mu.Unlock()
	if len(s.a.opts.Channels) == 0 {
		s.joinedOne()
		return nil
	}
	return s.write(joinLine(s.a.opts.Channels, s.a.opts.Keys))
}

// joinLine is one JOIN for channels, keyed ones first as the protocol pairs
// keys with channels by position.
func joinLine(channels []string, keys map[string]string) string {
	var keyed, open, ks []string
	for _, c := range channels {
		if k := keys[c]; k != "" {
			keyed = append(keyed, c)
			ks = append(ks, k)
		} else {
			open = append(open, c)
		}
	}
	l := "JOIN " + strings.Join(append(keyed, open...), ",")
	if len(ks) > 0 {
		l += " " + strings.Join(ks, ",")
	}
	return l
}

// joinedOne counts one channel answered for; the last makes the session the
// adapter's current one.
func (s *session) joinedOne() {
	s.mu.Lock()
	s.pendingJoins--
	ready := s.pendingJoins <= 0 && !s.joined
	if ready {
		s.joined = true
	}
	s.mu.Unlock()
	if ready {
		s.a.log.Info("irc: connected", "addr", s.a.opts.Addr, "proto", s.a.proto, "nick", s.nick, "channels", s.a.opts.Channels)
		s.a.setSession(s)
	}
}

// privmsg delivers a message to the bot: in a channel, or directly.
func (s *session) privmsg(ctx context.Context, l line) {
	nick, target, text := l.nick(), l.param(0), l.param(1)
	if nick == "" || s.isMe(nick) || strings.HasPrefix(text, "\x01") {
		return // our own echo, or CTCP, which is not chat
	}
	if _, ok := l.tags["bot"]; ok {
		return // marked a bot (IRCv3 bot mode): never answer, so bots cannot loop
	}
	s.mu.Lock()
	me, chantypes, accounts := s.nick, s.chantypes, s.accounts
	s.mu.Unlock()
	id := "irc:" + nick
	if accounts {
		if acct := l.tags["account"]; acct != "" && acct != "*" {
			id = "irc:" + acct
		} else {
			id = "irc:~" + nick
		}
	}
	m := &bot.Message{
		ID:      l.tags["msgid"],
		Adapter: "irc",
		Text:    text,
		User:    bot.User{ID: id, Name: nick},
		Time:    time.Now(),
	}
	if t, err := time.Parse(time.RFC3339Nano, l.tags["time"]); err == nil {
		m.Time = t
	}
	if target != "" && strings.ContainsRune(chantypes, rune(target[0])) {
		m.Room = target
		// The router knows the bot by its configured name; when the server
		// made us take another nick, a line addressed to that nick is a
		// mention the router could not see.
		if !strings.EqualFold(me, s.a.opts.Nick) {
			if rest, ok := cutAddress(text, me); ok {
				m.Text, m.Mentioned = rest, true
			}
		}
	} else {
		m.Room, m.Direct = nick, true
	}
	s.a.inMu.RLock()
	defer s.a.inMu.RUnlock()
	if s.a.stopped {
		return // Run has returned: the bot takes no new messages
	}
	s.in.Receive(ctx, m)
}

// cutAddress removes a leading "nick:" or "nick," from text.
func cutAddress(text, nick string) (string, bool) {
	if len(text) <= len(nick) || !strings.EqualFold(text[:len(nick)], nick) {
		return "", false
	}
	if c := text[len(nick)]; c != ':' && c != ',' {
		return "", false
	}
	return strings.TrimSpace(text[len(nick)+1:]), true
}
