package queue_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/queue"
	"github.com/seipbot/seipbot/store/redis/redistest"
	"github.com/seipbot/seipbot/store/sealed"
)

// TestDeadConsumersJobsAreFinished has consumer A take two jobs and die
// without acknowledging them; consumer B takes the third at once, then,
// once A's have been idle for MinIdle, reclaims and finishes them.
func TestDeadConsumersJobsAreFinished(t *testing.T) {
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	ca := redistest.Client(t)
	prefix := redistest.Prefix(t, ca)
	opts := func(name string) queue.Options {
		return queue.Options{Name: "jobs", Consumer: name, MinIdle: 300 * time.Millisecond, Keyring: kr}
	}
	a := queue.New(ca, prefix, opts("a"))
	cb := redistest.Client(t)
	b := queue.New(cb, prefix, opts("b"))
	ctx := t.Context()
	const marker = "canary-queue-91c2"
	for _, p := range []string{"scan 1 " + marker, "scan 2", "scan 3"} {
		if err := a.Enqueue(ctx, "", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	took, err := a.Take(ctx, 2, 100*time.Millisecond)
	if err != nil || len(took) != 2 || string(took[0].Payload) != "scan 1 "+marker {
		t.Fatalf("A consumed %+v, %v; want the first two jobs", took, err)
	}
	ca.Close() // A dies holding both

	finished := func(jobs []bot.Taken) []string {
		t.Helper()
		var done []string
		for _, j := range jobs {
			if err := b.Ack(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
			done = append(done, string(j.Payload[:6]))
			if j.Reclaimed != (string(j.Payload[:6]) != "scan 3") {
				t.Errorf("job %q: Reclaimed = %v", j.Payload, j.Reclaimed)
			}
		}
		return done
	}
	jobs, err := b.Take(ctx, 10, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := finished(jobs); !slices.Equal(got, []string{"scan 3"}) {
		t.Fatalf("B's first batch = %q, want only the job A never took", got)
	}
	time.Sleep(350 * time.Millisecond)
	jobs, err = b.Take(ctx, 10, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := finished(jobs); !slices.Equal(got, []string{"scan 1", "scan 2"}) {
		t.Fatalf("B reclaimed %q, want A's two jobs", got)
	}
	jobs, err = b.Take(ctx, 10, 50*time.Millisecond)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("after all were finished, Consume = %+v, %v", jobs, err)
	}
	if n, err := cb.XLen(ctx, prefix+"queue:{jobs}").Result(); err != nil || n != 0 {
		t.Fatalf("the stream holds %d entries (%v), want none", n, err)
	}
}

// TestPayloadsAreSealed reads the stream raw, as redis-cli would.
func TestPayloadsAreSealed(t *testing.T) {
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	q := queue.New(c, prefix, queue.Options{Name: "jobs", Consumer: "a", Keyring: kr})
	const marker = "canary-queue-3e7f"
	if err := q.Enqueue(t.Context(), "", []byte(marker)); err != nil {
		t.Fatal(err)
	}
	entries, err := c.XRange(t.Context(), prefix+"queue:{jobs}", "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("XRANGE = %v, %v", entries, err)
	}
	for _, v := range entries[0].Values {
		if bytes.Contains([]byte(v.(string)), []byte(marker)) {
			t.Fatal("the payload is in the stream in plaintext")
		}
	}
	// A consumer with another key drops what it cannot open.
	other, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := queue.New(c, prefix, queue.Options{Name: "jobs", Consumer: "b", Keyring: other}).Take(t.Context(), 10, 50*time.Millisecond)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("a consumer with another key got %+v, %v", jobs, err)
	}
}

// TestKeptEntriesStay has consumer A keep an entry well past MinIdle: B
// must not take it over until A stops keeping it.
func TestKeptEntriesStay(t *testing.T) {
	a, b, _, _ := consumers(t, "out", 300*time.Millisecond)
	ctx := t.Context()
	if err := a.Enqueue(ctx, "", []byte("slow delivery")); err != nil {
		t.Fatal(err)
	}
	took, err := a.Take(ctx, 1, 100*time.Millisecond)
	if err != nil || len(took) != 1 {
		t.Fatalf("A took %+v, %v", took, err)
	}
	for range 6 {
		time.Sleep(150 * time.Millisecond)
		if err := a.Keep(ctx, []string{took[0].ID}); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Take(ctx, 1, 10*time.Millisecond); err != nil || len(got) != 0 {
			t.Fatalf("B took %+v, %v while A kept it", got, err)
		}
	}
	time.Sleep(350 * time.Millisecond)
	got, err := b.Take(ctx, 1, 10*time.Millisecond)
	if err != nil || len(got) != 1 || got[0].ID != took[0].ID || !got[0].Reclaimed {
		t.Fatalf("once A stopped keeping it, B took %+v, %v", got, err)
	}
}

// TestEnqueueOnce enqueues under one key from two replicas: one entry is
// added; another key adds another.
func TestEnqueueOnce(t *testing.T) {
	a, b, c, prefix := consumers(t, "out", 0)
	ctx := t.Context()
	for _, q := range []*queue.Queue{a, b, a} {
		if err := q.Enqueue(ctx, "reminder-7", []byte("stand-up")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Enqueue(ctx, "reminder-8", []byte("stand-up")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.XLen(ctx, prefix+"queue:{out}").Result(); err != nil || n != 2 {
		t.Fatalf("the stream holds %d entries (%v), want 2", n, err)
	}
}

// TestHeldEntries has A hold an entry for work it does itself: no other
// consumer reads it as new, and it goes to B only once A stops keeping it.
func TestHeldEntries(t *testing.T) {
	a, b, c, prefix := consumers(t, "jobs", 300*time.Millisecond)
	ctx := t.Context()
	id, err := a.Hold(ctx, []byte("scan 10.0.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Take(ctx, 10, 50*time.Millisecond); err != nil || len(got) != 0 {
		t.Fatalf("B took %+v, %v: a held entry is nobody's new work", got, err)
	}
	for range 4 {
		time.Sleep(150 * time.Millisecond)
		if err := a.Keep(ctx, []string{id}); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Reclaim(ctx, 10); err != nil || len(got) != 0 {
			t.Fatalf("B reclaimed %+v, %v while A kept it", got, err)
		}
	}
	time.Sleep(350 * time.Millisecond)
	got, err := b.Reclaim(ctx, 10)
	if err != nil || len(got) != 1 || got[0].ID != id || string(got[0].Payload) != "scan 10.0.0.0/24" {
		t.Fatalf("once A stopped keeping it, B reclaimed %+v, %v", got, err)
	}
	if err := b.Ack(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n, err := c.XLen(ctx, prefix+"queue:{jobs}").Result(); err != nil || n != 0 {
		t.Fatalf("the stream holds %d entries (%v) after the ack", n, err)
	}
}

// consumers returns two consumers, a and b, of the queue name with the
// idle limit minIdle (zero: the default), sharing a keyring, and the
// client and key prefix the queue's stream lives under.
func consumers(t *testing.T, name string, minIdle time.Duration) (a, b *queue.Queue, c goredis.UniversalClient, prefix string) {
	t.Helper()
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	c = redistest.Client(t)
	prefix = redistest.Prefix(t, c)
	opts := func(consumer string) queue.Options {
		return queue.Options{Name: name, Consumer: consumer, MinIdle: minIdle, Keyring: kr}
	}
	return queue.New(c, prefix, opts("a")), queue.New(c, prefix, opts("b")), c, prefix
}
