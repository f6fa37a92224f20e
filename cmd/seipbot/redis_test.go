package main

import (
	"bytes"
	"fmt"
	"testing"

	goredis "github.com/redis/go-redis/v9"

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
		if bytes.Contains(rawValue(t, c, k), []byte(marker)) {
			t.Errorf("%s holds the reminder in plaintext", k)
		}
	}
	if !found {
		t.Fatalf("no reminder among the keys in Redis: %q", keys)
	}
	s.await(t, "Reminder: "+marker)
	s.close(t)
}

// rawValue returns what Redis holds under key as redis-cli would show it:
// a string's bytes, or the fields and values of a stream's entries.
func rawValue(t *testing.T, c goredis.UniversalClient, key string) []byte {
	t.Helper()
	ctx := t.Context()
	kind, err := c.Type(ctx, key).Result()
	if err != nil {
		t.Fatalf("TYPE %s: %v", key, err)
	}
	switch kind {
	case "string":
		raw, err := c.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		return raw
	case "stream":
		entries, err := c.XRange(ctx, key, "-", "+").Result()
		if err != nil {
			t.Fatalf("XRANGE %s: %v", key, err)
		}
		var raw []byte
		for _, e := range entries {
			for f, v := range e.Values {
				raw = fmt.Appendf(raw, "%s %v\n", f, v)
			}
		}
		return raw
	case "none":
		return nil // gone since KEYS listed it
	}
	t.Fatalf("%s holds a %s, which the bot never writes", key, kind)
	return nil
}
