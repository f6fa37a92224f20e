package irc

import (
	"bufio"
	"context"
	"errors"
	"io"
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

// ngircd is a real ngIRCd the test starts on a free loopback port, and
// stops when it ends.
type ngircd struct {
	bin, conf, addr string
	cmd             *exec.Cmd
}

// startNgircd starts ngIRCd from testdata/ngircd.conf. throttle keeps
// ngIRCd's default command penalties on. ssl, when set, is an [SSL]
// section to add. scripts/services.sh installs ngIRCd and names it in
// SEIPBOT_TEST_NGIRCD; without it the test looks on PATH.
func startNgircd(t *testing.T, throttle bool, ssl string) *ngircd {
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
	tmpl, err := os.ReadFile("testdata/ngircd.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	penalty := "0"
	if throttle {
		penalty = "-1"
	}
	s := &ngircd{bin: bin, conf: filepath.Join(dir, "ngircd.conf"), addr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	_, port, _ := net.SplitHostPort(s.addr)
	conf := strings.NewReplacer("{{port}}", port, "{{dir}}", dir, "{{penalty}}", penalty, "{{ssl}}", ssl).Replace(string(tmpl))
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *ngircd) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "-n", "-f", s.conf)
	if testing.Verbose() {
		s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start ngircd: %v", err)
	}
	for range 200 {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("ngircd did not listen on %s within 5s", s.addr)
}

func (s *ngircd) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// gate forwards the bot's connections to the server, and can refuse them:
// while closed, a restarted server lets the human back into the channel
// before the bot, so the bot's queued replies have someone to reach.
type gate struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	closed bool
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{l: l, target: target}
	t.Cleanup(func() { l.Close() })
	go g.serve()
	return g
}

func (g *gate) addr() string { return g.l.Addr().String() }

func (g *gate) set(closed bool) {
	g.mu.Lock()
	g.closed = closed
	g.mu.Unlock()
}

func (g *gate) serve() {
	for {
		c, err := g.l.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		closed := g.closed
		g.mu.Unlock()
		if closed {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

// client is the human's IRC client in the tests: it registers, joins
// #test, and hands over what the bot says.
type client struct {
	t       *testing.T
	addr    string
	nick    string
	botNick string

	mu    sync.Mutex
	conn  net.Conn
	from  chan adaptertest.Received
	quits chan string // nicks seen quitting
	// observe, when set, sees every line the client reads, with the
	// connection it came on, before the client acts on it; it starts
	// seeing them before newObservedClient returns.
	observe func(*client, net.Conn, line)
}

func newClient(t *testing.T, addr, nick, botNick string) *client {
	return newObservedClient(t, addr, nick, botNick, nil)
}

func newObservedClient(t *testing.T, addr, nick, botNick string, observe func(*client, net.Conn, line)) *client {
	c := &client{t: t, addr: addr, nick: nick, botNick: botNick, from: make(chan adaptertest.Received, 1024), quits: make(chan string, 64), observe: observe}
	c.connect()
	t.Cleanup(func() {
		c.mu.Lock()
		c.conn.Close()
		c.mu.Unlock()
	})
	return c
}

// connect registers and joins #test, returning once the server has
// confirmed the join.
func (c *client) connect() {
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
	c.write("JOIN #test")
	joined := make(chan struct{})
	go c.read(conn, joined)
	select {
	case <-joined:
	case <-time.After(adaptertest.Timeout):
		c.t.Fatalf("user %s could not join #test on %s", c.nick, c.addr)
	}
}

func (c *client) read(conn net.Conn, joined chan struct{}) {
	r := bufio.NewReader(conn)
	for {
		raw, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l, err := parseLine(strings.TrimRight(raw, "\r\n"))
		if err != nil {
			continue
		}
		if c.observe != nil {
			c.observe(c, conn, l)
		}
		switch l.command {
		case "PING":
			c.write("PONG :" + l.param(0))
		case "366": // end of NAMES: the join is complete
			if joined != nil && l.param(1) == "#test" {
				close(joined)
				joined = nil
			}
		case "QUIT":
			c.quits <- l.nick()
		case "PRIVMSG":
			if l.nick() != c.botNick {
				continue
			}
			got := adaptertest.Received{Room: l.param(0), Text: l.param(1)}
			if strings.EqualFold(got.Room, c.nick) {
				got = adaptertest.Received{Direct: true, Text: got.Text}
			}
			c.from <- got
		}
	}
}

func (c *client) write(line string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.conn.Write([]byte(line + "\r\n"))
	return err
}

func (c *client) ID() string { return "irc:" + c.nick }

func (c *client) Say(_ context.Context, text string) error {
	return c.write("PRIVMSG #test :" + text)
}

func (c *client) SayDirect(_ context.Context, text string) error {
	return c.write("PRIVMSG " + c.botNick + " :" + text)
}

func (c *client) Next(ctx context.Context) (adaptertest.Received, error) {
	select {
	case r := <-c.from:
		return r, nil
	case <-ctx.Done():
		return adaptertest.Received{}, errors.New("nothing received from the bot: " + ctx.Err().Error())
	}
}
