// Package bolt is the embedded store.Store: one bbolt file in the data
// directory, written with fsync so that an acknowledged write survives a
// crash or kill -9.
//
// Writers share commits: Puts, Deletes and PutBatches that arrive while a
// commit is on its way to the disk all go in the next one, which starts as
// soon as it is done (a group commit). bbolt's own Batch was not enough:
// it closes a batch after a fixed delay, not when the disk is free, so
// under load the writers split into many small batches queued one behind
// the other, each paying a commit.
//
// Each store bucket (see store.SplitKey) is a bbolt bucket holding records
// under their full key, so "x" and "default/x" stay apart and a Scan can
// merge buckets in key order. A record is an 8-byte big-endian expiry in
// Unix nanoseconds (0 for none) followed by the value. Expired records are
// hidden at once and removed by a sweep on Open and then periodically.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/seipbot/seipbot/store"
)

var (
	_ store.Store   = (*Store)(nil)
	_ store.Batcher = (*Store)(nil)
)

// ErrLocked is returned by Open when another process holds the file.
var ErrLocked = errors.New("bolt: data file is locked by another process")

// headerLen is the size of the expiry in front of every value.
const headerLen = 8

// Options configures Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file before it fails with ErrLocked. Default 1s.
	LockTimeout time.Duration
	// SweepInterval is the time between sweeps of expired records after
	// the one Open does. Default 10 minutes; negative turns periodic
	// sweeps off.
	SweepInterval time.Duration
	// Now is the clock that decides expiry. Default time.Now.
	Now func() time.Time
	// Logger receives errors of the periodic sweep, which has no caller
	// to return them to. Default slog.Default().
	Logger *slog.Logger
}

// Store is a store.Store in one bbolt file. Make one with Open.
type Store struct {
	db     *bbolt.DB
	now    func() time.Time
	logger *slog.Logger

	// queue holds the writes waiting for the next commit; committing is
	// true while some writer leads one (see write).
	queueMu    sync.Mutex
	queue      []*pending
	committing bool

	closeOnce sync.Once
	closeErr  error
	stop      chan struct{} // closed by Close to end the sweeper
	swept     sync.WaitGroup
}

// Open opens or creates the store file at path with mode 0600, sweeps
// expired records, and starts the periodic sweep that Close stops.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: %s is in use by another seipbot (still locked after %v); stop it or give this one its own data directory: %w",
			path, opts.LockTimeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	// The mode above applies only when the file is created; a file made
	// by hand or restored from a backup may be readable by others.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: restrict %s to its owner: %w", path, err)
	}
	s := &Store{db: db, now: opts.Now, logger: opts.Logger, stop: make(chan struct{})}
	if err := s.sweep(); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if opts.SweepInterval > 0 {
		s.swept.Go(func() { s.sweepEvery(opts.SweepInterval) })
	}
	return s, nil
}

// pending is a write waiting for its commit. done receives the write's
// result, or errLead when its writer is to lead the next commit.
type pending struct {
	apply func(tx *bbolt.Tx) error
	done  chan error
}

var errLead = errors.New("bolt: lead the next commit")

// write applies apply in a transaction it shares with the other writes
// queued by then, and returns once that is committed. The writer that
// finds no commit under way leads: it commits everything queued, its own
// write included, then hands the lead to the first writer that queued
// meanwhile, so each writer waits for at most the commit in progress and
// its own, and never commits for others after its write is done.
func (s *Store) write(apply func(tx *bbolt.Tx) error) error {
	w := &pending{apply: apply, done: make(chan error, 1)}
	s.queueMu.Lock()
	s.queue = append(s.queue, w)
	lead := !s.committing
	s.committing = true
	s.queueMu.Unlock()
	if !lead {
		if err := <-w.done; err != errLead {
			return closedErr(err)
		}
	}
	s.queueMu.Lock()
	group := s.queue
	s.queue = nil
	s.queueMu.Unlock()
	s.commit(group)
	s.queueMu.Lock()
	if len(s.queue) > 0 {
		s.queue[0].done <- errLead
	} else {
		s.committing = false
	}
	s.queueMu.Unlock()
	return closedErr(<-w.done)
}

// commit applies group in one transaction and tells each write its
// result. A write whose apply fails gets that error and the transaction
// is run again without it, so it leaves nothing behind and the others are
// not failed for it.
func (s *Store) commit(group []*pending) {
	for len(group) > 0 {
		failed := -1
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i, w := range group {
				if err := w.apply(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, w := range group {
				w.done <- err
			}
			return
		}
		group[failed].done <- err
		group = append(group[:failed], group[failed+1:]...)
	}
}

// ready reports why an operation may not start.
func (s *Store) ready(ctx context.Context) error {
	select {
	case <-s.stop:
		return store.ErrClosed
	default:
		return ctx.Err()
	}
}

// closedErr turns bbolt's error for a closed database, which an operation
// racing with Close can see, into store.ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// bucketOf returns the bbolt bucket name for key, refusing the keys
// store.Store rules out because bbolt cannot hold them.
func bucketOf(key string) ([]byte, error) {
	bucket, _ := store.SplitKey(key)
	if bucket == "" {
		return nil, fmt.Errorf("bolt: key %q has no bucket name before its slash", key)
	}
	return []byte(bucket), nil
}

// decode splits a stored record into its expiry and value, reporting whether
// it is live at now.
func decode(key, raw []byte, now time.Time) (value []byte, expires uint64, live bool, err error) {
	if len(raw) < headerLen {
		return nil, 0, false, fmt.Errorf("bolt: record %q is shorter than its header; the file is damaged", key)
	}
	expires = binary.BigEndian.Uint64(raw)
	live = expires == 0 || uint64(now.UnixNano()) < expires
	return raw[headerLen:], expires, live, nil
}

// encode frames value with its expiry in a new slice, which bbolt may keep
// until the transaction commits.
func encode(value []byte, expires uint64) []byte {
	raw := make([]byte, headerLen, headerLen+len(value))
	binary.BigEndian.PutUint64(raw, expires)
	return append(raw, value...)
}

// clone copies a value out of bbolt's memory map, which is read-only and
// valid only inside the transaction. It keeps an empty value non-nil, since
// nil means "absent" to Update.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	name, err := bucketOf(key)
	if err != nil {
		return nil, err
	}
	var value []byte
	err = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(name)
		if b == nil {
			return store.ErrNotFound
		}
		raw := b.Get([]byte(key))
		if raw == nil {
			return store.ErrNotFound
		}
		v, _, live, err := decode([]byte(key), raw, s.now())
		if err != nil {
			return err
		}
		if !live {
			return store.ErrNotFound
		}
		value = clone(v)
		return nil
	})
	return value, closedErr(err)
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	name, err := bucketOf(key)
	if err != nil {
		return err
	}
	var expires uint64
	if ttl > 0 {
		expires = uint64(s.now().Add(ttl).UnixNano())
	}
	raw := encode(value, expires)
	// A commit may run this more than once; it only ever sets the same
	// record.
	return s.write(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), raw)
	})
}

// PutBatch implements store.Batcher: the entries go in one commit.
func (s *Store) PutBatch(ctx context.Context, entries []store.Entry) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	type record struct {
		bucket, key, raw []byte
	}
	records := make([]record, len(entries))
	now := s.now()
	for i, e := range entries {
		name, err := bucketOf(e.Key)
		if err != nil {
			return err
		}
		var expires uint64
		if e.TTL > 0 {
			expires = uint64(now.Add(e.TTL).UnixNano())
		}
		records[i] = record{name, []byte(e.Key), encode(e.Value, expires)}
	}
	// As in Put, a rerun of this function sets the same records again;
	// should one fail, commit runs the transaction again without any.
	return s.write(func(tx *bbolt.Tx) error {
		for _, r := range records {
			b, err := tx.CreateBucketIfNotExists(r.bucket)
			if err != nil {
				return err
			}
			if err := b.Put(r.key, r.raw); err != nil {
				return err
			}
		}
		return nil
	})
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	name, err := bucketOf(key)
	if err != nil {
		return err
	}
	return s.write(func(tx *bbolt.Tx) error {
		b := tx.Bucket(name)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// Update implements store.Store. It runs fn in its own write transaction,
// not in a shared commit, because a commit may apply a write again and fn
// is the caller's.
func (s *Store) Update(ctx context.Context, key string, fn func(current []byte) ([]byte, error)) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	name, err := bucketOf(key)
	if err != nil {
		return err
	}
	return closedErr(s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return err
		}
		var current []byte
		var expires uint64
		if raw := b.Get([]byte(key)); raw != nil {
			v, exp, live, err := decode([]byte(key), raw, s.now())
			if err != nil {
				return err
			}
			if live {
				current, expires = clone(v), exp
			}
		}
		next, err := fn(current)
		if err != nil {
			return err
		}
		if next == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), encode(next, expires))
	}))
}

// Scan implements store.Store. Keys under prefix can sit in several
// buckets ("a" matches "a/x", "a-b/y" and "ab/z"), so Scan walks every
// bucket that may hold one and merges them in key order.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	now := s.now()
	return closedErr(s.db.View(func(tx *bbolt.Tx) error {
		heads := openHeads(tx, []byte(prefix))
		for {
			next := -1
			for i, h := range heads {
				if h.key != nil && (next < 0 || bytes.Compare(h.key, heads[next].key) < 0) {
					next = i
				}
			}
			if next < 0 {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			h := heads[next]
			v, _, live, err := decode(h.key, h.raw, now)
			if err != nil {
				return err
			}
			if live {
				if err := fn(string(h.key), clone(v)); err != nil {
					return err
				}
			}
			h.advance()
		}
	}))
}

// head is a cursor over the keys under a prefix in one bucket, positioned
// at its next record; key is nil once it has run out.
type head struct {
	c        *bbolt.Cursor
	prefix   []byte
	key, raw []byte
}

func (h *head) advance() { h.set(h.c.Next()) }

func (h *head) set(k, v []byte) {
	h.key, h.raw = k, v
	if k != nil && !bytes.HasPrefix(k, h.prefix) {
		h.key, h.raw = nil, nil
	}
}

// openHeads returns a head at the first key under prefix in each bucket
// that may hold such keys: with a slash in prefix, only the bucket before
// it; without one, every bucket whose name starts with prefix, and
// "default", where keys without a slash live.
func openHeads(tx *bbolt.Tx, prefix []byte) []*head {
	var names [][]byte
	if i := bytes.IndexByte(prefix, '/'); i >= 0 {
		names = append(names, prefix[:i])
	} else {
		c := tx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			names = append(names, k)
		}
		if !strings.HasPrefix("default", string(prefix)) {
			names = append(names, []byte("default"))
		}
	}
	var heads []*head
	for _, name := range names {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		h := &head{c: b.Cursor(), prefix: prefix}
		h.set(h.c.Seek(prefix))
		heads = append(heads, h)
	}
	return heads
}

// sweep deletes every expired record.
func (s *Store) sweep() error {
	now := s.now()
	return s.db.Update(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			var expired [][]byte
			err := b.ForEach(func(k, raw []byte) error {
				_, _, live, err := decode(k, raw, now)
				if err == nil && !live {
					expired = append(expired, k)
				}
				return err
			})
			if err != nil {
				return err
			}
			for _, k := range expired {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// sweepEvery sweeps at each interval until Close.
func (s *Store) sweepEvery(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.sweep(); err != nil {
				s.logger.Error("bolt: sweeping expired records failed", "err", err)
			}
		}
	}
}

// Close implements store.Store: it stops the sweeper and closes the file,
// waiting for operations in flight.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.swept.Wait()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}
