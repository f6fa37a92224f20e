package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Inside a synctest bubble the clock starts at 2000-01-01 00:00 UTC and only
// moves when every goroutine in the bubble is blocked, so the tests below
// advance time with time.Sleep without ever waiting for real.

// epoch is the bubble's starting time.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func newScheduler(t *testing.T, st *memStore) *Scheduler {
	t.Helper()
	s, err := New(st, Options{Location: time.UTC, RetryMin: time.Minute, RetryMax: 4 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs s in the background and returns a function that stops it and
// checks that Run returned cleanly.
func start(t *testing.T, s *Scheduler) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	synctest.Wait()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// advance moves the bubble's clock on by d and lets every goroutine that
// wakes in that time finish what it does.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func mustAt(t *testing.T, s *Scheduler, at time.Time, kind string, payload []byte) Entry {
	t.Helper()
	e, err := s.At(t.Context(), at, kind, payload)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// recorder collects calls in order.
type recorder[T any] struct {
	mu    sync.Mutex
	calls []T
}

func (l *recorder[T]) add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, v)
}

func (l *recorder[T]) get() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.calls...)
}

// jobCall is a job's run as seen by the job, at the bubble's time.
type jobCall struct {
	at  time.Time
	run Run
}

func (c jobCall) String() string {
	return fmt.Sprintf("%s due %s late=%v at %s", c.run.Name, c.run.Due.UTC().Format(time.DateTime), c.run.Late, c.at.UTC().Format(time.DateTime))
}

func recordJob(l *recorder[jobCall]) JobFunc {
	return func(_ context.Context, run Run) error {
		l.add(jobCall{at: time.Now(), run: run})
		return nil
	}
}

// checkCalls compares calls by their String forms, which hold everything a
// test cares about.
func checkCalls[T fmt.Stringer](t *testing.T, got []T, want ...T) {
	t.Helper()
	format := func(calls []T) string {
		var b strings.Builder
		for _, c := range calls {
			fmt.Fprintf(&b, "\n\t%s", c)
		}
		return b.String()
	}
	if g, w := format(got), format(want); g != w {
		t.Errorf("got calls:%s\nwant:%s", g, w)
	}
}

func TestPeriodicJobFiresOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(t, newMemStore())
		var calls recorder[jobCall]
		if err := s.Every("sweep", "*/15 * * * *", recordJob(&calls)); err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		defer stop()

		advance(50 * time.Minute)
		at := func(m time.Duration) jobCall {
			return jobCall{at: epoch.Add(m * time.Minute), run: Run{Name: "sweep", Due: epoch.Add(m * time.Minute)}}
		}
		checkCalls(t, calls.get(), at(15), at(30), at(45))
	})
}

func TestPeriodicMissedRunFiresOnceLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		var calls recorder[jobCall]
		first := newScheduler(t, st)
		if err := first.Every("report", "@hourly", recordJob(&calls)); err != nil {
			t.Fatal(err)
		}
		stop := start(t, first)
		time.Sleep(90 * time.Minute)
		stop()

		// Down from 01:30 to 05:30: the runs due at 02:00 to 05:00 are
		// missed and fold into one late run.
		time.Sleep(4 * time.Hour)
		second := newScheduler(t, st)
		if err := second.Every("report", "@hourly", recordJob(&calls)); err != nil {
			t.Fatal(err)
		}
		stop = start(t, second)
		defer stop()
		advance(time.Hour)

		h := func(n time.Duration) time.Time { return epoch.Add(n * time.Hour) }
		checkCalls(t, calls.get(),
			jobCall{at: h(1), run: Run{Name: "report", Due: h(1)}},
			jobCall{at: epoch.Add(330 * time.Minute), run: Run{Name: "report", Due: h(2), Late: true}},
			jobCall{at: h(6), run: Run{Name: "report", Due: h(6)}},
		)
	})
}

func TestPeriodicRunsNeverOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(t, newMemStore())
		var calls recorder[jobCall]
		var mu sync.Mutex
		active, most := 0, 0
		err := s.Every("slow", "@hourly", func(ctx context.Context, run Run) error {
			calls.add(jobCall{at: time.Now(), run: run})
			mu.Lock()
			active++
			most = max(most, active)
			mu.Unlock()
			defer func() { mu.Lock(); active--; mu.Unlock() }()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(90 * time.Minute):
				return nil
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		time.Sleep(5 * time.Hour)
		stop()

		if most != 1 {
			t.Errorf("%d runs at once, want 1", most)
		}
		m := func(n time.Duration) time.Time { return epoch.Add(n * time.Minute) }
		// The 02:00 run is due while the 01:00 one is still going, so it
		// starts late when that ends, and so on.
		checkCalls(t, calls.get(),
			jobCall{at: m(60), run: Run{Name: "slow", Due: m(60)}},
			jobCall{at: m(150), run: Run{Name: "slow", Due: m(120), Late: true}},
			jobCall{at: m(240), run: Run{Name: "slow", Due: m(180), Late: true}},
		)
	})
}

func TestEveryRejects(t *testing.T) {
	s := newScheduler(t, newMemStore())
	noop := func(context.Context, Run) error { return nil }
	if err := s.Every("sweep", "@daily", noop); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, spec string
		want       string
	}{
		{"sweep", "@hourly", `schedule: job "sweep" (@hourly) is already registered (@daily)`},
		{"other", "61 * * * *", `schedule: job "other": cron spec "61 * * * *": minute 61 is out of range 0-59`},
	}
	for _, tt := range tests {
		if err := s.Every(tt.name, tt.spec, noop); err == nil || err.Error() != tt.want {
			t.Errorf("Every(%q, %q) = %v, want %s", tt.name, tt.spec, err, tt.want)
		}
	}
}

// entryCall is a delivery as seen by a handler, at the bubble's time.
type entryCall struct {
	at    time.Time
	entry Entry
	late  bool
}

func (c entryCall) String() string {
	return fmt.Sprintf("%s %q due %s late=%v at %s", c.entry.ID, c.entry.Payload, c.entry.At.UTC().Format(time.DateTime), c.late, c.at.UTC().Format(time.DateTime))
}

// newReminders returns a scheduler on st that records deliveries of entries
// of kind "remind".
func newReminders(t *testing.T, st *memStore) (*Scheduler, *recorder[entryCall]) {
	s := newScheduler(t, st)
	calls := new(recorder[entryCall])
	s.Handle("remind", recordEntries(calls))
	return s, calls
}

func recordEntries(l *recorder[entryCall]) HandlerFunc {
	return func(_ context.Context, e Entry, late bool) error {
		l.add(entryCall{at: time.Now(), entry: e, late: late})
		return nil
	}
}

// checkStored checks which entries the store still holds.
func checkStored(t *testing.T, s *Scheduler, want ...Entry) {
	t.Helper()
	list, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got, wantIDs []string
	for _, e := range list {
		got = append(got, e.ID)
	}
	for _, e := range want {
		wantIDs = append(wantIDs, e.ID)
	}
	if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
		t.Errorf("stored entries %v, want %v", got, wantIDs)
	}
}

func TestEntryFiresAtItsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, calls := newReminders(t, newMemStore())
		stop := start(t, s)
		defer stop()

		e := mustAt(t, s, epoch.Add(10*time.Minute), "remind", []byte("patch the VPN"))
		if len(e.ID) != 6 || !e.Created.Equal(epoch) {
			t.Errorf("At returned %+v, want a 6-character ID and creation at %s", e, epoch)
		}
		advance(9 * time.Minute)
		checkCalls(t, calls.get())
		checkStored(t, s, e)

		advance(time.Minute)
		checkCalls(t, calls.get(), entryCall{at: e.At, entry: e})
		checkStored(t, s)
	})
}

func TestEntrySurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		first := newScheduler(t, st)
		missed := mustAt(t, first, epoch.Add(time.Hour), "remind", []byte("missed"))
		upcoming := mustAt(t, first, epoch.Add(3*time.Hour), "remind", []byte("upcoming"))

		// The bot is down for two hours, then starts again.
		time.Sleep(2 * time.Hour)
		second, calls := newReminders(t, st)
		stop := start(t, second)
		defer stop()
		advance(2 * time.Hour)

		checkCalls(t, calls.get(),
			entryCall{at: epoch.Add(2 * time.Hour), entry: missed, late: true},
			entryCall{at: upcoming.At, entry: upcoming},
		)
		checkStored(t, second)
	})
}

func TestCancelAndList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, calls := newReminders(t, newMemStore())
		s.Handle("followup", recordEntries(calls))
		ctx := t.Context()
		later := mustAt(t, s, epoch.Add(2*time.Hour), "remind", []byte("later"))
		sooner := mustAt(t, s, epoch.Add(time.Hour), "remind", []byte("sooner"))
		other := mustAt(t, s, epoch.Add(30*time.Minute), "followup", nil)
		stop := start(t, s)
		defer stop()

		list, err := s.List(ctx, "remind")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != sooner.ID || list[1].ID != later.ID {
			t.Errorf("List(remind) = %+v, want sooner then later", list)
		}

		// IDs are read case-insensitively, as a user may type them.
		if err := s.Cancel(ctx, strings.ToUpper(sooner.ID)); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{sooner.ID, "zzzzzz"} {
			if err := s.Cancel(ctx, id); !errors.Is(err, ErrNoEntry) {
				t.Errorf("Cancel(%s) = %v, want ErrNoEntry", id, err)
			}
		}
		checkStored(t, s, other, later)

		advance(3 * time.Hour)
		checkCalls(t, calls.get(),
			entryCall{at: other.At, entry: other},
			entryCall{at: later.At, entry: later},
		)
	})
}

func TestFailingHandlerIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(t, newMemStore())
		var calls recorder[entryCall]
		s.Handle("remind", func(ctx context.Context, e Entry, late bool) error {
			calls.add(entryCall{at: time.Now(), entry: e, late: late})
			if len(calls.get()) < 4 {
				return errors.New("chat server unreachable")
			}
			return nil
		})
		stop := start(t, s)
		defer stop()
		e := mustAt(t, s, epoch.Add(10*time.Minute), "remind", nil)

		advance(time.Hour)
		// Retries wait RetryMin (1m), then double, capped at RetryMax (4m).
		m := func(n time.Duration) entryCall { return entryCall{at: epoch.Add(n * time.Minute), entry: e} }
		checkCalls(t, calls.get(), m(10), m(11), m(13), m(17))
		checkStored(t, s)
	})
}

func TestEntryAddedDuringSleepFiresOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, calls := newReminders(t, newMemStore())
		far := mustAt(t, s, epoch.Add(time.Hour), "remind", nil)
		stop := start(t, s)
		defer stop()

		// Run now sleeps until the hour; a sooner entry must cut that short.
		time.Sleep(time.Minute)
		near := mustAt(t, s, epoch.Add(5*time.Minute), "remind", nil)
		advance(2 * time.Hour)
		checkCalls(t, calls.get(),
			entryCall{at: near.At, entry: near},
			entryCall{at: far.At, entry: far},
		)
	})
}

func TestNewRejectsRetryBounds(t *testing.T) {
	_, err := New(newMemStore(), Options{RetryMin: time.Hour, RetryMax: time.Minute})
	if want := "schedule: RetryMin 1h0m0s is above RetryMax 1m0s"; err == nil || err.Error() != want {
		t.Errorf("New = %v, want %s", err, want)
	}
}

func TestJobCutShortByShutdownRunsAgainLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		var calls recorder[jobCall]
		block := func(ctx context.Context, run Run) error {
			calls.add(jobCall{at: time.Now(), run: run})
			<-ctx.Done()
			return ctx.Err()
		}
		first := newScheduler(t, st)
		if err := first.Every("scan", "@hourly", block); err != nil {
			t.Fatal(err)
		}
		stop := start(t, first)
		advance(90 * time.Minute)
		stop()

		second := newScheduler(t, st)
		if err := second.Every("scan", "@hourly", recordJob(&calls)); err != nil {
			t.Fatal(err)
		}
		stop = start(t, second)
		defer stop()
		h := func(n time.Duration) time.Time { return epoch.Add(n * time.Hour) }
		checkCalls(t, calls.get(),
			jobCall{at: h(1), run: Run{Name: "scan", Due: h(1)}},
			jobCall{at: epoch.Add(90 * time.Minute), run: Run{Name: "scan", Due: h(1), Late: true}},
		)
	})
}

func TestEntriesWithoutHandlerOrUnreadableStay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		if err := st.Put(t.Context(), entryPrefix+"broken", []byte("{"), 0); err != nil {
			t.Fatal(err)
		}
		s, calls := newReminders(t, st)
		orphan := mustAt(t, s, epoch.Add(time.Minute), "retired-plugin", nil)
		stop := start(t, s)
		defer stop()
		advance(time.Hour)

		checkCalls(t, calls.get())
		checkStored(t, s, orphan)
		if _, err := st.Get(t.Context(), entryPrefix+"broken"); err != nil {
			t.Errorf("unreadable record: %v, want it kept", err)
		}
	})
}

func TestRunTwiceFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(t, newMemStore())
		stop := start(t, s)
		defer stop()
		if err := s.Run(t.Context()); err == nil {
			t.Error("second Run succeeded, want an error")
		}
		if err := s.Every("late", "@daily", recordJob(new(recorder[jobCall]))); err == nil {
			t.Error("Every after Run succeeded, want an error")
		}
	})
}

func TestHandlePanicsOnMisuse(t *testing.T) {
	s := newScheduler(t, newMemStore())
	noop := func(context.Context, Entry, bool) error { return nil }
	s.Handle("remind", noop)
	tests := []struct {
		name string
		kind string
		fn   HandlerFunc
	}{
		{"duplicate", "remind", noop},
		{"no kind", "", noop},
		{"no function", "other", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Handle did not panic")
				}
			}()
			s.Handle(tt.kind, tt.fn)
		})
	}
}

func TestNormalizeID(t *testing.T) {
	for in, want := range map[string]string{
		"ab12cd":   "ab12cd",
		" AB12CD ": "ab12cd",
		"oIl9xz":   "0119xz",
	} {
		if got := normalizeID(in); got != want {
			t.Errorf("normalizeID(%q) = %q, want %q", in, got, want)
		}
	}
}
