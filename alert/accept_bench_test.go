package alert_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/sealed"
)

// BenchmarkAcceptDurable accepts distinct alerts from 32 goroutines per CPU
// into a manager whose outbox keeps them in a sealed bolt store: the
// webhook path without HTTP, where every alert must be on disk before
// Accept returns. Run it with -blockprofile and -mutexprofile to see what
// the writers wait on.
func BenchmarkAcceptDurable(b *testing.B) {
	raw, err := bolt.Open(b.TempDir()+"/bot.db", bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	key, _ := sealed.NewKey()
	kr, err := sealed.ParseKeyring(key)
	if err != nil {
		b.Fatal(err)
	}
	st := sealed.New(raw, kr)
	defer st.Close()
	// An outbox that never runs keeps every message waiting, as for an
	// adapter that is down.
	out := bot.NewOutbox(st, nil, bot.Backoff{})
	m, err := alert.New(alert.Options{
		Rules: []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}, DedupWindow: time.Hour,
		Store: st, Outbox: out,
	})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			a := alert.Alert{Source: "generic", Severity: alert.High, Title: fmt.Sprint("bench alert ", i),
				Labels: map[string]string{"host": fmt.Sprint("node-", i%100)}}
			if err := m.Accept(b.Context(), a); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
