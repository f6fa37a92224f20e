package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/seipbot/seipbot/audit"
	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/memory"
)

// benchRecord is shaped like the records a busy shell writes: a command
// with one argument, allowed and answered.
var benchRecord = audit.Record{
	Time: time.Date(2026, 11, 30, 16, 9, 0, 123456789, time.UTC), Kind: "command",
	Identity: "shell:alice", Room: "bench", Adapter: "shell", Command: "runbook svc42",
	Args: []audit.Arg{{Name: "service", Value: "svc42"}}, Decision: "allowed", Result: "ok",
}

// benchLog adds b.N records to a log on st and closes it, so every record
// is stored before the clock stops.
func benchLog(b *testing.B, st store.Store) {
	l, err := audit.New(st, audit.Options{Keys: testKey.DeriveAll("audit")})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l.Add(benchRecord)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLogMemory measures the writer's own cost: chaining, encoding
// and hashing, with a store that keeps values in memory.
func BenchmarkLogMemory(b *testing.B) { benchLog(b, memory.New()) }

// BenchmarkLogSealedBolt is the log as seipbot runs it by default.
func BenchmarkLogSealedBolt(b *testing.B) {
	st := sealedBolt(b, filepath.Join(b.TempDir(), "seipbot.db"))
	defer st.Close()
	benchLog(b, st)
}
