package xmpp

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// XML namespaces of the protocol parts this package speaks.
const (
	nsStreams = "http://etherx.jabber.org/streams"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsPing    = "urn:xmpp:ping"
	nsDelay   = "urn:xmpp:delay"
	nsOldDly  = "jabber:x:delay"
	nsMUC     = "http://jabber.org/protocol/muc"
	nsMUCUser = "http://jabber.org/protocol/muc#user"
)

// errAuth is a login the server refused: a wrong password or an account
// that does not exist.
var errAuth = errors.New("the server refused the login")

// dialConfig is what one connection needs.
type dialConfig struct {
	local, domain string // the account's bare JID, split
	password      string
	resource      string
	address       string      // host:port to dial
	directTLS     bool        // TLS from the first byte (XEP-0368)
	plaintext     bool        // no TLS at all; SCRAM only
	tls           *tls.Config // with ServerName set to domain
	handle        func(*stanza)
}

// session is one connected, authenticated and bound XMPP stream. A reader
// goroutine owns the decoder; writes from any goroutine are serialised.
type session struct {
	conn     net.Conn
	dec      *xml.Decoder
	jid      string // the full JID the server bound
	domain   string
	handle   func(*stanza) // called on the reader goroutine for messages and presences
	wmu      sync.Mutex
	mu       sync.Mutex
	pending  map[string]chan *stanza // iq ids awaiting an answer
	closed   chan struct{}
	once     sync.Once
	closeErr error
}

// stanza is any message, presence or iq, with the parts of each that this
// package reads. encoding/xml matches the namespaced fields by namespace, so
// the three <x> payloads stay apart.
type stanza struct {
	XMLName  xml.Name
	From     string    `xml:"from,attr"`
	To       string    `xml:"to,attr"`
	ID       string    `xml:"id,attr"`
	Type     string    `xml:"type,attr"`
	Body     *string   `xml:"body"`
	Delay    *struct{} `xml:"urn:xmpp:delay delay"`
	OldDelay *struct{} `xml:"jabber:x:delay x"`
	MUCUser  *mucUser  `xml:"http://jabber.org/protocol/muc#user x"`
	Ping     *struct{} `xml:"urn:xmpp:ping ping"`
	Error    *struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"error"`
}

type mucUser struct {
	Items  []mucItem   `xml:"item"`
	Status []mucStatus `xml:"status"`
}

type mucItem struct {
	JID  string `xml:"jid,attr"`
	Nick string `xml:"nick,attr"`
}

type mucStatus struct {
	Code int `xml:"code,attr"`
}

// has reports whether the room sent status code (110: this is you, 307:
// kicked, 301: banned).
func (m *mucUser) has(code int) bool {
	return m != nil && slices.Contains(m.Status, mucStatus{code})
}

// condition names the defined condition of an error stanza, such as
// "not-authorized", for logs.
func (s *stanza) condition() string {
	if s.Error == nil {
		return ""
	}
	d := xml.NewDecoder(strings.NewReader(string(s.Error.Inner)))
	for {
		tok, err := d.Token()
		if err != nil {
			return "undefined-condition"
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Space == nsStanzas && se.Name.Local != "text" {
			return se.Name.Local
		}
	}
}

type features struct {
	StartTLS   *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms *struct {
		List []string `xml:"mechanism"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms"`
	Bind    *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Session *struct {
		Optional *struct{} `xml:"optional"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-session session"`
}

// negotiateTimeout bounds connecting and logging in when ctx has no
// deadline, so a server that accepts and then says nothing is noticed.
const negotiateTimeout = 30 * time.Second

// dial connects, secures and authenticates a stream, binds a resource and
// sends initial presence, then starts the reader.
func dial(ctx context.Context, c dialConfig) (*session, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.address)
	if err != nil {
		return nil, fmt.Errorf("xmpp: connect: %w", err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(negotiateTimeout)
	}
	conn.SetDeadline(deadline)
	// Cancelling ctx breaks off the negotiation at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	s := &session{conn: conn, domain: c.domain, handle: c.handle, pending: map[string]chan *stanza{}, closed: make(chan struct{})}
	if err := s.negotiate(ctx, c); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	conn.SetDeadline(time.Time{})
	go s.read()
	return s, nil
}

func (s *session) negotiate(ctx context.Context, c dialConfig) error {
	secure := false
	if c.directTLS {
		tc := tls.Client(s.conn, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("xmpp: tls: %w", err)
		}
		s.conn, secure = tc, true
	}
	f, err := s.open()
	if err != nil {
		return err
	}
	if !secure && !c.plaintext {
		if f.StartTLS == nil {
			return errors.New("xmpp: the server does not offer STARTTLS; use direct TLS, or allow plaintext explicitly")
		}
		if err := s.starttls(ctx, c.tls); err != nil {
			return err
		}
		secure = true
		if f, err = s.open(); err != nil {
			return err
		}
	}
	var offered []string
	if f.Mechanisms != nil {
		offered = f.Mechanisms.List
	}
	mech, err := chooseMechanism(offered, secure)
	if err != nil {
		return err
	}
	if err := s.authenticate(mech, c.local, c.password); err != nil {
		return err
	}
	if f, err = s.open(); err != nil {
		return err
	}
	if f.Bind == nil {
		return errors.New("xmpp: the server offers no resource binding")
	}
	if err := s.bind(c.resource); err != nil {
		return err
	}
	// RFC 3921 servers need a session; RFC 6121 ones mark it optional.
	if f.Session != nil && f.Session.Optional == nil {
		if _, err := s.iqSync(`<iq type='set' id='sess'><session xmlns='` + nsSession + `'/></iq>`); err != nil {
			return fmt.Errorf("xmpp: session: %w", err)
		}
	}
	// Initial presence makes the server route messages sent to the bare JID
	// here.
	return s.writeRaw("<presence/>")
}

// open starts a new stream (first, or after TLS or SASL reset it) and
// returns the server's features.
func (s *session) open() (*features, error) {
	s.dec = xml.NewDecoder(s.conn)
	header := fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='%s' version='1.0' xml:lang='en'>",
		escape(s.domain), nsStreams)
	if err := s.writeRaw(header); err != nil {
		return nil, err
	}
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("xmpp: open stream: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != nsStreams || se.Name.Local != "stream" {
				return nil, fmt.Errorf("xmpp: the server answered with <%s>, not a stream", se.Name.Local)
			}
			break
		}
	}
	start, err := s.next()
	if err != nil {
		return nil, err
	}
	if start.Name.Space != nsStreams || start.Name.Local != "features" {
		return nil, fmt.Errorf("xmpp: want stream features, got <%s>", start.Name.Local)
	}
	var f features
	if err := s.dec.DecodeElement(&f, &start); err != nil {
		return nil, fmt.Errorf("xmpp: features: %w", err)
	}
	return &f, nil
}

// next returns the next top-level element's start, turning a stream error
// or the end of the stream into an error.
func (s *session) next() (xml.StartElement, error) {
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return xml.StartElement{}, errors.New("xmpp: the server closed the stream")
		case xml.StartElement:
			if t.Name.Space == nsStreams && t.Name.Local == "error" {
				var e struct {
					Inner []byte `xml:",innerxml"`
				}
				s.dec.DecodeElement(&e, &t)
				return xml.StartElement{}, fmt.Errorf("xmpp: stream error: %s", firstElement(e.Inner))
			}
			return t, nil
		}
	}
}

func firstElement(inner []byte) string {
	d := xml.NewDecoder(strings.NewReader(string(inner)))
	for {
		tok, err := d.Token()
		if err != nil {
			return "undefined-condition"
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local
		}
	}
}

func (s *session) starttls(ctx context.Context, conf *tls.Config) error {
	if err := s.writeRaw("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		return err
	}
	start, err := s.next()
	if err != nil {
		return err
	}
	if start.Name.Local != "proceed" {
		return errors.New("xmpp: the server refused STARTTLS")
	}
	tc := tls.Client(s.conn, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("xmpp: tls: %w", err)
	}
	s.conn = tc
	return nil
}

// chooseMechanism picks the strongest SASL mechanism both sides know.
// SCRAM never sends the password and proves the server knows it too, so it
// is preferred and allowed without TLS; PLAIN sends the password and is used
// only over TLS. The -PLUS variants are skipped: we announce "n" (no channel
// binding), which servers accept alongside -PLUS, whereas "y" (supported
// but believed absent on the server) is rejected as a downgrade by a server
// that offers -PLUS.
func chooseMechanism(offered []string, secure bool) (string, error) {
	for _, m := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		if m == "PLAIN" && !secure {
			continue
		}
		if slices.Contains(offered, m) {
			return m, nil
		}
	}
	if slices.Contains(offered, "PLAIN") {
		return "", errors.New("xmpp: the server offers only PLAIN, which would send the password without TLS; turn TLS on")
	}
	return "", fmt.Errorf("xmpp: no SASL mechanism in common (the server offers %s)", strings.Join(offered, ", "))
}

func (s *session) authenticate(mech, user, password string) error {
	var sc *scram
	var first []byte
	switch mech {
	case "PLAIN":
		first = []byte("\x00" + user + "\x00" + password)
	case "SCRAM-SHA-1":
		sc = newSCRAM(sha1.New, user, password, nonce())
		first = sc.clientFirst()
	case "SCRAM-SHA-256":
		sc = newSCRAM(sha256.New, user, password, nonce())
		first = sc.clientFirst()
	}
	if err := s.writeRaw(fmt.Sprintf("<auth xmlns='%s' mechanism='%s'>%s</auth>", nsSASL, mech, base64.StdEncoding.EncodeToString(first))); err != nil {
		return err
	}
	for {
		start, err := s.next()
		if err != nil {
			return err
		}
		var payload struct {
			Text  string `xml:",chardata"`
			Inner []byte `xml:",innerxml"`
		}
		if err := s.dec.DecodeElement(&payload, &start); err != nil {
			return fmt.Errorf("xmpp: sasl: %w", err)
		}
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload.Text))
		if start.Name.Local != "failure" && err != nil {
			return fmt.Errorf("xmpp: sasl: bad base64 from the server: %w", err)
		}
		switch start.Name.Local {
		case "challenge":
			if sc == nil {
				return errors.New("xmpp: sasl: unexpected challenge")
			}
			var resp []byte
			if sc.serverSig == nil {
				resp, err = sc.clientFinal(data)
			} else {
				// Some servers send the server-final message as a
				// challenge rather than inside <success>.
				err = sc.verify(data)
			}
			if err != nil {
				s.writeRaw("<abort xmlns='" + nsSASL + "'/>")
				return err
			}
			if err := s.writeRaw(fmt.Sprintf("<response xmlns='%s'>%s</response>", nsSASL, base64.StdEncoding.EncodeToString(resp))); err != nil {
				return err
			}
		case "success":
			if sc != nil && !sc.verified {
				if err := sc.verify(data); err != nil {
					return err
				}
			}
			return nil
		case "failure":
			return fmt.Errorf("%w (%s: %s)", errAuth, mech, firstElement(payload.Inner))
		default:
			return fmt.Errorf("xmpp: sasl: unexpected <%s>", start.Name.Local)
		}
	}
}

func (s *session) bind(resource string) error {
	var res string
	if resource != "" {
		res = "<resource>" + escape(resource) + "</resource>"
	}
	st, err := s.iqSync(fmt.Sprintf("<iq type='set' id='bind'><bind xmlns='%s'>%s</bind></iq>", nsBind, res))
	if err != nil {
		return fmt.Errorf("xmpp: bind: %w", err)
	}
	s.jid = st
	return nil
}

// iqSync sends an iq during negotiation, before the reader runs, and waits
// for its answer. It returns the bound JID for a bind, which is the only
// payload negotiation needs.
func (s *session) iqSync(iq string) (string, error) {
	if err := s.writeRaw(iq); err != nil {
		return "", err
	}
	start, err := s.next()
	if err != nil {
		return "", err
	}
	var r struct {
		Type string `xml:"type,attr"`
		JID  string `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	}
	if err := s.dec.DecodeElement(&r, &start); err != nil {
		return "", err
	}
	if start.Name.Local != "iq" || r.Type != "result" {
		return "", errors.New("the server refused it")
	}
	return r.JID, nil
}

// read decodes stanzas until the connection ends, answering pings and
// waking pending iqs itself and passing messages and presences on.
func (s *session) read() {
	for {
		start, err := s.next()
		if err != nil {
			s.close(err)
			return
		}
		var st stanza
		if err := s.dec.DecodeElement(&st, &start); err != nil {
			s.close(fmt.Errorf("xmpp: read: %w", err))
			return
		}
		switch st.XMLName.Local {
		case "iq":
			s.iq(&st)
		case "message", "presence":
			s.handle(&st)
		}
	}
}

func (s *session) iq(st *stanza) {
	switch st.Type {
	case "result", "error":
		s.mu.Lock()
		ch := s.pending[st.ID]
		delete(s.pending, st.ID)
		s.mu.Unlock()
		if ch != nil {
			ch <- st
		}
	case "get", "set":
		to := ""
		if st.From != "" {
			to = " to='" + escape(st.From) + "'"
		}
		if st.Type == "get" && st.Ping != nil {
			s.writeRaw(fmt.Sprintf("<iq type='result' id='%s'%s/>", escape(st.ID), to))
			return
		}
		// RFC 6120 requires an answer to every get and set.
		s.writeRaw(fmt.Sprintf("<iq type='error' id='%s'%s><error type='cancel'><service-unavailable xmlns='%s'/></error></iq>",
			escape(st.ID), to, nsStanzas))
	}
}

// ping sends a XEP-0199 ping to the server and waits for the answer. The
// server handles a client's stanzas in order, so the answer also proves it
// has the stanzas in before, which go out in the same write: the server
// then reads them in one go and answers in the same turn as it delivers
// them, which leaves the least room for a crash between the two, after
// which the sender cannot tell whether they arrived and sends them again.
// An error answer (a server without ping) proves as much as a result.
func (s *session) ping(ctx context.Context, timeout time.Duration, before string) error {
	_, err := s.request(ctx, timeout, before, "get", s.domain, "<ping xmlns='"+nsPing+"'/>")
	return err
}

// request writes before and an iq with payload, and returns the iq's
// answer, a result or an error. Servers answer every iq, so one unanswered
// within timeout means the connection is dead, and it is closed.
func (s *session) request(ctx context.Context, timeout time.Duration, before, typ, to, payload string) (*stanza, error) {
	id := "q" + nonce()
	ch := make(chan *stanza, 1)
	s.mu.Lock()
	s.pending[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()
	if err := s.writeRaw(before + fmt.Sprintf("<iq type='%s' id='%s' to='%s'>%s</iq>", typ, id, escape(to), payload)); err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case st := <-ch:
		return st, nil
	case <-s.closed:
		return nil, s.err()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		err := fmt.Errorf("xmpp: the server did not answer within %s", timeout)
		s.close(err)
		return nil, err
	}
}

// write sends one stanza encoded from v.
func (s *session) write(v any) error {
	x, err := encode(v)
	if err != nil {
		return err
	}
	return s.writeRaw(x)
}

func encode(v any) (string, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		// Only a mistake in this package's types gets here, and no retry
		// fixes that.
		return "", bot.Permanent(fmt.Errorf("xmpp: encode stanza: %w", err))
	}
	return string(b), nil
}

func (s *session) writeRaw(x string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	select {
	case <-s.closed:
		return s.err()
	default:
	}
	if _, err := io.WriteString(s.conn, x); err != nil {
		s.close(fmt.Errorf("xmpp: write: %w", err))
		return s.err()
	}
	return nil
}

// close ends the session once; err says why, for whoever is waiting.
func (s *session) close(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.closeErr = err
		s.mu.Unlock()
		close(s.closed)
		s.conn.Close()
	})
}

func (s *session) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Errorf("%w: %w", errDisconnected, s.closeErr)
}

// bye ends the stream politely: the server then tells the rooms the bot
// left rather than that it timed out.
func (s *session) bye() {
	s.writeRaw("<presence type='unavailable'/></stream:stream>")
	s.close(io.EOF)
}

// errDisconnected wraps every failure to send because the connection is
// gone; the outbox retries it once the adapter has reconnected.
var errDisconnected = errors.New("xmpp: not connected")

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func nonce() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
