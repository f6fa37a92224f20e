// Package irctest starts a real ngIRCd for tests, and talks to it as a
// human: the IRC adapter's own tests and the end-to-end tests of
// "seipbot run" share it.
//
// It does not import the adapter, so the adapter's in-package tests can
// import it without an import cycle.
package irctest

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// Room is the channel the server's configuration creates for the tests.
const Room = "#test"

//go:embed ngircd.conf
var confTemplate string

// Server is a real ngIRCd on a free loopback port, stopped when the test
// ends.
type Server struct {
	// Addr is the plaintext host:port.
	Addr string

	t         testing.TB
	bin, conf string
	cmd       *exec.Cmd
}

// Options are the server's settings beyond the defaults.
type Options struct {
	// Throttle keeps ngIRCd's default command penalties on (about three
	// lines a second per client); off, the server relays as fast as it
	// is sent to.
	Throttle bool
	// SSL, when set, is an [SSL] section to add to the configuration.
	SSL string
}

// Start starts ngIRCd. scripts/services.sh installs it and names it in
// SEIPBOT_TEST_NGIRCD; without that variable Start looks on PATH, and
// without ngIRCd it skips the test (fails it under CI=true).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := os.Getenv("SEIPBOT_TEST_NGIRCD")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("ngircd"); err != nil {
			if bin, err = exec.LookPath("/usr/sbin/ngircd"); err != nil {
				adaptertest.ServerRequired(t, "ngIRCd (apt-get install ngircd, or run scripts/test.sh)")
			}
		}
	}
	dir := t.TempDir()
	penalty := "0"
	if opts.Throttle {
		penalty = "-1"
	}
	port := strconv.Itoa(adaptertest.FreePort(t))
	s := &Server{t: t, bin: bin, conf: filepath.Join(dir, "ngircd.conf"), Addr: "127.0.0.1:" + port}
	conf := strings.NewReplacer("{{port}}", port, "{{dir}}", dir, "{{penalty}}", penalty, "{{ssl}}", opts.SSL).Replace(confTemplate)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server again after Stop, on the same port, and returns
// once it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "-n", "-f", s.conf)
	if testing.Verbose() {
		s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start ngircd: %v", err)
	}
	for range 200 {
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.t.Fatalf("ngircd did not listen on %s within 5s", s.Addr)
}

// Stop kills the server, cutting every client off.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Client is a human's IRC client: it registers, joins Room, and hands over
// what the bot says. It implements adaptertest.Client.
type Client struct {
	// Quits receives the nick of everyone seen quitting, so a test can
	// tell that the bot was disconnected.
	Quits chan string

	t    testing.TB
	addr string
	nick string

	from chan adaptertest.Received
	// observe, when set, sees every line of the current connection
	// before the client acts on it.
	observe func(Line)

	mu      sync.Mutex // guards conn and botNick
	conn    net.Conn
	botNick string
}

var _ adaptertest.Client = (*Client)(nil)

// NewClient connects as nick to the server at addr and joins Room; it
// hands over what botNick says, in Room or directly.
func NewClient(t testing.TB, addr, nick, botNick string) *Client {
	return NewObservedClient(t, addr, nick, botNick, nil)
}

// NewObservedClient is NewClient with observe seeing every line the client
// reads on its current connection, before the client acts on it; it
// starts seeing them before NewObservedClient returns. Lines a dead
// connection's reader is still draining after Connect replaced it are not
// shown. observe runs on the reading goroutine.
func NewObservedClient(t testing.TB, addr, nick, botNick string, observe func(Line)) *Client {
	c := &Client{t: t, addr: addr, nick: nick, botNick: botNick, from: make(chan adaptertest.Received, 1024), Quits: make(chan string, 64), observe: observe}
	c.Connect()
	t.Cleanup(func() {
		c.mu.Lock()
		c.conn.Close()
		c.mu.Unlock()
	})
	return c
}

// Connect registers and joins Room, returning once the server has
// confirmed the join; after a server restart it connects again.
func (c *Client) Connect() {
	c.t.Helper()
	conn, err := net.Dial("tcp", c.addr)
	if err != nil {
		c.t.Fatalf("user: %v", err)
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	c.write("NICK " + c.nick)
	c.write("USER " + c.nick + " 0 * :test user")
	c.write("JOIN " + Room)
	joined := make(chan struct{})
	go c.read(conn, joined)
	select {
	case <-joined:
	case <-time.After(adaptertest.Timeout):
		c.t.Fatalf("user %s could not join %s on %s", c.nick, Room, c.addr)
	}
}

func (c *Client) read(conn net.Conn, joined chan struct{}) {
	r := bufio.NewReader(conn)
	for {
		raw, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l := split(strings.TrimRight(raw, "\r\n"))
		if c.observe != nil {
			c.mu.Lock()
			current := conn == c.conn
			c.mu.Unlock()
			if current {
				c.observe(l)
			}
		}
		from, param := l.Nick, l.Param
		switch l.Command {
		case "PING":
			c.write("PONG :" + param(0))
		case "366": // end of NAMES: the join is complete
			if joined != nil && param(1) == Room {
				close(joined)
				joined = nil
			}
		case "QUIT":
			c.Quits <- from
		case "PRIVMSG":
			c.mu.Lock()
			botNick := c.botNick
			c.mu.Unlock()
			if from != botNick {
				continue
			}
			got := adaptertest.Received{Room: param(0), Text: param(1)}
			if strings.EqualFold(got.Room, c.nick) {
				got = adaptertest.Received{Direct: true, Text: got.Text}
			}
			c.from <- got
		}
	}
}

// Line is a line the client read from the server, taken apart.
type Line struct {
	// Nick is the sender's nick, empty for the server's own lines.
	Nick    string
	Command string
	Params  []string
}

// Param returns parameter i, or "" when there are fewer.
func (l Line) Param(i int) string {
	if i < len(l.Params) {
		return l.Params[i]
	}
	return ""
}

// Last returns the last parameter, or "" when there is none.
func (l Line) Last() string { return l.Param(len(l.Params) - 1) }

// split takes a server line apart: the sender's nick, the command and the
// parameters. ngIRCd sends no message tags to a client that did not ask
// for them, so this is all a human's client needs; the adapter's own
// parser is not used here, so that its mistakes cannot hide in the test.
func split(s string) Line {
	var l Line
	if strings.HasPrefix(s, ":") {
		var prefix string
		prefix, s, _ = strings.Cut(s[1:], " ")
		l.Nick, _, _ = strings.Cut(prefix, "!")
	}
	s, trailing, hasTrailing := strings.Cut(s, " :")
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return l
	}
	l.Command, l.Params = fields[0], fields[1:]
	if hasTrailing {
		l.Params = append(l.Params, trailing)
	}
	return l
}

func (c *Client) write(line string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.conn.Write([]byte(line + "\r\n"))
	return err
}

// Raw sends line to the server as it is, for a command the methods do not
// cover, such as joining another channel.
func (c *Client) Raw(line string) error { return c.write(line) }

// Follow makes the client hand over what nick says rather than the bot
// nick it was made with, for a bot that had to take another nick.
func (c *Client) Follow(nick string) {
	c.mu.Lock()
	c.botNick = nick
	c.mu.Unlock()
}

// ID is the identity the adapter reports for this user.
func (c *Client) ID() string { return "irc:" + c.nick }

// Say says text in Room.
func (c *Client) Say(_ context.Context, text string) error {
	return c.write("PRIVMSG " + Room + " :" + text)
}

// SayDirect says text to the bot alone.
func (c *Client) SayDirect(_ context.Context, text string) error {
	c.mu.Lock()
	botNick := c.botNick
	c.mu.Unlock()
	return c.write("PRIVMSG " + botNick + " :" + text)
}

// Next returns the next thing the bot said to this user, in Room or
// directly.
func (c *Client) Next(ctx context.Context) (adaptertest.Received, error) {
	select {
	case r := <-c.from:
		return r, nil
	case <-ctx.Done():
		return adaptertest.Received{}, errors.New("nothing received from the bot: " + ctx.Err().Error())
	}
}
