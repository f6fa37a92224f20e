package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/seipbot/seipbot/store"
)

// maxTaken bounds the shared items one replica holds undelivered: past it,
// the replica leaves the rest in the queue for the others (its adapter may
// be the one that is down).
const maxTaken = 256

// takeWait is how long one Take waits for an item; it also bounds how late
// the outbox notices it was stopped, and when it next keeps what it holds.
const takeWait = time.Second

// enqueueShared puts items on the shared queue, then stores records: an
// item is delivered by whichever replica takes it, this one included.
func (o *Outbox) enqueueShared(ctx context.Context, items []*outItem, records []store.Entry) error {
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("outbox: encode: %w", err)
		}
		if _, err := o.shared.Enqueue(ctx, b); err != nil {
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

// take moves items from the shared queue into the room queues until ctx
// ends, and keeps telling the queue it still holds the ones not yet
// delivered, so that no other replica takes them over while this one is
// alive. While the queue cannot be reached it retries with backoff.
func (o *Outbox) take(ctx context.Context) {
	delay := o.backoff.Min
	kept := time.Now()
	for ctx.Err() == nil {
		if time.Since(kept) >= o.keepEvery {
			o.keep(ctx)
			kept = time.Now()
		}
		o.mu.Lock()
		room := maxTaken - len(o.taken)
		o.mu.Unlock()
		if room <= 0 {
			if !Sleep(ctx, takeWait) {
				return
			}
			continue
		}
		got, err := o.shared.Take(ctx, min(room, 64), takeWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			o.log.Warn("outbox: taking from the shared queue failed, will retry", "retry_in", delay, "err", err)
			if !Sleep(ctx, delay) {
				return
			}
			delay = min(delay*2, o.backoff.Max)
			continue
		}
		delay = o.backoff.Min
		for _, t := range got {
			it := &outItem{durable: true, qid: t.ID}
			if err := json.Unmarshal(t.Payload, it); err != nil {
				o.log.Error("outbox: dropping an unreadable shared item", "id", t.ID, "err", err)
				o.forget(context.WithoutCancel(ctx), it)
				continue
			}
			o.mu.Lock()
			held := o.taken[t.ID]
			o.taken[t.ID] = true
			o.mu.Unlock()
			if held {
				continue // this replica's own, taken back from the queue
			}
			if t.Reclaimed {
				o.log.Info("outbox: delivering a response another replica took but did not deliver", "id", it.ID)
			}
			o.enqueue(it)
		}
	}
}

// keep tells the shared queue this replica still holds its taken items.
func (o *Outbox) keep(ctx context.Context) {
	o.mu.Lock()
	ids := slices.Collect(maps.Keys(o.taken))
	o.mu.Unlock()
	if err := o.shared.Keep(ctx, ids); err != nil && ctx.Err() == nil {
		o.log.Warn("outbox: keeping the taken items failed; another replica may deliver them too", "items", len(ids), "err", err)
	}
}
