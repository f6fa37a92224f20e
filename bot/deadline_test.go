package bot

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// newDeadline is what the timeout middleware gives a handler whose parent
// never ends.
func newDeadline(after time.Duration) *deadline {
	parent := context.WithValue(context.WithoutCancel(context.Background()), ctxKey{}, "v")
	return &deadline{Context: parent, at: time.Now().Add(after)}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestDeadlineActsAsWithDeadline holds the lazy deadline to what
// context.WithDeadline does in each order of events a handler can cause.
func TestDeadlineActsAsWithDeadline(t *testing.T) {
	t.Run("before the deadline", func(t *testing.T) {
		d := newDeadline(time.Hour)
		defer d.stop()
		if at, ok := d.Deadline(); !ok || !at.Equal(d.at) {
			t.Fatalf("Deadline() = %v, %v", at, ok)
		}
		if d.Err() != nil || closed(d.Done()) || d.Value(ctxKey{}) != "v" {
			t.Fatalf("Err %v, Done closed %v, value %v", d.Err(), closed(d.Done()), d.Value(ctxKey{}))
		}
	})
	t.Run("waiting on Done until it expires", func(t *testing.T) {
		d := newDeadline(20 * time.Millisecond)
		defer d.stop()
		<-d.Done()
		if !errors.Is(d.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(d), context.DeadlineExceeded) {
			t.Fatalf("Err %v, Cause %v", d.Err(), context.Cause(d))
		}
	})
	t.Run("Err after the deadline without Done", func(t *testing.T) {
		d := newDeadline(time.Millisecond)
		defer d.stop()
		time.Sleep(5 * time.Millisecond)
		if !errors.Is(d.Err(), context.DeadlineExceeded) || !closed(d.Done()) {
			t.Fatalf("Err %v, Done closed %v", d.Err(), closed(d.Done()))
		}
	})
	t.Run("stopped before the deadline", func(t *testing.T) {
		d := newDeadline(time.Hour)
		d.stop()
		if !errors.Is(d.Err(), context.Canceled) || !closed(d.Done()) || d.Value(ctxKey{}) != "v" {
			t.Fatalf("Err %v, Done closed %v, value %v", d.Err(), closed(d.Done()), d.Value(ctxKey{}))
		}
	})
	t.Run("stopped after the deadline", func(t *testing.T) {
		d := newDeadline(time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		d.stop()
		if !errors.Is(d.Err(), context.DeadlineExceeded) || !closed(d.Done()) {
			t.Fatalf("Err %v, Done closed %v", d.Err(), closed(d.Done()))
		}
	})
	t.Run("stopped while a goroutine waits", func(t *testing.T) {
		d := newDeadline(time.Hour)
		done := d.Done()
		d.stop()
		if !closed(done) || !errors.Is(d.Err(), context.Canceled) {
			t.Fatalf("Err %v, Done closed %v", d.Err(), closed(done))
		}
	})
	t.Run("derived contexts end with it, at once", func(t *testing.T) {
		d := newDeadline(time.Hour)
		child, cancel := context.WithCancel(d)
		defer cancel()
		if child.Value(ctxKey{}) != "v" {
			t.Fatal("the derived context lost the parent's value")
		}
		d.stop()
		// Hung on the standard context, the child is cancelled before
		// stop returns; without, a goroutine would do it some time later.
		if !errors.Is(child.Err(), context.Canceled) {
			t.Fatalf("child Err %v right after stop", child.Err())
		}
	})
	t.Run("derived contexts expire with it", func(t *testing.T) {
		d := newDeadline(20 * time.Millisecond)
		defer d.stop()
		child, cancel := context.WithTimeout(d, time.Hour)
		defer cancel()
		if at, _ := child.Deadline(); !at.Equal(d.at) {
			t.Fatalf("child deadline %v, want %v", at, d.at)
		}
		<-child.Done()
		if !errors.Is(child.Err(), context.DeadlineExceeded) {
			t.Fatalf("child Err %v", child.Err())
		}
	})
}
