package main

import (
	"bufio"
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
	by      map[string]int        // answer text → the replica that said it last
	dones   int                   // answers starting "done ", repeats included
}

func newLineServer(t testing.TB) *lineServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &lineServer{ln: ln, conns: map[int]net.Conn{}, closed: map[int]chan struct{}{}, replies: map[string]int{}, by: map[string]int{}}
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
			s.by[text] = i
			if strings.HasPrefix(text, "done ") {
				s.dones++
			}
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

// doneCount returns how many "done" answers came, repeats included: a
// cheap count to poll while thousands are expected.
func (s *lineServer) doneCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dones
}

// saidBy returns the first answer holding part, and the replica that
// said it.
func (s *lineServer) saidBy(part string) (text string, replica int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for text, i := range s.by {
		if strings.Contains(text, part) {
			return text, i, true
		}
	}
	return "", 0, false
}

// ticks returns how many times each minute's scheduled tick was said.
func (s *lineServer) ticks() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for text, c := range s.replies {
		if minute, ok := strings.CutPrefix(text, "tick "); ok {
			out[minute] += c
		}
	}
	return out
}

// waitFor polls cond until it holds or the bound, which only a broken bot
// reaches, passes.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cronMinutesEnv shortens TestReplicas's watch of the per-minute schedule
// for a quick run by hand; it defaults to the five minutes the test is
// meant to cover.
const cronMinutesEnv = "SEIPBOT_TEST_CRON_MINUTES"

// slowJob is a script plugin whose one command runs as a job that says it
// is working and then takes far longer than the test.
const slowJob = "program: slow.sh\ntimeout: 10m\noutput: jsonl\ncommands:\n  - words: slow\n    help: a long job\n    job: true\n"

// TestReplicas runs three replicas on one Redis of the test's own while a
// message is scheduled every minute:
//
//   - every message reaches all three and each is answered exactly once;
//   - reminders set on any replica fire once, on time;
//   - a job runs on one replica, which is then killed with SIGKILL while
//     messages keep coming: every message sent after the kill is answered
//     exactly once, and another replica reports the job as interrupted
//     and runs it again (jobs.rerun);
//   - Redis is killed and restarted during traffic: commands in the
//     outage are answered "storage unavailable", other messages at most
//     once, and every message after it exactly once, without restarting
//     any replica;
//   - over five minutes, through all of that, each minute's tick is said
//     exactly once.
func TestReplicas(t *testing.T) {
	redistest.URL(t) // the same switch as the other Redis tests
	rds := redistest.Start(t)
	minutes := 5
	if v, err := strconv.Atoi(os.Getenv(cronMinutesEnv)); err == nil && v > 0 {
		minutes = v
	}
	key, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plugins, "slow.yaml"), []byte(slowJob), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plugins, "slow.sh"), []byte("#!/bin/sh\necho '{\"progress\": 10, \"note\": \"working\"}'\nsleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "seipbot.yaml")
	// The users may set reminders and run the job: "seipbot run" without
	// a policy runs only harmless commands.
	var users []string
	for i := range 20 {
		users = append(users, fmt.Sprintf("%q", fmt.Sprintf("line:user%d", i)))
	}
	cfgText := "rate_limit: {per_minute: 0, burst: 0}\nlog: {level: warn}\nhears:\n  - pattern: '^job-(\\d+)$'\n    reply: 'done {{index .Match 1}}'\n" +
		"schedules:\n  - name: tick\n    cron: '* * * * *'\n    room: '#ops'\n    say: 'tick {{.Due.Format \"15:04\"}}'\n" +
		"plugins: {dir: " + strconv.Quote(plugins) + "}\njobs: {rerun: true}\n" +
		"access:\n  groups: {users: [" + strings.Join(users, ", ") + "]}\n  roles: {worker: {permissions: [\"remind.*\", \"plugins.*\"]}}\n  grants: [{group: users, role: worker}]\n"
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newLineServer(t)
	procs := startReplicas(t, srv, 3, cfgPath, dir,
		"SEIPBOT_SECRET_KEY="+key, "SEIPBOT_STORE_KIND=redis", "SEIPBOT_STORE_URL="+rds.URL())
	began := time.Now()
	waitFor(t, "three replicas connect", 30*time.Second, func() bool { return srv.connected() == 3 })

	const first = 1000
	sent := time.Now()
	for i := range first {
		srv.send(i, "job-"+strconv.Itoa(i))
	}
	waitFor(t, "every message answered", 60*time.Second, func() bool { n, _ := srv.answered(0, first); return n == first })
	// A figure for the notes, not an assertion: a slow machine is no bug.
	t.Logf("three replicas answered %d messages in %s (%.0f/s)", first, time.Since(sent).Round(time.Millisecond), first/time.Since(sent).Seconds())

	// Reminders set through whichever replica claims them are all fired
	// by the leader, once, and on time: word of each reaches the leader
	// over the bus long before its next poll of the store.
	const reminders = 6
	for i := range reminders {
		srv.send(5000+i, fmt.Sprintf("seipbot remind me in 2s to canary-%d", i))
	}
	waitFor(t, "every reminder fired", 10*time.Second, func() bool { return srv.saidWith(": canary-") == reminders })

	// Start the job and kill the replica it runs on while messages are
	// coming in, once the server has seen it go: the messages after are
	// accepted only by the other two, and must all be answered. One it
	// had claimed but not answered when it died is lost, as a message a
	// single bot receives just before dying is: the messages before the
	// kill are only checked for duplicates.
	srv.send(6000, "seipbot slow")
	var victim int
	waitFor(t, "the job starts", 20*time.Second, func() bool {
		_, i, ok := srv.saidBy("working")
		victim = i
		return ok
	})
	const during, after = 100, 300
	for i := first; i < first+during; i++ {
		srv.send(i, "job-"+strconv.Itoa(i))
	}
	srv.mu.Lock()
	gone := srv.closed[victim]
	srv.mu.Unlock()
	if err := procs[victim].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-gone
	last := first + during + after
	for i := first + during; i < last; i++ {
		srv.send(i, "job-"+strconv.Itoa(i))
	}
	waitFor(t, "every message after the kill answered", 60*time.Second, func() bool {
		n, _ := srv.answered(first+during, last)
		return n == after
	})
	// Three heartbeats (15 s) after the replica's last, another notices.
	waitFor(t, "the job reported by another replica", 40*time.Second, func() bool {
		return srv.saidWith("was interrupted: replica ") > 0
	})
	if report, by, _ := srv.saidBy("was interrupted: replica "); by == victim || !strings.Contains(report, "(slow)") || !strings.Contains(report, "running it again") {
		t.Fatalf("replica %d reported %q; want another replica than %d to report the slow job and run it again", by, report, victim)
	}
	// With jobs.rerun on, a live replica runs the job again as its owner.
	waitFor(t, "the job run again", 20*time.Second, func() bool { return srv.saidWith("working") == 2 })
	if _, by, _ := srv.saidBy("working"); by == victim {
		t.Fatalf("the job was run again on the killed replica %d", victim)
	}

	// Kill Redis for a few seconds while messages keep coming, then start
	// it again on the same port with what it had acknowledged.
	outageFrom := last
	rds.Kill()
	for i := outageFrom; i < outageFrom+20; i++ {
		srv.send(i, "job-"+strconv.Itoa(i))
		// A command is told storage is unavailable; the hear of a
		// message not addressed to the bot is let go.
		srv.send(7000+i, "seipbot ping")
		time.Sleep(100 * time.Millisecond)
	}
	rds.Restart(t)
	outageTo := outageFrom + 20
	waitFor(t, "the outage is answered", 20*time.Second, func() bool {
		return srv.saidWith("Storage is unavailable right now") > 0
	})
	// The replicas reconnect on their own: keep sending until they answer
	// again, then check a run of messages is answered exactly once.
	next := outageTo
	waitFor(t, "answers again after the outage", 60*time.Second, func() bool {
		srv.send(next, "job-"+strconv.Itoa(next))
		next++
		time.Sleep(200 * time.Millisecond)
		n, _ := srv.answered(next-1, next)
		return n == 1
	})
	const recovered = 200
	for i := next; i < next+recovered; i++ {
		srv.send(i, "job-"+strconv.Itoa(i))
	}
	waitFor(t, "every message after the outage answered", 60*time.Second, func() bool {
		n, _ := srv.answered(next, next+recovered)
		return n == recovered
	})

	// Watch the schedule through its minutes: from the first tick, said
	// within two minutes of the start, every minute is said, once.
	var start time.Time
	waitFor(t, "the first scheduled tick", time.Until(began.Add(2*time.Minute+30*time.Second)), func() bool {
		for m := began.Truncate(time.Minute); m.Before(began.Add(2 * time.Minute)); m = m.Add(time.Minute) {
			if srv.ticks()[m.Format("15:04")] > 0 {
				start = m
				return true
			}
		}
		return false
	})
	end := start.Add(time.Duration(minutes-1) * time.Minute)
	waitFor(t, "the scheduled ticks", time.Until(end)+90*time.Second, func() bool {
		return srv.ticks()[end.Format("15:04")] > 0
	})
	time.Sleep(2 * time.Second) // room for a duplicate to show
	ticks := srv.ticks()
	for m := start; !m.After(end); m = m.Add(time.Minute) {
		if c := ticks[m.Format("15:04")]; c != 1 {
			t.Errorf("the tick of %s was said %d times, want once (all ticks: %v)", m.Format("15:04"), c, ticks)
		}
	}

	n, twice := srv.answered(0, next+recovered)
	if twice >= 0 {
		t.Fatalf("message %d was answered more than once", twice)
	}
	if n := srv.saidWith(": canary-"); n != reminders {
		t.Fatalf("%d reminders fired, want %d", n, reminders)
	}
	t.Logf("answered: %d of %d messages; of the %d sent while a replica died, %d; of the 20 in the outage, %d; ticks: %v",
		n, next+recovered, during, func() int { k, _ := srv.answered(first, first+during); return k }(),
		func() int { k, _ := srv.answered(outageFrom, outageTo); return k }(), ticks)
}

// startReplicas starts n replicas of the bot configured by cfgPath, each
// this test binary run again as a separate process with env added, talking
// to srv and keeping its files under dir. They are killed when tb ends,
// and what they logged is shown if it failed.
func startReplicas(tb testing.TB, srv *lineServer, n int, cfgPath, dir string, env ...string) []*exec.Cmd {
	tb.Helper()
	var procs []*exec.Cmd
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		var log syncBuffer
		cmd.Stdout, cmd.Stderr = &log, &log
		cmd.Env = append(append(os.Environ(),
			lineAddrEnv+"="+srv.ln.Addr().String(),
			replicaEnv+"="+strconv.Itoa(i),
			"SEIPBOT_TEST_CONFIG="+cfgPath,
			"SEIPBOT_DATA_DIR="+filepath.Join(dir, strconv.Itoa(i)),
		), env...)
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		procs = append(procs, cmd)
		tb.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if tb.Failed() {
				tb.Logf("replica %d said:\n%s", i, log.String())
			}
		})
	}
	return procs
}

// BenchmarkReplicas measures messages answered per second end to end by
// one replica on the embedded bolt store and by three replicas sharing
// Redis (each message reaching all three and claimed by one), with the
// line server of TestReplicas standing in for the chat server.
func BenchmarkReplicas(b *testing.B) {
	key, err := sealed.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	cfg := "rate_limit: {per_minute: 0, burst: 0}\nlog: {level: error}\nhears:\n  - pattern: '^job-(\\d+)$'\n    reply: 'done {{index .Match 1}}'\n"
	for _, bc := range []struct {
		name     string
		replicas int
		redis    bool
	}{{"bolt-1", 1, false}, {"redis-1", 1, true}, {"redis-3", 3, true}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			cfgPath := filepath.Join(dir, "seipbot.yaml")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
				b.Fatal(err)
			}
			env := []string{"SEIPBOT_SECRET_KEY=" + key}
			if bc.redis {
				c := redistest.Client(b)
				env = append(env, "SEIPBOT_STORE_KIND=redis", "SEIPBOT_STORE_URL="+redistest.URL(b), "SEIPBOT_STORE_KEY_PREFIX="+redistest.Prefix(b, c))
			}
			srv := newLineServer(b)
			startReplicas(b, srv, bc.replicas, cfgPath, dir, env...)
			waitFor(b, "the replicas connect", 30*time.Second, func() bool { return srv.connected() == bc.replicas })
			// Warm up: the first answers wait for start-up work.
			srv.send(-1, "job-999999999")
			waitFor(b, "the first answer", 30*time.Second, func() bool { return srv.saidWith("done 999999999") == 1 })
			b.ResetTimer()
			for i := range b.N {
				srv.send(i, "job-"+strconv.Itoa(i))
			}
			waitFor(b, "every message answered", 5*time.Minute, func() bool { return srv.doneCount() >= b.N+1 })
			b.StopTimer()
			if _, twice := srv.answered(0, b.N); twice >= 0 {
				b.Fatalf("message %d was answered more than once", twice)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
