package storetest

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/seipbot/seipbot/store"
)

// benchValue is the size of the values the benchmarks write: about one
// chat message or reminder.
const benchValue = 256

// BenchPut measures Put of distinct keys into s, one after another, so a
// backend that syncs to disk shows its per-write latency.
func BenchPut(b *testing.B, s store.Store) {
	value := make([]byte, benchValue)
	b.SetBytes(benchValue)
	for i := 0; b.Loop(); i++ {
		if err := s.Put(b.Context(), "bench/"+strconv.Itoa(i), value, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchPutParallel measures Put of distinct keys from 16 goroutines per
// CPU, the load under which a backend can share commits between writers.
func BenchPutParallel(b *testing.B, s store.Store) {
	value := make([]byte, benchValue)
	b.SetBytes(benchValue)
	b.SetParallelism(16)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Put(b.Context(), "bench/"+strconv.FormatInt(next.Add(1), 10), value, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchGet measures Get of keys that exist in s, cycling over 1000 of them.
func BenchGet(b *testing.B, s store.Store) {
	const keys = 1000
	value := make([]byte, benchValue)
	for i := range keys {
		if err := s.Put(b.Context(), "bench/"+strconv.Itoa(i), value, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchValue)
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(b.Context(), "bench/"+strconv.Itoa(i%keys)); err != nil {
			b.Fatal(err)
		}
	}
}
