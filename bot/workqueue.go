package bot

import (
	"context"
	"time"
)

// WorkQueue is a queue the bot's replicas share (a Redis stream): each
// entry goes to one replica, stays with it until acknowledged, and goes to
// another when the one that took it stops keeping it (it died). The outbox
// puts its durable items on one when the store is shared, so that each is
// delivered by one replica and none waits for a dead replica's restart.
type WorkQueue interface {
	// Enqueue adds payload once the queue has it. A payload enqueued
	// again under the same non-empty key, by any replica, is not added
	// again: two replicas that both believe they lead cannot both send
	// the same reminder.
	Enqueue(ctx context.Context, key string, payload []byte) error
	// Take returns up to n entries for this replica, waiting up to wait for
	// one to come; none and no error when none came.
	Take(ctx context.Context, n int, wait time.Duration) ([]Taken, error)
	// Keep says this replica is still working on the entries ids, so that
	// no other replica takes them over.
	Keep(ctx context.Context, ids []string) error
	// Ack removes the entry id: its work is done.
	Ack(ctx context.Context, id string) error
}

// Taken is an entry a WorkQueue handed to this replica.
type Taken struct {
	ID      string
	Payload []byte
	// Reclaimed is set when another replica took the entry first and
	// stopped keeping it.
	Reclaimed bool
}
