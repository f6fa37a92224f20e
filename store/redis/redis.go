// Package redis keeps seipbot's state in Redis, so that several replicas
// share one store, and makes the connection that the other Redis users
// (claims, the leader lease, the bus, the work queue) share with it.
//
// Every record is a Redis string under the key prefix plus the store key,
// with its TTL kept by Redis itself (PX), so the server's clock decides
// expiry for all replicas alike. Wrap the Store in store/sealed: Redis then
// holds only ciphertext.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/store"
)

var _ store.Store = (*Store)(nil)

// ClientOptions say how to reach Redis.
type ClientOptions struct {
	// URL is redis://host:port/db, or rediss://… for TLS. Its host is the
	// first node of Addrs.
	URL string
	// Addrs are further nodes (host:port): the Sentinels when MasterName is
	// set, otherwise Redis Cluster seed nodes, since more than one address
	// without a master name means a cluster.
	Addrs []string
	// MasterName names the Sentinel-monitored master.
	MasterName string
	// Username and Password authenticate with AUTH (an ACL user when
	// Username is set); they override those in the URL.
	Username, Password string
	// TLS, when set, secures every connection whatever the URL's scheme.
	// An empty ServerName is taken from the URL's host.
	TLS *tls.Config
}

// NewClient returns a universal client for o: a plain, Sentinel or Cluster
// client as o asks. It does no I/O; go-redis dials on first use, and again
// after a dropped connection, by itself.
func NewClient(o ClientOptions) (goredis.UniversalClient, error) {
	po, err := goredis.ParseURL(o.URL)
	if err != nil {
		// The parser's error may quote the URL, password and all.
		return nil, errors.New("redis: the url is not of the form redis://host:port/db or rediss://host:port/db")
	}
	uo := &goredis.UniversalOptions{
		Addrs:      append([]string{po.Addr}, o.Addrs...),
		DB:         po.DB,
		Username:   po.Username,
		Password:   po.Password,
		TLSConfig:  po.TLSConfig,
		MasterName: o.MasterName,
		// go-redis retries a failed dial five times within each of its
		// command retries; one dial per try lets a user hear "storage
		// unavailable" in a fraction of a second rather than two.
		DialerRetries: 1,
	}
	if o.Username != "" {
		uo.Username = o.Username
	}
	if o.Password != "" {
		uo.Password = o.Password
	}
	if o.TLS != nil {
		uo.TLSConfig = o.TLS.Clone()
		if uo.TLSConfig.ServerName == "" {
			uo.TLSConfig.ServerName, _, _ = strings.Cut(po.Addr, ":")
		}
	}
	return goredis.NewUniversalClient(uo), nil
}

// Err turns an error from go-redis into one callers can branch on: the
// context's own error when ctx is done, store.ErrClosed for a closed
// client, and an error wrapping store.ErrUnavailable when Redis cannot
// serve (unreachable, loading, failing over, refusing our credentials).
func Err(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, goredis.ErrClosed):
		return store.ErrClosed
	case unavailable(err):
		return fmt.Errorf("redis: %w: %w", store.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: %w", err)
}

// unavailableReplies start the error replies that mean the server cannot
// serve now, as opposed to a bad command.
var unavailableReplies = []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "NOAUTH", "WRONGPASS", "NOPERM"}

func unavailable(err error) bool {
	var reply goredis.Error
	if !errors.As(err, &reply) {
		// Not a reply from Redis: the connection failed or timed out.
		return true
	}
	for _, p := range unavailableReplies {
		if strings.HasPrefix(reply.Error(), p) {
			return true
		}
	}
	return false
}

// Store is a store.Store in Redis. Make one with New or Open.
type Store struct {
	c      goredis.UniversalClient
	prefix string
	owned  bool // Close closes c
	closed atomic.Bool
}

// New returns a Store keeping its records in c under prefix (for example
// "seipbot:"), so that several bots or tests can share a database. Closing
// the Store does not close c, which its other users may still need.
func New(c goredis.UniversalClient, prefix string) *Store {
	return &Store{c: c, prefix: prefix}
}

// Open returns a Store on a client of its own, which Close closes. The
// client is shared through Client with the Store's other users, which
// must be done with it before the Store is closed.
func Open(o ClientOptions, prefix string) (*Store, error) {
	c, err := NewClient(o)
	if err != nil {
		return nil, err
	}
	return &Store{c: c, prefix: prefix, owned: true}, nil
}

// Client returns the Store's client.
func (s *Store) Client() goredis.UniversalClient { return s.c }

// check returns the error a call fails with before it starts.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	v, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, Err(ctx, err)
	}
	return present(v), nil
}

// present keeps an empty value non-nil, so it is not mistaken for an absent
// one.
func present(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// Put implements store.Store. The TTL is rounded up to whole milliseconds,
// Redis's finest unit, so a record never expires early.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if ttl > 0 {
		ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	}
	return Err(ctx, s.c.Set(ctx, s.prefix+key, value, ttl).Err())
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return Err(ctx, s.c.Del(ctx, s.prefix+key).Err())
}

// scanBatch is how many values Scan fetches in one round trip.
const scanBatch = 256

// Scan implements store.Store. SCAN returns keys in no order, so the keys
// are collected and sorted first, then their values fetched in batches: a
// record deleted or expired in between is skipped.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	keys, err := s.keys(ctx, prefix)
	if err != nil {
		return Err(ctx, err)
	}
	for batch := range slices.Chunk(keys, scanBatch) {
		cmds, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range batch {
				p.Get(ctx, s.prefix+k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			return Err(ctx, err)
		}
		for i, cmd := range cmds {
			v, err := cmd.(*goredis.StringCmd).Bytes()
			if errors.Is(err, goredis.Nil) {
				continue
			}
			if err != nil {
				return Err(ctx, err)
			}
			if err := fn(batch[i], present(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// keys returns the store keys starting with prefix, sorted and without
// repeats (SCAN may return a key twice). A cluster is scanned master by
// master, since each holds only its own slots.
func (s *Store) keys(ctx context.Context, prefix string) ([]string, error) {
	pattern := escapeGlob(s.prefix+prefix) + "*"
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c goredis.Cmdable) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, strings.TrimPrefix(it.Val(), s.prefix))
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := s.c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, s.c)
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// escapeGlob quotes the characters MATCH treats as a pattern, so a prefix
// matches only itself.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Update implements store.Store with optimistic locking: it WATCHes the
// key, reads it, and writes fn's result in MULTI/EXEC, starting over if
// another client changed the key in between. fn may therefore run more than
// once; only its last result is written. SET KEEPTTL keeps a replaced
// record's expiry.
func (s *Store) Update(ctx context.Context, key string, fn func(current []byte) ([]byte, error)) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	k := s.prefix + key
	for {
		var fnErr error
		err := s.c.Watch(ctx, func(tx *goredis.Tx) error {
			cur, err := tx.Get(ctx, k).Bytes()
			switch {
			case errors.Is(err, goredis.Nil):
				cur = nil
			case err != nil:
				return err
			default:
				cur = present(cur)
			}
			next, err := fn(cur)
			if err != nil {
				fnErr = err
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				if next == nil {
					p.Del(ctx, k)
				} else {
					p.Set(ctx, k, next, goredis.KeepTTL)
				}
				return nil
			})
			return err
		}, k)
		switch {
		case fnErr != nil:
			return fnErr
		case errors.Is(err, goredis.TxFailedErr):
			// Someone else wrote first; their write succeeded, so the
			// retries as a whole always make progress.
			continue
		}
		return Err(ctx, err)
	}
}

// Close implements store.Store. It closes the client only if Open made it.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.owned {
		return nil
	}
	return s.c.Close()
}
