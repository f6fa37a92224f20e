// Package schedule runs periodic jobs on cron specs and one-shot timed
// entries (reminders, delayed follow-ups), keeping what it must remember in a
// store.Store so that nothing is lost across a restart: a periodic run or an
// entry that fell due while the bot was down fires once when it starts again,
// marked late.
//
// Register jobs with Every and entry handlers with Handle at start-up, then
// call Run. With several replicas on one store, run it on the leader only
// and give it Options.Leader, which it asks before every run and delivery,
// and Options.Poll, so that it sees entries the other replicas add.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/seipbot/seipbot/store"
)

// Options configures a Scheduler. The zero value is usable.
type Options struct {
	// Logger receives failures of jobs and handlers. Nil discards them.
	Logger *slog.Logger
	// Location is the time zone cron specs are read in. Nil means
	// time.Local.
	Location *time.Location
	// Now returns the current time. Nil means time.Now. Waiting is done
	// with real timers, so a replacement clock must move with them (as
	// testing/synctest's does).
	Now func() time.Time
	// RetryMin and RetryMax bound the wait before an entry whose handler
	// failed is tried again; the wait doubles with each failure. Zero means
	// 5s and 5m.
	RetryMin, RetryMax time.Duration
	// Leader, when set, is asked right before each periodic run and each
	// entry delivery whether this replica still leads; when it does not,
	// Run stops at once and returns an error wrapping ErrNotLeader, leaving
	// what it had not done to the next leader's Run.
	Leader Leader
	// Poll, when set, makes Run read the stored entries again that often,
	// to deliver those that other replicas added and drop those they
	// cancelled. Zero means entries change only through this Scheduler
	// and Refresh.
	Poll time.Duration
	// Changed, when set, is called after At or Cancel has changed the
	// stored entries, so that the leader's Scheduler can be told to
	// Refresh (through package bus) without waiting for its next poll.
	Changed func(ctx context.Context)
}

// Leader is what a Scheduler asks whether it may act: replica.Lease, whose
// Check compares its term's fencing token with the one in Redis.
type Leader interface {
	// Check returns nil while this replica leads.
	Check(ctx context.Context) error
}

// ErrNotLeader is wrapped by Run's error when Options.Leader said this
// replica no longer leads.
var ErrNotLeader = errors.New("schedule: not the leader")

// Scheduler runs periodic jobs and delivers timed entries. Create it with
// New.
type Scheduler struct {
	st       store.Store
	log      *slog.Logger
	loc      *time.Location
	now      func() time.Time
	retryMin time.Duration
	retryMax time.Duration
	leader   Leader
	poll     time.Duration
	changed  func(context.Context)

	// wake nudges a running entry loop to look at its entries again; it
	// holds at most one pending nudge. refresh likewise asks it to read
	// them from the store again.
	wake    chan struct{}
	refresh chan struct{}

	mu       sync.Mutex
	running  bool
	jobs     map[string]*job
	handlers map[string]HandlerFunc
	entries  map[string]*pending
	// stop ends the current Run with a cause; set by Run before it starts
	// anything that calls it.
	stop context.CancelCauseFunc
}

// New returns a Scheduler persisting through st. It does no I/O and starts
// no goroutine; Run does.
func New(st store.Store, opts Options) (*Scheduler, error) {
	if st == nil {
		return nil, errors.New("schedule: a store is required")
	}
	if opts.RetryMin < 0 || opts.RetryMax < 0 || opts.Poll < 0 {
		return nil, errors.New("schedule: retry bounds and the poll interval must not be negative")
	}
	s := &Scheduler{
		st:       st,
		log:      opts.Logger,
		loc:      opts.Location,
		now:      opts.Now,
		retryMin: opts.RetryMin,
		retryMax: opts.RetryMax,
		leader:   opts.Leader,
		poll:     opts.Poll,
		changed:  opts.Changed,
		wake:     make(chan struct{}, 1),
		refresh:  make(chan struct{}, 1),
		jobs:     make(map[string]*job),
		handlers: make(map[string]HandlerFunc),
		entries:  make(map[string]*pending),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.retryMin == 0 {
		s.retryMin = 5 * time.Second
	}
	if s.retryMax == 0 {
		s.retryMax = 5 * time.Minute
	}
	if s.retryMin > s.retryMax {
		return nil, fmt.Errorf("schedule: RetryMin %s is above RetryMax %s", s.retryMin, s.retryMax)
	}
	return s, nil
}

// Run loads the periodic jobs' last runs and the stored entries, then runs
// jobs and delivers entries until ctx is cancelled. It returns once every
// job and handler it started has returned, so a Scheduler needs no Close.
// It returns an error only if loading fails, Run is already running, or
// the Leader says this replica no longer leads; it may then be called
// again.
func (s *Scheduler) Run(ctx context.Context) (err error) {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("schedule: Run is already running")
	}
	s.running = true
	ctx, stop := context.WithCancelCause(ctx)
	s.stop = stop
	defer func() {
		if cause := context.Cause(ctx); errors.Is(cause, ErrNotLeader) {
			err = cause
		}
		stop(nil)
	}()
	jobs := make([]*job, 0, len(s.jobs))
	for _, j := range s.jobs {
		jobs = append(jobs, j)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	// Whatever fell due before this moment was missed while the bot was
	// down, and is delivered late.
	started := s.now()
	lasts := make([]time.Time, len(jobs))
	for i, j := range jobs {
		last, err := s.loadLast(ctx, j.name, started)
		if err != nil {
			return err
		}
		lasts[i] = last
	}
	if err := s.loadEntries(ctx, started); err != nil {
		return err
	}

	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { s.runJob(ctx, j, lasts[i]) })
	}
	s.deliverEntries(ctx, &wg, started)
	wg.Wait()
	return nil
}

// leads reports whether this replica may act now. When the Leader says it
// may not, or cannot be asked, it stops Run: acting unsure could run a job
// twice.
func (s *Scheduler) leads(ctx context.Context) bool {
	if s.leader == nil {
		return true
	}
	err := s.leader.Check(ctx)
	if err == nil {
		return true
	}
	if ctx.Err() == nil {
		s.log.Warn("not the leader; stopping the scheduler", "err", err)
		s.stop(fmt.Errorf("%w: %w", ErrNotLeader, err))
	}
	return false
}

// Refresh makes a running Run read the stored entries again, to deliver
// those another replica added and drop those it cancelled. It does not
// block; refreshes asked for while one is pending are one refresh.
func (s *Scheduler) Refresh() {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
}

// nudge wakes the entry loop without blocking: one pending nudge is enough
// for it to recompute its timer from all entries.
func (s *Scheduler) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
