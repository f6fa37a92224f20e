package storetest

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/seipbot/seipbot/store"
)

// Counter is a store.Store and store.Batcher that counts the Puts and
// PutBatches reaching the store it wraps, for tests of how many writes (in
// a store that syncs, commits) a piece of work costs. It hands a PutBatch
// on through store.PutAll.
type Counter struct {
	store.Store
	puts, batches atomic.Int64
}

// Put counts and forwards a Put.
func (c *Counter) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, value, ttl)
}

// PutBatch counts and forwards a PutBatch.
func (c *Counter) PutBatch(ctx context.Context, entries []store.Entry) error {
	c.batches.Add(1)
	return store.PutAll(ctx, c.Store, entries)
}

// Writes returns how many Puts and PutBatches the store was asked for.
func (c *Counter) Writes() (puts, batches int64) {
	return c.puts.Load(), c.batches.Load()
}
