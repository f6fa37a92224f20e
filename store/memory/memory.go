// Package memory is a store.Store kept in a map, for tests and for a bot run
// without a data directory. Nothing survives the process.
package memory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/store"
)

var (
	_ store.Store   = (*Store)(nil)
	_ store.Batcher = (*Store)(nil)
)

// sweepEvery is the fewest writes between sweeps of expired records. Reads
// only hide expired records, so without sweeps a record with a TTL that
// nobody reads again would stay in memory for good. A sweep walks the whole
// map, so sweeps also wait for as many writes as there are records, which
// keeps their cost per write constant however large the map grows.
const sweepEvery = 1024

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	now func() time.Time

	mu      sync.RWMutex
	records map[string]record // nil once closed
	writes  int               // since the last sweep
}

// record is a stored value and the time it expires; a zero expires means
// never.
type record struct {
	value   []byte
	expires time.Time
}

func (r record) live(now time.Time) bool {
	return r.expires.IsZero() || now.Before(r.expires)
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the current time from now, which decides
// when records expire. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, records: make(map[string]record)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ready reports why an operation may not start: a done context or a closed
// store. The caller holds mu.
func (s *Store) ready(ctx context.Context) error {
	if s.records == nil {
		return store.ErrClosed
	}
	return ctx.Err()
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	r, ok := s.records[key]
	if !ok || !r.live(s.now()) {
		return nil, store.ErrNotFound
	}
	return clone(r.value), nil
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return err
	}
	r := record{value: clone(value)}
	if ttl > 0 {
		r.expires = s.now().Add(ttl)
	}
	s.write(key, r)
	return nil
}

// PutBatch implements store.Batcher: readers see all the entries or none.
func (s *Store) PutBatch(ctx context.Context, entries []store.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return err
	}
	now := s.now()
	for _, e := range entries {
		r := record{value: clone(e.Value)}
		if e.TTL > 0 {
			r.expires = now.Add(e.TTL)
		}
		s.write(e.Key, r)
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return err
	}
	delete(s.records, key)
	return nil
}

// Scan implements store.Store. It holds the read lock while fn runs, so fn
// calling back into the store for a write would deadlock, as store.Store
// warns.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.ready(ctx); err != nil {
		return err
	}
	now := s.now()
	var keys []string
	for k, r := range s.records {
		if strings.HasPrefix(k, prefix) && r.live(now) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(k, clone(s.records[k].value)); err != nil {
			return err
		}
	}
	return nil
}

// Update implements store.Store. fn runs under the write lock, which is what
// makes the read-modify-write atomic.
func (s *Store) Update(ctx context.Context, key string, fn func(current []byte) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return err
	}
	r, ok := s.records[key]
	if ok && !r.live(s.now()) {
		ok = false
		r = record{}
	}
	var current []byte
	if ok {
		current = clone(r.value)
	}
	next, err := fn(current)
	if err != nil {
		return err
	}
	if next == nil {
		delete(s.records, key)
		return nil
	}
	r.value = clone(next)
	s.write(key, r)
	return nil
}

// write stores r under key and sweeps expired records now and then. The
// caller holds the write lock.
func (s *Store) write(key string, r record) {
	s.records[key] = r
	s.writes++
	if s.writes < sweepEvery || s.writes < len(s.records) {
		return
	}
	s.writes = 0
	now := s.now()
	for k, r := range s.records {
		if !r.live(now) {
			delete(s.records, k)
		}
	}
}

// Close implements store.Store. It drops every record.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = nil
	return nil
}

// clone copies b so that callers and the store never share memory. Unlike
// bytes.Clone it keeps an empty value non-nil, since nil means "absent" to
// Update.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
