// Package queue is a work queue on a Redis stream with a consumer group:
// long jobs and deliveries that must be finished even if the replica that
// took them dies. Each entry goes to one consumer and stays pending until
// acknowledged; an entry left pending longer than MinIdle (its consumer
// died or hung) is taken over by the next consumer that asks (XAUTOCLAIM).
// Delivery is therefore at least once: a job must be safe to run again.
package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/store/redis"
	"github.com/seipbot/seipbot/store/sealed"
)

// Options configure a Queue.
type Options struct {
	// Name names the queue, such as "jobs"; its stream is prefix+"queue:"+Name.
	Name string
	// Group is the consumer group; replicas of one bot share it. Default
	// "seipbot".
	Group string
	// Consumer names this replica within the group; it must differ
	// between replicas.
	Consumer string
	// MinIdle is how long an entry may stay pending with its consumer
	// before another takes it over: longer than a job takes. Default 1m.
	MinIdle time.Duration
	// Keyring seals payloads, so the stream holds no plaintext.
	Keyring *sealed.Keyring
	Logger  *slog.Logger
}

// Job is one entry handed to a consumer.
type Job struct {
	ID      string
	Payload []byte
	// Reclaimed is set when the job was taken over from a consumer that
	// did not acknowledge it in time.
	Reclaimed bool
}

// Queue is one replica's handle on a work queue. Make it with New.
type Queue struct {
	c      goredis.UniversalClient
	stream string
	o      Options

	mu      sync.Mutex
	created bool // the group exists
}

// New returns a Queue over c with its stream under prefix. It does no I/O.
func New(c goredis.UniversalClient, prefix string, o Options) *Queue {
	if o.Group == "" {
		o.Group = "seipbot"
	}
	if o.MinIdle <= 0 {
		o.MinIdle = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{c: c, stream: prefix + "queue:" + o.Name, o: o}
}

// payloadField is the stream entry's one field.
const payloadField = "p"

// Enqueue adds a job and returns its id once Redis has it.
func (q *Queue) Enqueue(ctx context.Context, payload []byte) (string, error) {
	id, err := q.c.XAdd(ctx, &goredis.XAddArgs{
		Stream: q.stream,
		Values: []any{payloadField, q.o.Keyring.Seal(payload, []byte(q.stream))},
	}).Result()
	return id, redis.Err(ctx, err)
}

// group creates the consumer group once. It reads from the stream's start,
// so jobs enqueued before any consumer existed are not skipped.
func (q *Queue) group(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.created {
		return nil
	}
	err := q.c.XGroupCreateMkStream(ctx, q.stream, q.o.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return redis.Err(ctx, err)
	}
	q.created = true
	return nil
}

// Consume returns up to n jobs for this consumer: first those left
// pending by others for MinIdle, then new ones, waiting up to block for
// one to come (keep block short: a cancelled ctx may not cut the wait).
// It returns no jobs and no error when none came. Call Ack for each job
// once it is done.
func (q *Queue) Consume(ctx context.Context, n int, block time.Duration) ([]Job, error) {
	if err := q.group(ctx); err != nil {
		return nil, err
	}
	msgs, _, err := q.c.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
		Stream: q.stream, Group: q.o.Group, Consumer: q.o.Consumer,
		MinIdle: q.o.MinIdle, Start: "0", Count: int64(n),
	}).Result()
	if err != nil {
		return nil, redis.Err(ctx, err)
	}
	if len(msgs) > 0 {
		return q.jobs(ctx, msgs, true), nil
	}
	streams, err := q.c.XReadGroup(ctx, &goredis.XReadGroupArgs{
		Group: q.o.Group, Consumer: q.o.Consumer, Streams: []string{q.stream, ">"},
		Count: int64(n), Block: block,
	}).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, redis.Err(ctx, err)
	}
	var jobs []Job
	for _, s := range streams {
		jobs = append(jobs, q.jobs(ctx, s.Messages, false)...)
	}
	return jobs, nil
}

// jobs opens the payloads of msgs. An entry that does not open was not
// written by a holder of the key, or was altered: it is logged and
// acknowledged, since handing it out again could never succeed.
func (q *Queue) jobs(ctx context.Context, msgs []goredis.XMessage, reclaimed bool) []Job {
	var jobs []Job
	for _, m := range msgs {
		raw, _ := m.Values[payloadField].(string)
		payload, err := q.o.Keyring.Open([]byte(raw), []byte(q.stream))
		if err != nil {
			q.o.Logger.Error("dropping a queue entry that failed to open", "queue", q.o.Name, "id", m.ID, "err", err)
			if err := q.Ack(ctx, m.ID); err != nil {
				q.o.Logger.Error("acknowledging a dropped entry failed", "queue", q.o.Name, "id", m.ID, "err", err)
			}
			continue
		}
		jobs = append(jobs, Job{ID: m.ID, Payload: payload, Reclaimed: reclaimed})
	}
	return jobs
}

// Ack marks the job with id done and removes it from the stream.
func (q *Queue) Ack(ctx context.Context, id string) error {
	_, err := q.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAck(ctx, q.stream, q.o.Group, id)
		p.XDel(ctx, q.stream, id)
		return nil
	})
	return redis.Err(ctx, err)
}
