package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/ingest"
	"github.com/seipbot/seipbot/store/bolt"
)

// childEnv names the bolt file childServer keeps its store in when
// TestKillAfterAccept runs the test binary again as the process it kills.
const childEnv = "SEIPBOT_INGEST_CHILD_DB"

// TestMain makes the test binary childServer when childEnv is set, and runs
// the tests otherwise.
func TestMain(m *testing.M) {
	if db := os.Getenv(childEnv); db != "" {
		if err := childServer(db); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKillAfterAccept posts an alert to a child process, kills it with
// SIGKILL as soon as it answers 2xx, and checks that the alert is
// delivered from the store the child left.
func TestKillAfterAccept(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bot.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+db)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child gave no address: %v", err)
	}
	body := []byte(`{"title": "Canary token triggered", "severity": "critical"}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+strings.TrimSpace(addr)+"/hooks/generic", strings.NewReader(string(body)))
	ts, sig := ingest.Sign(secret, time.Now(), body)
	req.Header.Set("X-Seipbot-Timestamp", ts)
	req.Header.Set("X-Seipbot-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", resp.StatusCode)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()

	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := bot.NewOutbox(st, nil, bot.Backoff{Min: time.Millisecond})
	a := bottest.NewAdapter("chat")
	out.AddAdapter(a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go out.Run(ctx)
	if err := out.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Texts(); len(got) != 1 || !strings.HasPrefix(got[0], "**[CRITICAL] Canary token triggered**") {
		t.Fatalf("after the restart the room heard %q, want the alert once", got)
	}
}

// childServer is the child of TestKillAfterAccept: it serves the generic
// endpoint on the bolt store at db, with an outbox that never delivers,
// until it is killed.
func childServer(db string) error {
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		return err
	}
	out := bot.NewOutbox(st, nil, bot.Backoff{})
	m, err := alert.New(alert.Options{Rules: []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}, Store: st, Outbox: out})
	if err != nil {
		return err
	}
	s, err := ingest.New(ingest.Options{Sources: []ingest.Source{&ingest.Generic{Secret: secret}}, Sink: m})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	os.Stdout.WriteString(ln.Addr().String() + "\n")
	return s.Serve(context.Background(), ln)
}
