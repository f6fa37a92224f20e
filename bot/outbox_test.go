package bot_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/storetest"
)

// runOutbox runs o until every queued response is delivered.
func runOutbox(t *testing.T, o *bot.Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	flushCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	if err := o.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func say(room, text string) bot.Response { return bot.Response{Room: room, Text: text} }

func TestOutboxRetriesInOrder(t *testing.T) {
	a := bottest.NewAdapter("test")
	var mu sync.Mutex
	failures := 0
	a.Fail = func(r bot.Response) error {
		mu.Lock()
		defer mu.Unlock()
		if failures < 3 { // the platform is down for the first three attempts
			failures++
			return errors.New("connection refused")
		}
		return nil
	}
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond})
	o.AddAdapter(a)
	for i := range 5 {
		o.Send(context.Background(), say("#a", fmt.Sprint(i)))
	}
	runOutbox(t, o)
	if got := fmt.Sprint(a.Texts()); got != "[0 1 2 3 4]" {
		t.Errorf("delivered %s, want [0 1 2 3 4] in order", got)
	}
}

func TestOutboxPermanentFailureIsDropped(t *testing.T) {
	st := memory.New()
	a := bottest.NewAdapter("test")
	a.Fail = func(r bot.Response) error {
		if r.Room == "#gone" {
			return bot.Permanent(errors.New("channel_not_found"))
		}
		return nil
	}
	o := bot.NewOutbox(st, nil, bot.Backoff{Min: time.Millisecond})
	o.AddAdapter(a)
	ctx := context.Background()
	if err := o.SendDurable(ctx, "x", say("#gone", "lost")); err != nil {
		t.Fatal(err)
	}
	o.Send(ctx, say("#here", "kept"))
	runOutbox(t, o)
	if got := fmt.Sprint(a.Texts()); got != "[kept]" {
		t.Errorf("delivered %s", got)
	}
	if keys := storedKeys(t, st); len(keys) != 0 {
		t.Errorf("store still holds %v", keys)
	}
}

func TestOutboxDurableItemsSurviveRestart(t *testing.T) {
	st := memory.New()
	ctx := context.Background()
	// The first process stores two items and dies before delivering them.
	first := bot.NewOutbox(st, nil, bot.Backoff{})
	first.AddAdapter(bottest.NewAdapter("test"))
	for _, id := range []string{"r1", "r2"} {
		if err := first.SendDurable(ctx, id, say("#soc", "reminder "+id)); err != nil {
			t.Fatal(err)
		}
	}
	// Sending with the same id again replaces the item, not adds one.
	if err := first.SendDurable(ctx, "r2", say("#soc", "reminder r2")); err != nil {
		t.Fatal(err)
	}
	if keys := storedKeys(t, st); len(keys) != 2 {
		t.Fatalf("stored %v, want two items", keys)
	}

	a := bottest.NewAdapter("test")
	second := bot.NewOutbox(st, nil, bot.Backoff{})
	second.AddAdapter(a)
	runOutbox(t, second)
	if got := fmt.Sprint(a.Texts()); got != "[reminder r1 reminder r2]" {
		t.Errorf("after restart delivered %s", got)
	}
	if keys := storedKeys(t, st); len(keys) != 0 {
		t.Errorf("delivered items still stored: %v", keys)
	}
}

func TestOutboxKeepsEachRoomsOrderWhileAnotherRoomWaits(t *testing.T) {
	a := bottest.NewAdapter("test")
	var mu sync.Mutex
	stuck := 5
	a.Fail = func(r bot.Response) error {
		mu.Lock()
		defer mu.Unlock()
		if r.Room == "#slow" && stuck > 0 {
			stuck--
			return errors.New("rate limited")
		}
		return nil
	}
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond})
	o.AddAdapter(a)
	ctx := context.Background()
	o.Send(ctx, say("#slow", "s1"))
	o.Send(ctx, say("#fast", "f1"))
	o.Send(ctx, say("#slow", "s2"))
	o.Send(ctx, say("#fast", "f2"))
	runOutbox(t, o)
	var slow, fast []string
	for _, r := range a.Sent() {
		if r.Room == "#slow" {
			slow = append(slow, r.Text)
		} else {
			fast = append(fast, r.Text)
		}
	}
	if fmt.Sprint(slow) != "[s1 s2]" || fmt.Sprint(fast) != "[f1 f2]" {
		t.Errorf("slow %v, fast %v", slow, fast)
	}
}

// unbatched hides every ability of a store beyond store.Store.
type unbatched struct{ store.Store }

func TestOutboxSendDurableWith(t *testing.T) {
	ctx := context.Background()
	items := []bot.Durable{{ID: "a1", Response: say("#soc", "one")}, {ID: "a2", Response: say("#soc", "two")}}
	record := store.Entry{Key: "alerts/open/x", Value: []byte("the alert")}

	st := &storetest.Counter{Store: memory.New()}
	o := bot.NewOutbox(st, nil, bot.Backoff{})
	a := bottest.NewAdapter("test")
	o.AddAdapter(a)
	if err := o.SendDurableWith(ctx, items, record); err != nil {
		t.Fatal(err)
	}
	if puts, batches := st.Writes(); puts != 0 || batches != 1 {
		t.Errorf("stored with %d Puts and %d PutBatches, want one PutBatch", puts, batches)
	}
	if keys := fmt.Sprint(storedKeys(t, st)); keys != "[alerts/open/x outbox/a1 outbox/a2]" {
		t.Errorf("stored %s", keys)
	}
	runOutbox(t, o)
	if got := fmt.Sprint(a.Texts()); got != "[one two]" {
		t.Errorf("delivered %s, want [one two]", got)
	}
	// The caller's record stays; the delivered items go.
	if keys := fmt.Sprint(storedKeys(t, st)); keys != "[alerts/open/x]" {
		t.Errorf("after delivery the store holds %s", keys)
	}

	// A store that cannot batch gets the same records one by one.
	plain := memory.New()
	if err := bot.NewOutbox(unbatched{plain}, nil, bot.Backoff{}).SendDurableWith(ctx, items, record); err != nil {
		t.Fatal(err)
	}
	if keys := fmt.Sprint(storedKeys(t, plain)); keys != "[alerts/open/x outbox/a1 outbox/a2]" {
		t.Errorf("without PutBatch stored %s", keys)
	}

	if err := bot.NewOutbox(nil, nil, bot.Backoff{}).SendDurableWith(ctx, items, record); err == nil {
		t.Error("SendDurableWith without a store succeeded; the records would be lost")
	}
}

func storedKeys(t *testing.T, st store.Store) []string {
	t.Helper()
	var keys []string
	err := st.Scan(context.Background(), "", func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestOutboxWaitsAsLongAsThePlatformAsks checks that a failure carrying a
// Retry-After is retried no sooner than asked, though the backoff is far
// shorter. The bubble's fake clock makes the wait exact without sleeping.
func TestOutboxWaitsAsLongAsThePlatformAsks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := bottest.NewAdapter("test")
		var attempts []time.Time
		a.Fail = func(bot.Response) error {
			attempts = append(attempts, time.Now())
			if len(attempts) == 1 {
				return bot.RetryAfter(errors.New("ratelimited"), 7*time.Second)
			}
			return nil
		}
		o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond})
		o.AddAdapter(a)
		o.Send(context.Background(), say("#a", "hello"))
		runOutbox(t, o)
		if len(attempts) != 2 {
			t.Fatalf("%d attempts, want 2", len(attempts))
		}
		if waited := attempts[1].Sub(attempts[0]); waited < 7*time.Second {
			t.Errorf("retried after %s; the platform asked for 7s", waited)
		}
		if got := fmt.Sprint(a.Texts()); got != "[hello]" {
			t.Errorf("delivered %s", got)
		}
	})
}

// flushingAdapter buffers what it is sent until Flush, like the shell.
type flushingAdapter struct {
	*bottest.Adapter
	mu       sync.Mutex
	buffered []bot.Response
	flushes  int
	failNext bool
}

func (f *flushingAdapter) Send(ctx context.Context, r bot.Response) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buffered = append(f.buffered, r)
	return nil
}

func (f *flushingAdapter) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
	if f.failNext {
		f.failNext = false
		return errors.New("stdout is gone")
	}
	for _, r := range f.buffered {
		f.Adapter.Send(context.Background(), r)
	}
	f.buffered = nil
	return nil
}

func TestOutboxFlushesBeforeForgettingDurableItems(t *testing.T) {
	st := memory.New()
	a := &flushingAdapter{Adapter: bottest.NewAdapter("test"), failNext: true}
	o := bot.NewOutbox(st, nil, bot.Backoff{Min: time.Millisecond})
	o.AddAdapter(a)
	ctx := context.Background()
	o.Send(ctx, say("#soc", "reply")) // not durable: no flush needed
	if err := o.SendDurable(ctx, "r1", say("#soc", "reminder")); err != nil {
		t.Fatal(err)
	}
	runOutbox(t, o)
	// The first flush failed, so the item stayed stored and was sent again;
	// the second flush wrote it out and only then was it forgotten.
	if a.flushes != 2 {
		t.Errorf("%d flushes, want 2", a.flushes)
	}
	if got := fmt.Sprint(a.Texts()); got != "[reply reminder reminder]" {
		t.Errorf("written out: %s", got)
	}
	if keys := storedKeys(t, st); len(keys) != 0 {
		t.Errorf("store still holds %v", keys)
	}
}
