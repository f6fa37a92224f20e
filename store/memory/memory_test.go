package memory_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) store.Store {
		s := memory.New(memory.WithClock(now))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestConformanceRealTime checks the suite's own real-time path, which
// backends without a clock (such as Redis, whose server keeps time) rely on.
func TestConformanceRealTime(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memory.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkPut(b *testing.B) { storetest.BenchPut(b, memory.New()) }

func BenchmarkGet(b *testing.B) { storetest.BenchGet(b, memory.New()) }

// TestSweep checks that expired records leave memory even when nobody reads
// them, which the conformance suite cannot see.
func TestSweep(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(memory.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	for i := range 100 {
		if err := s.Put(ctx, "ttl/"+strconv.Itoa(i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	for i := range 2000 {
		if err := s.Put(ctx, "kept/"+strconv.Itoa(i%10), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := memory.Len(s); n != 10 {
		t.Fatalf("%d records in memory after sweeps, want the 10 live ones", n)
	}
}
