package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/mattermost/mattermosttest"
	"github.com/seipbot/seipbot/store/redis/redistest"
	"github.com/seipbot/seipbot/store/sealed"
)

// TestReplicasOnMattermost runs three "seipbot run" processes on one real
// Mattermost server, all logged in as the same bot, so every post reaches
// all three, and one Redis: each of a person's messages is answered
// exactly once, also after one replica is killed with SIGKILL.
func TestReplicasOnMattermost(t *testing.T) {
	redistest.URL(t) // the same switch as the other Redis tests
	rds := redistest.Start(t)
	srv := mattermosttest.Start(t)
	channel := srv.Channel(t)
	alice := srv.Person(t, srv.Alice, channel.Id)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "seipbot.yaml")
	cfg := fmt.Sprintf("rate_limit: {per_minute: 0, burst: 0}\nlog: {level: info}\n"+
		"hears:\n  - pattern: '^job-(\\d+)$'\n    reply: 'done {{index .Match 1}}'\n"+
		"adapters:\n  mattermost:\n    url: %s\n    token: %s\n", srv.URL, srv.Bot.Token)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	args, err := json.Marshal([]string{"run", "--config", cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	var procs []*exec.Cmd
	var logs []*syncBuffer
	for i := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		log := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = log, log
		cmd.Env = append(os.Environ(), crashChildArgs+"="+string(args),
			"SEIPBOT_SECRET_KEY="+key,
			"SEIPBOT_DATA_DIR="+filepath.Join(dir, strconv.Itoa(i)),
			"SEIPBOT_STORE_KIND=redis", "SEIPBOT_STORE_URL="+rds.URL())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs, logs = append(procs, cmd), append(logs, log)
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("replica %d said:\n%s", i, log.String())
			}
		})
	}
	waitFor(t, "three replicas connected to Mattermost", 60*time.Second, func() bool {
		for _, l := range logs {
			if !strings.Contains(l.String(), "mattermost: connected") {
				return false
			}
		}
		return true
	})

	// Alice's client counts the bot's answers.
	var mu sync.Mutex
	said := map[string]int{}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	go func() {
		for {
			post, _, err := alice.NextPost(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			said[post.Message]++
			mu.Unlock()
		}
	}()
	answered := func(from, to int) (n, twice int) {
		mu.Lock()
		defer mu.Unlock()
		twice = -1
		for i := from; i < to; i++ {
			c := said["done "+strconv.Itoa(i)]
			if c > 0 {
				n++
			}
			if c > 1 && twice < 0 {
				twice = i
			}
		}
		return n, twice
	}
	post := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := alice.Say(t.Context(), "job-"+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
	}

	const first, after = 300, 200
	began := time.Now()
	post(0, first)
	waitFor(t, "every message answered", 2*time.Minute, func() bool { n, _ := answered(0, first); return n == first })
	t.Logf("three replicas answered %d posts in %s", first, time.Since(began).Round(time.Millisecond))

	// Kill one replica outright; every message posted after it is gone is
	// answered, once, by the other two.
	if err := procs[1].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	procs[1].Wait()
	post(first, first+after)
	waitFor(t, "every message after the kill answered", 2*time.Minute, func() bool {
		n, _ := answered(first, first+after)
		return n == after
	})
	time.Sleep(time.Second) // room for a duplicate to show
	if _, twice := answered(0, first+after); twice >= 0 {
		t.Fatalf("message %d was answered more than once", twice)
	}
}
