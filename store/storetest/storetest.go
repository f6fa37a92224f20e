// Package storetest is the conformance suite every store.Store
// implementation runs against itself, so that backends and wrappers agree on
// the behaviour store.Store documents rather than on each other's quirks.
//
// A backend's test calls Run (or RunWithClock when it can take a clock):
//
//	func TestConformance(t *testing.T) {
//		storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) store.Store {
//			s := memory.New(memory.WithClock(now))
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/store"
)

// short is the TTL the expiry cases use. Stores run with a controllable
// clock never wait for it; stores run with real time (Run) sleep a little
// longer than it, so it is kept small.
const short = 50 * time.Millisecond

// Run runs the suite against fresh stores made by open, one per case.
// Without a controllable clock the expiry cases wait in real time, and only
// check that a record is gone after its TTL, never that it is still there
// just before, which a slow machine could not promise.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	run(t, func(t *testing.T) *env { return &env{s: open(t)} })
}

// RunWithClock runs the suite against fresh stores made by open, one per
// case, each with its own manual clock that open must hand to the store as
// its source of the current time. Expiry is then checked to the nanosecond
// and without sleeping.
func RunWithClock(t *testing.T, open func(t *testing.T, now func() time.Time) store.Store) {
	run(t, func(t *testing.T) *env {
		c := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)}
		return &env{s: open(t, c.Now), clock: c}
	})
}

// clock is a manual clock that moves only when a case advances it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// env is one case's store and, when the suite has one, its clock.
type env struct {
	s     store.Store
	clock *clock
}

// wait lets d pass for the store: at once on a manual clock, by sleeping
// otherwise.
func (e *env) wait(d time.Duration) {
	if e.clock == nil {
		time.Sleep(d)
		return
	}
	e.clock.mu.Lock()
	e.clock.now = e.clock.now.Add(d)
	e.clock.mu.Unlock()
}

func run(t *testing.T, open func(t *testing.T) *env) {
	cases := []struct {
		name string
		test func(t *testing.T, e *env)
	}{
		{"GetMissing", testGetMissing},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"Expiry", testExpiry},
		{"ScanOrder", testScanOrder},
		{"ScanStops", testScanStops},
		{"Update", testUpdate},
		{"UpdateKeepsExpiry", testUpdateKeepsExpiry},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"Copies", testCopies},
		{"BigValue", testBigValue},
		{"Cancelled", testCancelled},
		{"Closed", testClosed},
		{"PutBatch", testPutBatch},
		{"PutBatchConcurrent", testPutBatchConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.test(t, open(t)) })
	}
}

func put(t *testing.T, s store.Store, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// want checks that key holds value.
func want(t *testing.T, s store.Store, key, value string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want %q", key, err, value)
	}
	if string(got) != value {
		t.Fatalf("Get(%q) = %q, want %q", key, got, value)
	}
}

// wantMissing checks that Get reports key as not found.
func wantMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

// scan returns the keys and values Scan visits under prefix, as "key=value".
func scan(t *testing.T, s store.Store, prefix string) []string {
	t.Helper()
	var got []string
	err := s.Scan(t.Context(), prefix, func(key string, value []byte) error {
		got = append(got, key+"="+string(value))
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q): %v", prefix, err)
	}
	return got
}

func testGetMissing(t *testing.T, e *env) {
	wantMissing(t, e.s, "none/such")
	wantMissing(t, e.s, "nobucket")
}

func testRoundTrip(t *testing.T, e *env) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct{ key, value string }{
		{"notes/1", "hello"},
		{"plain", "in the default bucket"},
		{"binary/all", string(all)},
		{"unicode/ключ/日本", "wert ✓"},
		{"empty/value", ""},
	} {
		put(t, e.s, tc.key, tc.value, 0)
		want(t, e.s, tc.key, tc.value)
	}
	// An empty value is a present record: Get must not confuse it with an
	// absent one, and Update must see it as non-nil.
	got, err := e.s.Get(t.Context(), "empty/value")
	if err != nil || got == nil {
		t.Fatalf("Get of an empty value = %#v, %v; want a non-nil empty slice", got, err)
	}
	// "x" lives in the bucket "default" but is not the key "default/x".
	put(t, e.s, "x", "bare", 0)
	put(t, e.s, "default/x", "prefixed", 0)
	want(t, e.s, "x", "bare")
	want(t, e.s, "default/x", "prefixed")
}

func testOverwrite(t *testing.T, e *env) {
	put(t, e.s, "k/1", "first", short)
	put(t, e.s, "k/1", "second", 0)
	want(t, e.s, "k/1", "second")
	// The second Put had no TTL, so the first one's no longer applies.
	e.wait(2 * short)
	want(t, e.s, "k/1", "second")
}

func testDelete(t *testing.T, e *env) {
	put(t, e.s, "k/1", "v", 0)
	put(t, e.s, "k/2", "w", 0)
	if err := e.s.Delete(t.Context(), "k/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMissing(t, e.s, "k/1")
	want(t, e.s, "k/2", "w")
	if err := e.s.Delete(t.Context(), "k/1"); err != nil {
		t.Fatalf("Delete of a deleted key: %v, want nil", err)
	}
	if err := e.s.Delete(t.Context(), "never/was"); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
	if got := scan(t, e.s, "k/"); !slices.Equal(got, []string{"k/2=w"}) {
		t.Fatalf("Scan after Delete = %q", got)
	}
}

func testExpiry(t *testing.T, e *env) {
	put(t, e.s, "ttl/short", "s", short)
	put(t, e.s, "ttl/long", "l", time.Hour)
	put(t, e.s, "ttl/none", "n", 0)
	if e.clock != nil {
		e.wait(short - time.Nanosecond)
		want(t, e.s, "ttl/short", "s")
		e.wait(time.Nanosecond)
	} else {
		e.wait(2 * short)
	}
	wantMissing(t, e.s, "ttl/short")
	want(t, e.s, "ttl/long", "l")
	want(t, e.s, "ttl/none", "n")
	if got := scan(t, e.s, "ttl/"); !slices.Equal(got, []string{"ttl/long=l", "ttl/none=n"}) {
		t.Fatalf("Scan shows expired records: %q", got)
	}
	// To Update an expired record is absent, and what Update creates
	// does not expire.
	err := e.s.Update(t.Context(), "ttl/short", func(cur []byte) ([]byte, error) {
		if cur != nil {
			return nil, fmt.Errorf("the update saw expired value %q", cur)
		}
		return []byte("again"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(2 * short)
	want(t, e.s, "ttl/short", "again")
}

func testScanOrder(t *testing.T, e *env) {
	// Keys that share prefixes across buckets: "a-b" sorts before "a/" and
	// "ab" after it, so a backend that walks bucket by bucket without
	// merging gets the order wrong.
	keys := []string{"ab/z", "a/y", "b/1", "a-b/y", "a", "ab", "a/x", "default/d", "d", "a/x/deeper"}
	for _, k := range keys {
		put(t, e.s, k, "v"+k, 0)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a", "a-b/y", "a/x", "a/x/deeper", "a/y", "ab", "ab/z", "b/1", "d", "default/d"}},
		{"a", []string{"a", "a-b/y", "a/x", "a/x/deeper", "a/y", "ab", "ab/z"}},
		{"a/", []string{"a/x", "a/x/deeper", "a/y"}},
		{"a/x", []string{"a/x", "a/x/deeper"}},
		{"a-", []string{"a-b/y"}},
		{"ab", []string{"ab", "ab/z"}},
		{"d", []string{"d", "default/d"}},
		{"default/", []string{"default/d"}},
		{"b/2", nil},
		{"zzz", nil},
	} {
		var want []string
		for _, k := range tc.want {
			want = append(want, k+"=v"+k)
		}
		if got := scan(t, e.s, tc.prefix); !slices.Equal(got, want) {
			t.Errorf("Scan(%q) = %q, want %q", tc.prefix, got, want)
		}
	}
}

func testScanStops(t *testing.T, e *env) {
	for _, k := range []string{"s/1", "s/2", "s/3"} {
		put(t, e.s, k, "v", 0)
	}
	stop := errors.New("stop here")
	var seen []string
	err := e.s.Scan(t.Context(), "s/", func(key string, _ []byte) error {
		seen = append(seen, key)
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Scan returned %v, want the error fn returned", err)
	}
	if !slices.Equal(seen, []string{"s/1"}) {
		t.Fatalf("Scan went on after fn failed: saw %q", seen)
	}
}

func testUpdate(t *testing.T, e *env) {
	ctx := t.Context()
	update := func(key string, fn func(cur []byte) ([]byte, error)) error {
		t.Helper()
		return e.s.Update(ctx, key, fn)
	}
	// Create: fn sees nil.
	if err := update("u/1", func(cur []byte) ([]byte, error) {
		if cur != nil {
			return nil, fmt.Errorf("current = %q, want nil", cur)
		}
		return []byte("one"), nil
	}); err != nil {
		t.Fatal(err)
	}
	want(t, e.s, "u/1", "one")
	// Replace: fn sees the current value.
	if err := update("u/1", func(cur []byte) ([]byte, error) {
		return append(cur, "+two"...), nil
	}); err != nil {
		t.Fatal(err)
	}
	want(t, e.s, "u/1", "one+two")
	// An error leaves the record alone and comes back unchanged.
	boom := errors.New("boom")
	if err := update("u/1", func([]byte) ([]byte, error) { return []byte("lost"), boom }); !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	want(t, e.s, "u/1", "one+two")
	if err := update("u/absent", func([]byte) ([]byte, error) { return []byte("lost"), boom }); !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	wantMissing(t, e.s, "u/absent")
	// nil deletes; on an absent key it is a no-op.
	if err := update("u/1", func([]byte) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, e.s, "u/1")
	if err := update("u/absent", func([]byte) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, e.s, "u/absent")
	// An empty value is present: fn sees a non-nil slice, and an empty
	// non-nil result stores an empty value rather than deleting.
	put(t, e.s, "u/empty", "", 0)
	if err := update("u/empty", func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, errors.New("current of an empty value is nil")
		}
		return []byte{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	want(t, e.s, "u/empty", "")
}

func testUpdateKeepsExpiry(t *testing.T, e *env) {
	put(t, e.s, "u/ttl", "v", short)
	if err := e.s.Update(t.Context(), "u/ttl", func(cur []byte) ([]byte, error) {
		return append(cur, '2'), nil
	}); err != nil {
		t.Fatal(err)
	}
	if e.clock != nil {
		want(t, e.s, "u/ttl", "v2")
	}
	e.wait(2 * short)
	wantMissing(t, e.s, "u/ttl")
}

func testUpdateConcurrent(t *testing.T, e *env) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				err := e.s.Update(t.Context(), "count/n", func(cur []byte) ([]byte, error) {
					var n int
					if cur != nil {
						if _, err := fmt.Sscan(string(cur), &n); err != nil {
							return nil, err
						}
					}
					return fmt.Append(nil, n+1), nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want(t, e.s, "count/n", fmt.Sprint(workers*each))
}

func testCopies(t *testing.T, e *env) {
	ctx := t.Context()
	in := []byte("original")
	if err := e.s.Put(ctx, "c/1", in, 0); err != nil {
		t.Fatal(err)
	}
	copy(in, "CHANGED!")
	want(t, e.s, "c/1", "original")

	got, err := e.s.Get(ctx, "c/1")
	if err != nil {
		t.Fatal(err)
	}
	copy(got, "CHANGED!")
	want(t, e.s, "c/1", "original")

	err = e.s.Scan(ctx, "c/", func(_ string, v []byte) error {
		copy(v, "CHANGED!")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want(t, e.s, "c/1", "original")

	var kept []byte
	err = e.s.Update(ctx, "c/1", func(cur []byte) ([]byte, error) {
		copy(cur, "CHANGED!")
		kept = []byte("updated")
		return kept, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	copy(kept, "CHANGED")
	want(t, e.s, "c/1", "updated")
}

func testBigValue(t *testing.T, e *env) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := e.s.Put(t.Context(), "big/1", big, 0); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Get(t.Context(), "big/1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("Get returned %d bytes, not the %d put", len(got), len(big))
	}
	err = e.s.Update(t.Context(), "big/1", func(cur []byte) ([]byte, error) {
		if !bytes.Equal(cur, big) {
			return nil, errors.New("the update saw a different value")
		}
		return append(cur, 1), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = e.s.Get(t.Context(), "big/1")
	if err != nil || len(got) != len(big)+1 {
		t.Fatalf("Get after Update: %d bytes, %v", len(got), err)
	}
}

// methods calls each store method once and returns what each returned.
func methods(ctx context.Context, s store.Store) map[string]error {
	_, getErr := s.Get(ctx, "m/1")
	errs := map[string]error{
		"Get":    getErr,
		"Put":    s.Put(ctx, "m/2", []byte("v"), 0),
		"Delete": s.Delete(ctx, "m/1"),
		"Scan":   s.Scan(ctx, "m/", func(string, []byte) error { return nil }),
		"Update": s.Update(ctx, "m/1", func([]byte) ([]byte, error) { return []byte("v"), nil }),
	}
	if b, ok := s.(store.Batcher); ok {
		errs["PutBatch"] = b.PutBatch(ctx, []store.Entry{{Key: "m/2", Value: []byte("v")}})
	}
	return errs
}

// testPutBatch writes through store.PutAll: one PutBatch on a
// store.Batcher, one Put per entry on any other store, which must leave
// the same records either way.
func testPutBatch(t *testing.T, e *env) {
	put(t, e.s, "b/old", "expiring", short)
	value := []byte("one")
	err := store.PutAll(t.Context(), e.s, []store.Entry{
		{Key: "b/1", Value: value},
		{Key: "plain", Value: []byte("in the default bucket")},
		{Key: "b/old", Value: []byte("replaced")},
		{Key: "ttl/b", Value: []byte("short"), TTL: short},
		{Key: "b/empty", Value: []byte{}},
		{Key: "b/2", Value: []byte("first")},
		{Key: "b/2", Value: []byte("last")},
	})
	if err != nil {
		t.Fatalf("PutBatch: %v", err)
	}
	copy(value, "CHANGED!")
	want(t, e.s, "b/1", "one")
	want(t, e.s, "plain", "in the default bucket")
	want(t, e.s, "ttl/b", "short")
	want(t, e.s, "b/empty", "")
	if got := scan(t, e.s, "b/"); !slices.Equal(got, []string{"b/1=one", "b/2=last", "b/empty=", "b/old=replaced"}) {
		t.Fatalf("Scan after PutBatch = %q", got)
	}
	// Like Put, an entry without a TTL drops the one the record had.
	e.wait(2 * short)
	wantMissing(t, e.s, "ttl/b")
	want(t, e.s, "b/old", "replaced")
	if err := store.PutAll(t.Context(), e.s, nil); err != nil {
		t.Fatalf("PutBatch of nothing: %v", err)
	}
}

// testPutBatchConcurrent checks that batches written at once, which a
// backend may commit together, all arrive whole.
func testPutBatchConcurrent(t *testing.T, e *env) {
	const writers, each = 8, 3
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var entries []store.Entry
			for i := range each {
				entries = append(entries, store.Entry{Key: fmt.Sprintf("pb/%d-%d", w, i), Value: []byte(fmt.Sprint(w))})
			}
			if err := store.PutAll(t.Context(), e.s, entries); err != nil {
				t.Errorf("PutBatch from writer %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	if got := scan(t, e.s, "pb/"); len(got) != writers*each {
		t.Fatalf("Scan after concurrent PutBatches found %d records, want %d: %q", len(got), writers*each, got)
	}
}

func testCancelled(t *testing.T, e *env) {
	put(t, e.s, "m/1", "v", 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, err := range methods(ctx, e.s) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", name, err)
		}
	}
	want(t, e.s, "m/1", "v")
	wantMissing(t, e.s, "m/2")
}

func testClosed(t *testing.T, e *env) {
	put(t, e.s, "m/1", "v", 0)
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, err := range methods(t.Context(), e.s) {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close = %v, want store.ErrClosed", name, err)
		}
	}
	if err := e.s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
