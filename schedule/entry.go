package schedule

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// entryPrefix starts the store key of each timed entry.
const entryPrefix = "schedule/at/"

// ErrNoEntry is returned by Cancel for an ID that names no entry.
var ErrNoEntry = errors.New("schedule: no such entry")

// Entry is a one-shot timed entry, such as a reminder.
type Entry struct {
	// ID is six characters of Crockford's base32 alphabet, short enough
	// for a user to type back into a cancel command.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// At is when the entry falls due.
	At time.Time `json:"at"`
	// Payload is the caller's data, opaque to the scheduler.
	Payload []byte    `json:"payload,omitempty"`
	Created time.Time `json:"created"`
}

// HandlerFunc delivers an entry that fell due. late is true when the entry
// fell due before the scheduler could deliver it on time: while the bot was
// down, or before At was called. An entry is removed only once its handler
// returns nil; otherwise it is retried with backoff, so a handler may see
// the same entry more than once.
type HandlerFunc func(ctx context.Context, e Entry, late bool) error

// pending is the scheduler's in-memory view of a stored entry.
type pending struct {
	entry Entry
	late  bool
	// The fields below are guarded by Scheduler.mu.
	try      time.Time // when to deliver next
	failures int
	busy     bool // a handler is running for it
}

// Handle registers fn for entries of kind. Registering an empty kind, a nil
// function, a kind twice, or after Run started is a programming error and
// panics, as http.ServeMux does for bad patterns.
func (s *Scheduler) Handle(kind string, fn HandlerFunc) {
	if kind == "" || fn == nil {
		panic("schedule: Handle needs a kind and a function")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		panic(fmt.Sprintf("schedule: handler for %q registered after Run started", kind))
	}
	if _, ok := s.handlers[kind]; ok {
		panic(fmt.Sprintf("schedule: a handler for %q is already registered", kind))
	}
	s.handlers[kind] = fn
}

// At stores an entry of kind falling due at at, and returns once it is
// stored. A running Run delivers it to the kind's handler when it falls due.
func (s *Scheduler) At(ctx context.Context, at time.Time, kind string, payload []byte) (Entry, error) {
	if kind == "" || at.IsZero() {
		return Entry{}, errors.New("schedule: an entry needs a kind and a time")
	}
	now := s.now()
	e := Entry{Kind: kind, At: at, Payload: bytes.Clone(payload), Created: now}
	if err := s.create(ctx, &e); err != nil {
		return Entry{}, err
	}
	s.mu.Lock()
	s.track(e, at.Before(now))
	s.mu.Unlock()
	// The loop recomputes its timer from all entries, so waking it whether
	// or not this entry is the earliest is both simple and correct.
	s.nudge()
	if s.changed != nil {
		s.changed(ctx)
	}
	return e, nil
}

// errIDTaken makes create draw another ID.
var errIDTaken = errors.New("schedule: entry id taken")

// create stores e under a fresh ID. Six base32 characters give about a
// billion IDs, so a collision is rare, and a few draws settle it.
func (s *Scheduler) create(ctx context.Context, e *Entry) error {
	var err error
	for range 4 {
		e.ID = newID()
		var raw []byte
		if raw, err = json.Marshal(e); err != nil {
			return fmt.Errorf("schedule: saving entry: %w", err)
		}
		err = s.st.Update(ctx, entryPrefix+e.ID, func(current []byte) ([]byte, error) {
			if current != nil {
				return nil, errIDTaken
			}
			return raw, nil
		})
		if !errors.Is(err, errIDTaken) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("schedule: saving entry: %w", err)
	}
	return nil
}

// idAlphabet is Crockford's base32: no i, l, o or u, so an ID read aloud or
// retyped is hard to get wrong.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

func newID() string {
	var b [6]byte
	// 256 is a multiple of 32, so each character is uniform.
	rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[b[i]%32]
	}
	return string(b[:])
}

// normalizeID reads an ID the way Crockford's base32 says to: any case,
// with o for 0 and i or l for 1.
func normalizeID(id string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case 'o':
			return '0'
		case 'i', 'l':
			return '1'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(id)))
}

// Cancel removes the entry with id, or returns an error wrapping ErrNoEntry.
// A handler already running for the entry is not interrupted.
func (s *Scheduler) Cancel(ctx context.Context, id string) error {
	id = normalizeID(id)
	err := s.st.Update(ctx, entryPrefix+id, func(current []byte) ([]byte, error) {
		if current == nil {
			return nil, ErrNoEntry
		}
		return nil, nil
	})
	if errors.Is(err, ErrNoEntry) {
		return fmt.Errorf("%w: %s", ErrNoEntry, id)
	}
	if err != nil {
		return fmt.Errorf("schedule: cancelling entry %s: %w", id, err)
	}
	s.mu.Lock()
	delete(s.entries, id)
	s.mu.Unlock()
	if s.changed != nil {
		s.changed(ctx)
	}
	return nil
}

// List returns the stored entries of kind, or of every kind if kind is
// empty, earliest first.
func (s *Scheduler) List(ctx context.Context, kind string) ([]Entry, error) {
	var list []Entry
	err := s.scanEntries(ctx, func(e Entry) {
		if kind == "" || e.Kind == kind {
			list = append(list, e)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b Entry) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.ID, b.ID))
	})
	return list, nil
}

// scanEntries calls fn for every stored entry. A record that does not
// decode is logged and skipped, so that one bad record neither stops
// delivery of the others nor hides them from List.
func (s *Scheduler) scanEntries(ctx context.Context, fn func(Entry)) error {
	err := s.st.Scan(ctx, entryPrefix, func(key string, raw []byte) error {
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			s.log.Error("skipping unreadable entry", "key", key, "err", err)
			return nil
		}
		fn(e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("schedule: reading entries: %w", err)
	}
	return nil
}

// loadEntries makes the entries to deliver those in the store: it tracks
// the new ones (those due before started were missed while the bot was
// down) and forgets those gone from the store, delivered or cancelled by
// another replica while this one did not lead. An entry being delivered,
// or created after the scan began, is kept.
func (s *Scheduler) loadEntries(ctx context.Context, started time.Time) error {
	scanned := s.now()
	stored := map[string]Entry{}
	if err := s.scanEntries(ctx, func(e Entry) { stored[e.ID] = e }); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.entries {
		if _, ok := stored[id]; !ok && !p.busy && p.entry.Created.Before(scanned) {
			delete(s.entries, id)
		}
	}
	for _, e := range stored {
		s.track(e, e.At.Before(started))
	}
	return nil
}

// track adds e to the entries to deliver, unless it is already there (At
// called before Run, or a second Run), where its retry state is kept.
// s.mu must be held.
func (s *Scheduler) track(e Entry, late bool) {
	if _, ok := s.entries[e.ID]; !ok {
		s.entries[e.ID] = &pending{entry: e, late: late, try: e.At}
	}
}

// delivery is an entry handed to its handler.
type delivery struct {
	p  *pending
	fn HandlerFunc
}

// deliverEntries hands entries to their handlers as they fall due, until
// ctx is cancelled. Each handler runs in its own goroutine on wg, so a slow
// or failing one holds up no other entry.
func (s *Scheduler) deliverEntries(ctx context.Context, wg *sync.WaitGroup, started time.Time) {
	var poll <-chan time.Time
	if s.poll > 0 {
		t := time.NewTicker(s.poll)
		defer t.Stop()
		poll = t.C
	}
	for {
		now := s.now()
		due, next := s.takeDue(now)
		for _, d := range due {
			wg.Go(func() { s.deliver(ctx, d) })
		}
		var wait <-chan time.Time
		if !next.IsZero() {
			wait = time.After(next.Sub(now))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-wait:
		case <-poll:
			s.reload(ctx, started)
		case <-s.refresh:
			s.reload(ctx, started)
		}
	}
}

// reload reads the stored entries again for a poll or a refresh; a failure
// waits for the next one.
func (s *Scheduler) reload(ctx context.Context, started time.Time) {
	if err := s.loadEntries(ctx, started); err != nil && ctx.Err() == nil {
		s.log.Error("reading the stored entries failed; trying again at the next poll or refresh", "err", err)
	}
}

// takeDue marks the entries due at now as busy and returns them, with the
// earliest time another entry falls due (zero if none does).
func (s *Scheduler) takeDue(now time.Time) (due []delivery, next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.entries {
		switch {
		case p.busy:
		case p.try.After(now):
			if next.IsZero() || p.try.Before(next) {
				next = p.try
			}
		case s.handlers[p.entry.Kind] == nil:
			// Kept in the store: a later start may have the plugin
			// that handles this kind.
			s.log.Warn("no handler for entry kind; leaving it until the next start", "id", id, "kind", p.entry.Kind)
			delete(s.entries, id)
		default:
			p.busy = true
			due = append(due, delivery{p: p, fn: s.handlers[p.entry.Kind]})
		}
	}
	return due, next
}

// deliver runs one entry's handler, then removes the entry or schedules a
// retry.
func (s *Scheduler) deliver(ctx context.Context, d delivery) {
	e := d.p.entry
	// A handler that modifies the payload must not change what a retry
	// sees.
	e.Payload = bytes.Clone(e.Payload)
	if !s.leads(ctx) {
		s.mu.Lock()
		d.p.busy = false
		s.mu.Unlock()
		return
	}
	err := d.fn(ctx, e, d.p.late)
	if err == nil {
		// Delivered: remove it even if shutdown has begun.
		if err := s.st.Delete(context.WithoutCancel(ctx), entryPrefix+e.ID); err != nil {
			s.log.Error("removing delivered entry failed; it will be delivered again on the next start", "id", e.ID, "err", err)
		}
		s.mu.Lock()
		delete(s.entries, e.ID)
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	d.p.busy = false
	if ctx.Err() != nil {
		// Cut short by shutdown: deliver it again on the next Run.
		s.mu.Unlock()
		return
	}
	d.p.failures++
	failures := d.p.failures
	wait := s.backoff(failures)
	d.p.try = s.now().Add(wait)
	s.mu.Unlock()
	s.log.Error("entry handler failed", "id", e.ID, "kind", e.Kind, "failures", failures, "retry_in", wait, "err", err)
	s.nudge()
}

// backoff returns the wait after the given number of consecutive failures:
// RetryMin, doubling up to RetryMax.
func (s *Scheduler) backoff(failures int) time.Duration {
	wait := s.retryMin
	for i := 1; i < failures && wait < s.retryMax; i++ {
		wait *= 2
	}
	return min(wait, s.retryMax)
}
