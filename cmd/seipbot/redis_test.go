package main

import (
	"bytes"
	"testing"

	"github.com/seipbot/seipbot/store/redis/redistest"
)

// TestShellOnRedis runs the shell with its state in Redis: a reminder is
// stored there sealed and delivered by the scheduler, which runs under the
// leader lease.
func TestShellOnRedis(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	s := startShell(t, t.TempDir(),
		"SEIPBOT_STORE_KIND=redis",
		"SEIPBOT_STORE_URL="+redistest.URL(t),
		"SEIPBOT_STORE_KEY_PREFIX="+prefix,
	)
	const marker = "rotate-the-redis-canary"
	s.say(t, "remind me in 1s to "+marker)
	s.await(t, "OK, I'll remind you")
	ctx := t.Context()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		if bytes.Contains([]byte(k), []byte("schedule/at/")) {
			found = true
		}
		raw, err := c.Get(ctx, k).Bytes()
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		if bytes.Contains(raw, []byte(marker)) {
			t.Errorf("%s holds the reminder in plaintext", k)
		}
	}
	if !found {
		t.Fatalf("no reminder among the keys in Redis: %q", keys)
	}
	s.await(t, "Reminder: "+marker)
	s.close(t)
}
