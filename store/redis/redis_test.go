package redis_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/redis"
	"github.com/seipbot/seipbot/store/redis/redistest"
	"github.com/seipbot/seipbot/store/sealed"
	"github.com/seipbot/seipbot/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		c := redistest.Client(t)
		return redis.New(c, redistest.Prefix(t, c))
	})
}

// TestPrefixIsLiteral checks that a prefix holding glob characters scans
// only its own keys.
func TestPrefixIsLiteral(t *testing.T) {
	c := redistest.Client(t)
	base := redistest.Prefix(t, c)
	globbed := redis.New(c, base+"a*[b]?\\:")
	other := redis.New(c, base+"aXbY\\:")
	ctx := t.Context()
	if err := globbed.Put(ctx, "k/1", []byte("mine"), 0); err != nil {
		t.Fatal(err)
	}
	if err := other.Put(ctx, "k/2", []byte("not mine"), 0); err != nil {
		t.Fatal(err)
	}
	var seen []string
	err := globbed.Scan(ctx, "", func(key string, _ []byte) error {
		seen = append(seen, key)
		return nil
	})
	if err != nil || len(seen) != 1 || seen[0] != "k/1" {
		t.Fatalf("Scan = %q, %v; want only k/1", seen, err)
	}
}

func TestSealedLeavesNoPlaintext(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	s := sealed.New(redis.New(c, prefix), kr)
	ctx := t.Context()
	const marker = "canary-7f3a91-plaintext"
	for _, key := range []string{"notes/1", "reminders/abc", "plain"} {
		if err := s.Put(ctx, key, []byte("before "+marker+" after"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "ttl/1", []byte(marker), time.Hour); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, "notes/1", func(cur []byte) ([]byte, error) { return append(cur, marker...), nil })
	if err != nil {
		t.Fatal(err)
	}
	// Read every raw value under the prefix as redis-cli would.
	n := 0
	it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		raw, err := c.Get(ctx, it.Val()).Bytes()
		if err != nil {
			t.Fatalf("GET %s: %v", it.Val(), err)
		}
		if bytes.Contains(raw, []byte(marker)) {
			t.Errorf("%s holds the marker in plaintext", it.Val())
		}
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("found %d keys under the prefix, want 4", n)
	}
	got, err := s.Get(ctx, "notes/1")
	if err != nil || !bytes.Contains(got, []byte(marker)) {
		t.Fatalf("sealed Get = %q, %v", got, err)
	}
}

// TestUnavailable checks that a Redis that cannot be reached gives errors
// wrapping store.ErrUnavailable, which the bot turns into "storage
// unavailable".
func TestUnavailable(t *testing.T) {
	// Nothing listens on port 1 of loopback.
	c, err := redis.NewClient(redis.ClientOptions{URL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := redis.New(c, "x:")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, getErr := s.Get(ctx, "k/1")
	for name, err := range map[string]error{
		"Get":    getErr,
		"Put":    s.Put(ctx, "k/1", []byte("v"), 0),
		"Delete": s.Delete(ctx, "k/1"),
		"Scan":   s.Scan(ctx, "k/", func(string, []byte) error { return nil }),
		"Update": s.Update(ctx, "k/1", func([]byte) ([]byte, error) { return []byte("v"), nil }),
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s = %v, want store.ErrUnavailable", name, err)
		}
	}
}

// TestErr checks the classification of go-redis errors.
func TestErr(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"loading", ctx, goredisError("LOADING Redis is loading the dataset in memory"), store.ErrUnavailable},
		{"auth", ctx, goredisError("WRONGPASS invalid username-password pair"), store.ErrUnavailable},
		{"closed", ctx, goredis.ErrClosed, store.ErrClosed},
		{"cancelled", cancelled, errors.New("i/o"), context.Canceled},
	} {
		if got := redis.Err(tc.ctx, tc.err); !errors.Is(got, tc.want) {
			t.Errorf("%s: Err = %v, want %v", tc.name, got, tc.want)
		}
	}
	bad := redis.Err(ctx, goredisError("WRONGTYPE Operation against a key holding the wrong kind of value"))
	if errors.Is(bad, store.ErrUnavailable) {
		t.Errorf("a wrong-type reply was taken for an outage: %v", bad)
	}
}

// goredisError is a reply error as go-redis reports one.
type goredisError string

func (e goredisError) Error() string { return string(e) }
func (goredisError) RedisError()     {}

func TestURL(t *testing.T) {
	for _, url := range []string{"", "http://host", "redis://[::1"} {
		_, err := redis.NewClient(redis.ClientOptions{URL: url})
		if err == nil {
			t.Errorf("NewClient(%q) succeeded", url)
		}
	}
	_, err := redis.NewClient(redis.ClientOptions{URL: "redis://:hunter2@[::1"})
	if err == nil || bytes.Contains([]byte(err.Error()), []byte("hunter2")) {
		t.Errorf("error for a bad URL = %v; want one that does not quote the password", err)
	}
}

func BenchmarkPut(b *testing.B) {
	c := redistest.Client(b)
	storetest.BenchPut(b, redis.New(c, redistest.Prefix(b, c)))
}

func BenchmarkGet(b *testing.B) {
	c := redistest.Client(b)
	storetest.BenchGet(b, redis.New(c, redistest.Prefix(b, c)))
}

// TestRecoversAfterOutage stops a Redis of its own under a store and
// starts it again: the store reports the outage as store.ErrUnavailable
// and works again once the server is back, without being reopened.
func TestRecoversAfterOutage(t *testing.T) {
	redistest.URL(t) // the same switch as the other Redis tests
	bin := redistest.ServerBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	dir := t.TempDir()
	var server *exec.Cmd
	start := func() {
		server = exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(addr.Port), "--save", "", "--appendonly", "no", "--dir", dir)
		if err := server.Start(); err != nil {
			t.Fatal(err)
		}
	}
	stop := func() {
		server.Process.Kill()
		server.Wait()
	}
	start()
	t.Cleanup(stop)

	c, err := redis.NewClient(redis.ClientOptions{URL: "redis://" + addr.String() + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := redis.New(c, "outage:")
	ctx := t.Context()
	put := func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return s.Put(ctx, "k/1", []byte("v"), 0)
	}
	eventually := func(what string, ok func(error) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for err := put(); !ok(err); err = put() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: last error %v", what, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	eventually("the server starts", func(err error) bool { return err == nil })
	stop()
	if err := put(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Put while Redis is down = %v, want store.ErrUnavailable", err)
	}
	start()
	eventually("the store recovers", func(err error) bool { return err == nil })
}
