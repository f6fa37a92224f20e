package memory_test

import (
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
