package replica_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/replica"
	"github.com/seipbot/seipbot/store/redis/redistest"
)

// testClaimer checks that of claimers racing for the same ids, exactly one
// wins each, and that an id can be claimed again after its TTL.
func testClaimer(t *testing.T, claimers []bot.Claimer, wait func(time.Duration)) {
	ctx := t.Context()
	const ids = 200
	var wins [ids]atomic.Int32
	var wg sync.WaitGroup
	for _, c := range claimers {
		wg.Go(func() {
			for i := range ids {
				ok, err := c.Claim(ctx, "test:"+strconv.Itoa(i), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					wins[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if n := wins[i].Load(); n != 1 {
			t.Fatalf("id %d was won %d times, want once", i, n)
		}
	}
	c := claimers[0]
	if ok, err := c.Claim(ctx, "short", 50*time.Millisecond); !ok || err != nil {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, err := c.Claim(ctx, "short", time.Minute); ok || err != nil {
		t.Fatalf("second claim within the TTL = %v, %v; want false", ok, err)
	}
	wait(100 * time.Millisecond)
	if ok, err := claimers[len(claimers)-1].Claim(ctx, "short", time.Minute); !ok || err != nil {
		t.Fatalf("claim after the TTL = %v, %v; want true", ok, err)
	}
}

func TestLocalClaimer(t *testing.T) {
	// The bubble's fake clock lets TTLs pass without waiting.
	synctest.Test(t, func(t *testing.T) {
		c := replica.NewLocalClaimer()
		testClaimer(t, []bot.Claimer{c, c, c}, time.Sleep)
	})
}

func TestLocalClaimerForgetsExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := replica.NewLocalClaimer()
		for i := range 10000 {
			if _, err := c.Claim(t.Context(), strconv.Itoa(i), time.Second); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		// Claims live 1s at 1ms apart, so about 1000 are live at a time;
		// the map must not keep all 10000.
		if n := replica.LocalClaims(c); n > 4000 {
			t.Fatalf("the claimer holds %d claims, most of them expired", n)
		}
	})
}

func TestRedisClaimer(t *testing.T) {
	var claimers []bot.Claimer
	var prefix string
	for _, name := range []string{"r1", "r2", "r3"} {
		c := redistest.Client(t)
		if prefix == "" {
			prefix = redistest.Prefix(t, c)
		}
		claimers = append(claimers, replica.NewRedisClaimer(c, prefix, name))
	}
	testClaimer(t, claimers, time.Sleep)
}

// BenchmarkRedisClaim measures the latency a claim adds to each message,
// and reports its median and 99th percentile.
func BenchmarkRedisClaim(b *testing.B) {
	c := redistest.Client(b)
	cl := replica.NewRedisClaimer(c, redistest.Prefix(b, c), "bench")
	ctx := context.Background()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := cl.Claim(ctx, "bench:"+strconv.Itoa(i), time.Minute); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRedisClaimParallel claims from many goroutines at once, as a
// bot handling many conversations does, so claims share round trips.
func BenchmarkRedisClaimParallel(b *testing.B) {
	c := redistest.Client(b)
	cl := replica.NewRedisClaimer(c, redistest.Prefix(b, c), "bench")
	var n atomic.Int64
	b.SetParallelism(10)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cl.Claim(context.Background(), "bench:"+strconv.FormatInt(n.Add(1), 10), time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}
