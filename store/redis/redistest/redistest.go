// Package redistest connects tests to the real Redis that scripts/redis.sh
// starts, named by SEIPBOT_TEST_REDIS_URL, and keeps each test's keys apart
// under a fresh prefix that is removed when the test ends. Tests sharing
// the database with other packages' tests, run in parallel, therefore
// never see or delete each other's keys.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/store/redis"
)

// EnvURL names the variable holding the test server's URL.
const EnvURL = "SEIPBOT_TEST_REDIS_URL"

// URL returns the test server's URL. Without one the test is skipped, or
// fails under CI (CI=true), where a missing server is a broken setup rather
// than a developer's choice.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url != "" {
		return url
	}
	unavailable(t, EnvURL+" is not set; run scripts/redis.sh (or start a Redis and set it, e.g. redis://127.0.0.1:6379/9) to run the Redis tests")
	return ""
}

// ServerBinary returns the path of redis-server, for a test that starts and
// stops a server of its own. Without one the test is skipped, or fails
// under CI (CI=true), as in URL.
func ServerBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not installed; run scripts/redis.sh (or install it) to run this test")
	}
	return bin
}

// unavailable skips the test for want of msg's server or tool, or fails it
// under CI, where that is a broken setup rather than a developer's choice.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Client returns a client of the test server, closed when the test ends.
func Client(t testing.TB) goredis.UniversalClient {
	t.Helper()
	c, err := redis.NewClient(redis.ClientOptions{URL: URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the test Redis at %s does not answer: %v", os.Getenv(EnvURL), err)
	}
	return c
}

// Prefix returns a key prefix no other test uses, and deletes every key
// under it when the test ends.
func Prefix(t testing.TB, c goredis.UniversalClient) string {
	t.Helper()
	prefix := "seipbot-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		// The random prefix holds no glob characters.
		it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			c.Del(ctx, it.Val())
		}
	})
	return prefix
}
