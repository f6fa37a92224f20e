package schedule

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// flag is a Leader that leads while it is set.
type flag struct{ leads atomic.Bool }

func (f *flag) Check(context.Context) error {
	if f.leads.Load() {
		return nil
	}
	return errors.New("term 3 has ended")
}

func TestSchedulerStopsWhenNoLongerLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		leader := &flag{}
		leader.leads.Store(true)
		s, err := New(st, Options{Location: time.UTC, Leader: leader})
		if err != nil {
			t.Fatal(err)
		}
		var calls recorder[jobCall]
		if err := s.Every("sweep", "*/15 * * * *", recordJob(&calls)); err != nil {
			t.Fatal(err)
		}
		var delivered recorder[string]
		s.Handle("note", func(_ context.Context, e Entry, _ bool) error {
			delivered.add(e.ID)
			return nil
		})
		mustAt(t, s, epoch.Add(20*time.Minute), "note", nil)
		done := make(chan error, 1)
		go func() { done <- s.Run(t.Context()) }()
		advance(16 * time.Minute)
		// The lease is lost before the next tick and the entry: neither
		// may happen, and Run says why it stopped.
		leader.leads.Store(false)
		advance(15 * time.Minute)
		if err := <-done; !errors.Is(err, ErrNotLeader) {
			t.Fatalf("Run = %v, want ErrNotLeader", err)
		}
		at := func(m time.Duration) jobCall {
			return jobCall{at: epoch.Add(m * time.Minute), run: Run{Name: "sweep", Due: epoch.Add(m * time.Minute)}}
		}
		checkCalls(t, calls.get(), at(15))
		if got := delivered.get(); len(got) != 0 {
			t.Fatalf("delivered %q without leading", got)
		}
		// Leading again, Run catches up with what it left.
		leader.leads.Store(true)
		stop := start(t, s)
		defer stop()
		checkCalls(t, calls.get(), at(15), jobCall{at: epoch.Add(31 * time.Minute), run: Run{Name: "sweep", Due: epoch.Add(30 * time.Minute), Late: true}})
		if got := delivered.get(); len(got) != 1 {
			t.Fatalf("delivered %q, want the entry once", got)
		}
	})
}

// TestOtherReplicasEntries runs the leader's scheduler beside another
// replica's, sharing a store: what the other adds is delivered on time,
// what it cancels is not, whether the leader learns of it by polling or
// by the other's Changed calling its Refresh.
func TestOtherReplicasEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		poll    time.Duration
		refresh bool
	}{
		{"poll", time.Second, false},
		{"refresh", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := newMemStore()
				lead, err := New(st, Options{Location: time.UTC, Poll: tc.poll})
				if err != nil {
					t.Fatal(err)
				}
				var delivered recorder[string]
				lead.Handle("note", func(_ context.Context, e Entry, _ bool) error {
					delivered.add(string(e.Payload) + "@" + time.Now().UTC().Format(time.TimeOnly))
					return nil
				})
				stop := start(t, lead)
				defer stop()
				opts := Options{Location: time.UTC}
				if tc.refresh {
					opts.Changed = func(context.Context) { lead.Refresh() }
				}
				other, err := New(st, opts)
				if err != nil {
					t.Fatal(err)
				}
				mustAt(t, other, epoch.Add(time.Minute), "note", []byte("kept"))
				gone := mustAt(t, other, epoch.Add(time.Minute), "note", []byte("cancelled"))
				advance(10 * time.Second)
				if err := other.Cancel(t.Context(), gone.ID); err != nil {
					t.Fatal(err)
				}
				advance(time.Minute)
				if got := delivered.get(); len(got) != 1 || got[0] != "kept@00:01:00" {
					t.Fatalf("delivered %q, want only the kept entry at 00:01:00", got)
				}
			})
		})
	}
}
