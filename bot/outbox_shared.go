package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/seipbot/seipbot/store"
)

// Standby is an adapter that is connected on only one replica at a time,
// such as IRC, where the bot may hold one nick: Present reports whether it
// is connected here now. The outbox takes shared durable items for such an
// adapter only while it is present, so none waits on a replica that cannot
// deliver it.
type Standby interface {
	Present() bool
}

// maxTaken bounds the shared items one replica holds undelivered for one
// adapter: past it, the replica leaves the rest in the queue for the
// others (its connection may be the one that is down).
const maxTaken = 256

// takeWait is how long one Take waits for an item; it also bounds how late
// the outbox notices it was stopped, and when it next keeps what it holds.
const takeWait = time.Second

// queueFor returns the shared queue of adapter.
func (o *Outbox) queueFor(adapter string) WorkQueue {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.shared(adapter)
}

// enqueueShared puts items on their adapters' shared queues, then stores
// records: an item is delivered by whichever replica takes it, this one
// included.
func (o *Outbox) enqueueShared(ctx context.Context, items []*outItem, records []store.Entry) error {
	for _, it := range items {
		o.mu.Lock()
		if it.Response.Adapter == "" {
			it.Response.Adapter = o.first
		}
		_, known := o.adapters[it.Response.Adapter]
		o.mu.Unlock()
		if !known {
			// As for an item in the store: given up on, with a log line,
			// rather than left in a queue no replica reads.
			o.log.Error("outbox: giving up on a response", "adapter", it.Response.Adapter, "room", it.Response.Room, "err", fmt.Sprintf("no adapter named %q", it.Response.Adapter))
			continue
		}
		b, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("outbox: encode: %w", err)
		}
		if err := o.queueFor(it.Response.Adapter).Enqueue(ctx, it.ID, b); err != nil {
			return fmt.Errorf("outbox: queue: %w", err)
		}
	}
	if len(records) == 0 {
		return nil
	}
	if err := store.PutAll(ctx, o.st, records); err != nil {
		return fmt.Errorf("outbox: store: %w", err)
	}
	return nil
}

// moveStored moves the durable items kept in the store onto their
// adapters' shared queues and removes them from the store. They are there
// when the bot ran without shared queues before (a single replica, or a
// version that kept them in the store). An item goes on its queue under
// its own id, so it is queued once however many replicas move it at once,
// or again after a crash between queueing and removing it. While the
// store or a queue cannot be reached it retries with backoff.
func (o *Outbox) moveStored(ctx context.Context) {
	delay := o.backoff.Min
	for {
		items, err := o.loadStored(ctx)
		for _, it := range items {
			if err != nil {
				break
			}
			if err = o.enqueueShared(ctx, []*outItem{it}, nil); err == nil {
				err = o.st.Delete(ctx, outboxPrefix+it.ID)
			}
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		o.log.Warn("outbox: moving stored responses to the shared queue failed, will retry", "retry_in", delay, "err", err)
		if !Sleep(ctx, delay) {
			return
		}
		delay = min(delay*2, o.backoff.Max)
	}
}

// take takes items from each adapter's shared queue until ctx ends.
func (o *Outbox) take(ctx context.Context) {
	o.mu.Lock()
	adapters := slices.Collect(maps.Values(o.adapters))
	o.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range adapters {
		wg.Go(func() { o.takeFor(ctx, a) })
	}
	wg.Wait()
}

// takeFor moves items from a's shared queue into the room queues until ctx
// ends, while a is present here, and keeps telling the queue it still
// holds the ones not yet delivered, so that no other replica takes them
// over while this one is alive. While the queue cannot be reached it
// retries with backoff.
func (o *Outbox) takeFor(ctx context.Context, a Adapter) {
	name := a.Name()
	q := o.queueFor(name)
	sb, _ := a.(Standby)
	delay := o.backoff.Min
	kept := time.Now()
	for ctx.Err() == nil {
		if time.Since(kept) >= o.keepEvery {
			o.keep(ctx, name, q)
			kept = time.Now()
		}
		o.mu.Lock()
		room := maxTaken - len(o.taken[name])
		o.mu.Unlock()
		if room <= 0 || (sb != nil && !sb.Present()) {
			if !Sleep(ctx, min(takeWait, o.keepEvery)) {
				return
			}
			continue
		}
		// Waiting no longer than keepEvery keeps the keeping on time.
		got, err := q.Take(ctx, min(room, 64), min(takeWait, o.keepEvery))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			o.log.Warn("outbox: taking from the shared queue failed, will retry", "adapter", name, "retry_in", delay, "err", err)
			if !Sleep(ctx, delay) {
				return
			}
			delay = min(delay*2, o.backoff.Max)
			continue
		}
		delay = o.backoff.Min
		for _, t := range got {
			it := &outItem{durable: true, q: q, qid: t.ID}
			if err := json.Unmarshal(t.Payload, it); err != nil {
				o.log.Error("outbox: dropping an unreadable shared item", "adapter", name, "id", t.ID, "err", err)
				o.forget(context.WithoutCancel(ctx), it)
				continue
			}
			it.Response.Adapter = name
			o.mu.Lock()
			held := o.taken[name][t.ID]
			if o.taken[name] == nil {
				o.taken[name] = map[string]bool{}
			}
			o.taken[name][t.ID] = true
			o.mu.Unlock()
			if held {
				continue // this replica's own, taken back from the queue
			}
			if t.Reclaimed {
				o.log.Info("outbox: delivering a response another replica took but did not deliver", "adapter", name, "id", it.ID)
			}
			o.enqueue(it)
		}
	}
}

// keep tells q this replica still holds the items it took from it.
func (o *Outbox) keep(ctx context.Context, adapter string, q WorkQueue) {
	o.mu.Lock()
	ids := slices.Collect(maps.Keys(o.taken[adapter]))
	o.mu.Unlock()
	if err := q.Keep(ctx, ids); err != nil && ctx.Err() == nil {
		o.log.Warn("outbox: keeping the taken items failed; another replica may deliver them too", "adapter", adapter, "items", len(ids), "err", err)
	}
}
