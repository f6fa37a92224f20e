package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/redis/redistest"
	"github.com/seipbot/seipbot/store/sealed"
)

// The replicas test stands in for a chat server that delivers every message
// to every connection (as IRC, XMPP and Matrix do) with a line protocol
// over loopback, until real chat adapters land:
//
//	bot → server:  HELLO <replica number>   (once, on connecting)
//	server → bot:  MSG <id> <room> <user> <text>
//	bot → server:  SAY <room> <text>
//
// Each replica is this test binary run again as a separate process (see
// replicaProcess), wired by the same code as "seipbot run" with the
// line adapter in place of the shell.

// lineAddrEnv tells a re-run test binary to be a replica and where the
// server is.
const lineAddrEnv = "SEIPBOT_TEST_LINE_ADDR"

// TestMain makes the test binary seipbot for the crash test when
// crashChildArgs is set, a replica when lineAddrEnv is set, and
// runs the tests otherwise.
func TestMain(m *testing.M) {
	if args := os.Getenv(crashChildArgs); args != "" {
		os.Exit(runCrashChild(args))
	}
	if addr := os.Getenv(lineAddrEnv); addr != "" {
		if err := replicaProcess(addr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// replicaEnv numbers a replica, so the server knows which connection is
// whose process.
const replicaEnv = "SEIPBOT_TEST_REPLICA"

// lineAdapter is the bot's side of the line protocol.
type lineAdapter struct {
	conn net.Conn
	mu   sync.Mutex // one Send writes at a time
}

func (a *lineAdapter) Name() string { return "line" }

func (a *lineAdapter) Run(ctx context.Context, in bot.Inbox) error {
	sc := bufio.NewScanner(a.conn)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 5)
		if len(f) != 5 || f[0] != "MSG" {
			continue
		}
		in.Receive(ctx, &bot.Message{ID: f[1], Adapter: "line", Room: f[2], User: bot.User{ID: "line:" + f[3], Name: f[3]}, Text: f[4]})
	}
	return nil
}

func (a *lineAdapter) Send(_ context.Context, r bot.Response) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := fmt.Fprintf(a.conn, "SAY %s %s\n", r.Room, r.Text)
	return err
}

// replicaProcess is one replica of TestReplicas, talking to the line
// server at addr until it is killed.
func replicaProcess(addr string) error {
	c := &cli{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr, env: os.Environ()}
	cfg, err := c.load(commonFlags{config: os.Getenv("SEIPBOT_TEST_CONFIG")})
	if err != nil {
		return err
	}
	a, err := c.open(context.Background(), cfg, false, "")
	if err != nil {
		return err
	}
	defer closeQuietly(a.st, a.log)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(conn, "HELLO %s\n", os.Getenv(replicaEnv)); err != nil {
		return err
	}
	a.bot.AddAdapter(&lineAdapter{conn: conn})
	return a.run(context.Background())
}

// lineServer is the chat server: it sends every message to every
// connected replica and counts the answers.
type lineServer struct {
	ln      net.Listener
	mu      sync.Mutex
	conns   map[int]net.Conn
	closed  map[int]chan struct{} // closed when replica i's connection ends
	replies map[string]int        // answer text → how many times said
}

func newLineServer(t *testing.T) *lineServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &lineServer{ln: ln, conns: map[int]net.Conn{}, closed: map[int]chan struct{}{}, replies: map[string]int{}}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go s.read(conn)
		}
	}()
	return s
}

// read takes a replica's HELLO, then its answers until it goes.
func (s *lineServer) read(conn net.Conn) {
	sc := bufio.NewScanner(conn)
	var i int
	if !sc.Scan() {
		return
	}
	if _, err := fmt.Sscanf(sc.Text(), "HELLO %d", &i); err != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	s.mu.Lock()
	s.conns[i], s.closed[i] = conn, done
	s.mu.Unlock()
	for sc.Scan() {
		if _, text, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "SAY "), " "); ok {
			s.mu.Lock()
			s.replies[text]++
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	delete(s.conns, i)
	s.mu.Unlock()
}

func (s *lineServer) connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// send delivers one message to every connected replica.
func (s *lineServer) send(id int, text string) {
	line := fmt.Sprintf("MSG %d #ops user%d %s\n", id, id%20, text)
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// Written without the lock: a replica slow to read may be waiting for
	// the server to take its answers, which needs the lock.
	for _, c := range conns {
		c.Write([]byte(line))
	}
}

// answered returns how many of the jobs from..to-1 have been answered, and
// the first one answered more than once, or -1.
func (s *lineServer) answered(from, to int) (n, twice int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	twice = -1
	for i := from; i < to; i++ {
		c := s.replies["done "+strconv.Itoa(i)]
		if c > 0 {
			n++
		}
		if c > 1 && twice < 0 {
			twice = i
		}
	}
	return n, twice
}

// saidWith returns how many answers, repeats included, hold part.
func (s *lineServer) saidWith(part string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for text, c := range s.replies {
		if strings.Contains(text, part) {
			n += c
		}
	}
	return n
}

// waitFor polls cond until it holds or the bound, which only a broken bot
// reaches, passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplicas runs three replicas on one Redis: every message reaches all
// three, and each is answered exactly once, also after one replica is
// killed with SIGKILL; reminders set on any replica fire once, on time.
func TestReplicas(t *testing.T) {
	rc := redistest.Client(t)
	prefix := redistest.Prefix(t, rc)
	key, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "seipbot.yaml")
	// The users may set reminders: "seipbot run" without a policy runs
	// only harmless commands.
	var users []string
	for i := range 20 {
		users = append(users, fmt.Sprintf("%q", fmt.Sprintf("line:user%d", i)))
	}
	cfgText := "rate_limit: {per_minute: 0, burst: 0}\nlog: {level: warn}\nhears:\n  - pattern: '^job-(\\d+)$'\n    reply: 'done {{index .Match 1}}'\n" +
		"access:\n  groups: {users: [" + strings.Join(users, ", ") + "]}\n  roles: {reminder: {permissions: [\"remind.*\"]}}\n  grants: [{group: users, role: reminder}]\n"
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newLineServer(t)
	var procs []*exec.Cmd
	for i := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		cmd.Env = append(os.Environ(),
			lineAddrEnv+"="+srv.ln.Addr().String(),
			replicaEnv+"="+strconv.Itoa(i),
			"SEIPBOT_TEST_CONFIG="+cfgPath,
			"SEIPBOT_DATA_DIR="+filepath.Join(dir, strconv.Itoa(i)),
			"SEIPBOT_SECRET_KEY="+key,
			"SEIPBOT_STORE_KIND=redis",
			"SEIPBOT_STORE_URL="+redistest.URL(t),
			"SEIPBOT_STORE_KEY_PREFIX="+prefix,
		)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("replica %d said:\n%s", i, log.String())
			}
		})
	}
	waitFor(t, "three replicas connect", 30*time.Second, func() bool { return srv.connected() == 3 })

	const first = 1000
	began := time.Now()
	for i := range first {
		srv.send(i, "job-"+strconv.Itoa(i))
	}
	waitFor(t, "every job answered", 60*time.Second, func() bool { n, _ := srv.answered(0, first); return n == first })
	// A figure for the notes, not an assertion: a slow machine is no bug.
	t.Logf("three replicas answered %d jobs in %s (%.0f/s)", first, time.Since(began).Round(time.Millisecond), first/time.Since(began).Seconds())

	// Reminders set through whichever replica claims them are all fired
	// by the leader, once, and on time: word of each reaches the leader
	// over the bus long before its next poll of the store.
	const reminders = 6
	for i := range reminders {
		srv.send(5000+i, fmt.Sprintf("seipbot remind me in 2s to canary-%d", i))
	}
	waitFor(t, "every reminder fired", 10*time.Second, func() bool { return srv.saidWith(": canary-") == reminders })

	// Kill the first replica outright while jobs are coming in, and wait
	// until the server has seen it go: the jobs after are accepted only by
	// the other two, and must all be answered. A job it had claimed but
	// not answered when it died is lost, as a message a single bot
	// receives just before dying is: the jobs before the kill are only
	// checked for duplicates.
	const during, after = 100, 300
	for i := first; i < first+during; i++ {
		srv.send(i, "job-"+strconv.Itoa(i))
	}
	srv.mu.Lock()
	gone := srv.closed[0]
	srv.mu.Unlock()
	if err := procs[0].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-gone
	last := first + during + after
	for i := first + during; i < last; i++ {
		srv.send(i, "job-"+strconv.Itoa(i))
	}
	waitFor(t, "every job after the kill answered", 60*time.Second, func() bool {
		n, _ := srv.answered(first+during, last)
		return n == after
	})
	// Give any duplicate time to arrive before counting.
	time.Sleep(500 * time.Millisecond)
	n, twice := srv.answered(0, last)
	if twice >= 0 {
		t.Fatalf("job %d was answered more than once", twice)
	}
	if n := srv.saidWith(": canary-"); n != reminders {
		t.Fatalf("%d reminders fired, want %d", n, reminders)
	}
	t.Logf("%d of the %d jobs sent while the replica died were answered", n-first-after, during)
}
