package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/ingest"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/sealed"
)

// crashChildArgs carries the child's command line, as a JSON list, to
// TestCrashChild in the re-executed test binary.
const crashChildArgs = "SEIPBOT_CRASH_CHILD_ARGS"

// crashKey is the secret key of the crash test's data folder. Tests only.
const crashKey = "seipbot1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

const crashConfig = `log: {level: warn}
rate_limit: {per_minute: 0}
sources:
  generic: {secret: crash-secret}
alerts:
  rules:
    - rooms: [{room: "#soc"}]
`

// runCrashChild is seipbot itself, run by TestKillNineKeepsAcknowledged
// in a child process that it kills; TestMain starts it when crashChildArgs
// is set.
func runCrashChild(args string) int {
	var list []string
	if err := json.Unmarshal([]byte(args), &list); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.Environ()}
	return c.main(context.Background(), list)
}

// TestKillNineKeepsAcknowledged drives a running seipbot, which stores
// reminders typed into its shell and alerts posted to its generic webhook,
// kills it with SIGKILL at a random moment, restarts it on the same data
// folder, twenty times. A reminder is acknowledged when the shell confirms
// it, an alert when the webhook answers 202. In the end every acknowledged
// reminder is listed exactly once, every acknowledged alert is stored
// exactly once and was announced in the room, what was in flight at a kill
// is there at most once, the store opens and the audit chain verifies.
func TestKillNineKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "seipbot.yaml")
	if err := os.WriteFile(cfgPath, []byte(crashConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("random seed %d", seed)

	var (
		reminders, alerts = map[int]bool{}, map[int]bool{} // number → acknowledged
		nextReminder      = 0
		nextAlert         = 0
		announced         = &bytes.Buffer{} // every run's output: room messages
	)
	const rounds = 20
	deadline := time.Now().Add(2 * time.Minute)
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		bot := startCrashChild(t, data, cfgPath)
		var wg sync.WaitGroup
		wg.Go(func() {
			for ; ; nextReminder++ {
				reminders[nextReminder] = false
				if !bot.remind(nextReminder) {
					return
				}
				reminders[nextReminder] = true
			}
		})
		wg.Go(func() {
			for ; ; nextAlert++ {
				alerts[nextAlert] = false
				if !bot.postAlert(nextAlert) {
					return
				}
				alerts[nextAlert] = true
			}
		})
		time.Sleep(time.Duration(50+rng.IntN(450)) * time.Millisecond)
		bot.kill()
		wg.Wait()
		// The number in flight at the kill may or may not have landed;
		// the next round starts after it.
		nextReminder++
		nextAlert++
		announced.WriteString(bot.out.String())
	}

	// One more run, left to deliver what waited in the outbox, then asked
	// for the reminders and stopped cleanly.
	bot := startCrashChild(t, data, cfgPath)
	wantAnnounced := func() []int {
		var missing []int
		all := announced.String() + bot.out.String()
		for n, ok := range alerts {
			if ok && !strings.Contains(all, fmt.Sprintf("**[INFO] crash-alert-%d**", n)) {
				missing = append(missing, n)
			}
		}
		return missing
	}
	for end := time.Now().Add(15 * time.Second); len(wantAnnounced()) > 0 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if missing := wantAnnounced(); len(missing) > 0 {
		t.Errorf("acknowledged alerts never announced in the room: %v", missing)
	}
	io.WriteString(bot.in, "remind list\n")
	bot.await("Your reminders (", 10*time.Second)
	bot.in.Close()
	if err := bot.wait(10 * time.Second); err != nil {
		t.Fatalf("the last run did not stop cleanly: %v\n%s", err, bot.errs.String())
	}
	listed := countItems(t, regexp.MustCompile(`\bcrash-item-(\d+)\b`), bot.out.String()[strings.Index(bot.out.String(), "Your reminders ("):])
	checkOnce(t, "reminder", reminders, listed)

	st, err := bolt.Open(filepath.Join(data, "seipbot.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("the store does not open after the kills: %v", err)
	}
	kr, err := sealed.ParseKeyring(crashKey)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int]int{}
	titled := regexp.MustCompile(`^crash-alert-(\d+)$`)
	err = sealed.New(st, kr).Scan(context.Background(), "alerts/open/", func(_ string, v []byte) error {
		var rec struct {
			Alert struct{ Title string } `json:"alert"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		if m := titled.FindStringSubmatch(rec.Alert.Title); m != nil {
			var n int
			fmt.Sscan(m[1], &n)
			stored[n]++
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatalf("reading the stored alerts: %v", err)
	}
	checkOnce(t, "alert", alerts, stored)

	code, out, errOut := runCLI(t, nil, []string{"SEIPBOT_SECRET_KEY=" + crashKey}, "audit", "verify", "--data-dir", data, "--config", cfgPath)
	if code != 0 {
		t.Errorf("audit verify after the kills: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("%d rounds: %d reminders and %d alerts acknowledged", rounds, countTrue(reminders), countTrue(alerts))
}

// checkOnce fails for an acknowledged item not found exactly once, and for
// an unacknowledged one found more than once.
func checkOnce(t *testing.T, kind string, acked map[int]bool, found map[int]int) {
	t.Helper()
	for n, ok := range acked {
		switch c := found[n]; {
		case ok && c != 1:
			t.Errorf("acknowledged %s %d found %d times, want once", kind, n, c)
		case !ok && c > 1:
			t.Errorf("%s %d, in flight at a kill, found %d times, want at most once", kind, n, c)
		}
	}
	for n := range found {
		if _, sent := acked[n]; !sent {
			t.Errorf("%s %d found, but never sent", kind, n)
		}
	}
}

func countItems(t *testing.T, re *regexp.Regexp, text string) map[int]int {
	t.Helper()
	found := map[int]int{}
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		found[n]++
	}
	return found
}

func countTrue(m map[int]bool) int {
	n := 0
	for _, ok := range m {
		if ok {
			n++
		}
	}
	return n
}

// crashChild is one run of seipbot shell with the webhook server on.
type crashChild struct {
	t         *testing.T
	cmd       *exec.Cmd
	in        io.WriteCloser
	out, errs *syncBuffer
	addr      string
	exited    chan struct{}
	err       error
	confirmed int // reminders confirmed by this run
	client    *http.Client
}

func startCrashChild(t *testing.T, data, cfgPath string) *crashChild {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &crashChild{t: t, out: &syncBuffer{}, errs: &syncBuffer{}, addr: addr, exited: make(chan struct{}),
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	args, _ := json.Marshal([]string{"shell", "--config", cfgPath, "--data-dir", data, "--user", "alice"})
	c.cmd.Env = append(os.Environ(), crashChildArgs+"="+string(args), "SEIPBOT_SECRET_KEY="+crashKey,
		"SEIPBOT_HTTP_LISTEN="+addr, "HOME="+t.TempDir())
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.errs
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { c.kill() })
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := c.client.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		select {
		case <-c.exited:
			t.Fatalf("seipbot exited while starting: %v\n%s", c.err, c.errs.String())
		default:
		}
		if time.Now().After(end) {
			t.Fatalf("seipbot did not start serving webhooks\n%s", c.errs.String())
		}
	}
}

// remind types a reminder and reports whether the shell confirmed it
// before the process died.
func (c *crashChild) remind(n int) bool {
	if _, err := fmt.Fprintf(c.in, "remind me in 1h to crash-item-%d\n", n); err != nil {
		return false
	}
	want := c.confirmed + 1
	for {
		if strings.Count(c.out.String(), "OK, I'll remind you") >= want {
			c.confirmed = want
			return true
		}
		select {
		case <-c.exited:
			// The answer may have been written just before the kill.
			if strings.Count(c.out.String(), "OK, I'll remind you") >= want {
				c.confirmed = want
				return true
			}
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// postAlert posts a signed alert and reports whether it was accepted.
func (c *crashChild) postAlert(n int) bool {
	body := fmt.Appendf(nil, `{"title": "crash-alert-%d"}`, n)
	req, err := http.NewRequest(http.MethodPost, "http://"+c.addr+"/hooks/generic", bytes.NewReader(body))
	if err != nil {
		c.t.Error(err)
		return false
	}
	ts, sig := ingest.Sign("crash-secret", time.Now(), body)
	req.Header.Set("X-Seipbot-Timestamp", ts)
	req.Header.Set("X-Seipbot-Signature", sig)
	resp, err := c.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		select {
		case <-c.exited:
		default:
			c.t.Errorf("alert %d: status %d from a running bot", n, resp.StatusCode)
		}
		return false
	}
	return true
}

func (c *crashChild) kill() {
	c.cmd.Process.Kill() // SIGKILL: no deferred close, no flush
	<-c.exited
}

func (c *crashChild) await(want string, d time.Duration) {
	c.t.Helper()
	for end := time.Now().Add(d); !strings.Contains(c.out.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			c.t.Fatalf("seipbot never printed %q; it printed:\n%s\n%s", want, c.out.String(), c.errs.String())
		}
	}
}

func (c *crashChild) wait(d time.Duration) error {
	select {
	case <-c.exited:
		return c.err
	case <-time.After(d):
		return fmt.Errorf("still running after %s", d)
	}
}
