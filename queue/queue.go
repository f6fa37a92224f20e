// Package queue is a work queue on a Redis stream with a consumer group, a
// bot.WorkQueue: deliveries, and jobs, that must be finished even if the
// replica that took them dies. Each entry goes to one consumer (Take), or
// is held from the start by the one that made it for work it does itself
// (Hold), and stays pending until acknowledged; a consumer still working
// on an entry says so with Keep, and an entry left pending longer than
// MinIdle without that (its consumer died or hung) is taken over by the
// next consumer that asks (XAUTOCLAIM). Delivery is therefore at least
// once: work must be safe to do again.
package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/bot"
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
	// MinIdle is how long an entry may stay pending with its consumer,
	// without a Keep, before another takes it over. Default 1m.
	MinIdle time.Duration
	// OnceFor is how long Enqueue remembers a key, so that the same key
	// is not added again. Default 24h.
	OnceFor time.Duration
	// Keyring seals payloads, so the stream holds no plaintext.
	Keyring *sealed.Keyring
	Logger  *slog.Logger
}

var _ bot.WorkQueue = (*Queue)(nil)

// Queue is one replica's handle on a work queue. Make it with New.
type Queue struct {
	c      goredis.UniversalClient
	stream string
	once   string // prefix of the keys Enqueue remembers
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
	if o.OnceFor <= 0 {
		o.OnceFor = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// The braces make the stream and its keys one hash slot, so a script
	// may touch them together in Redis Cluster.
	stream := prefix + "queue:{" + o.Name + "}"
	return &Queue{c: c, stream: stream, once: stream + ":once:", o: o}
}

// payloadField is the stream entry's one field.
const payloadField = "p"

// enqueueOnce adds an entry to the stream KEYS[1] with the field ARGV[3]
// set to ARGV[1], unless the key KEYS[2] is set, and sets that key for
// ARGV[2] ms, in one step: the entry and the memory of its key are written
// together or not at all.
var enqueueOnce = goredis.NewScript(`
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
	return redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[1])
end
return false
`)

// Enqueue adds payload as an entry once Redis has it; with a non-empty
// key, only if no entry was added under key within OnceFor.
func (q *Queue) Enqueue(ctx context.Context, key string, payload []byte) error {
	sealed := q.o.Keyring.Seal(payload, []byte(q.stream))
	var err error
	if key == "" {
		err = q.c.XAdd(ctx, &goredis.XAddArgs{Stream: q.stream, Values: []any{payloadField, sealed}}).Err()
	} else {
		err = enqueueOnce.Run(ctx, q.c, []string{q.stream, q.once + key}, sealed, q.o.OnceFor.Milliseconds(), payloadField).Err()
		if errors.Is(err, goredis.Nil) {
			err = nil // added before
		}
	}
	return redis.Err(ctx, err)
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

// Take returns up to n entries for this consumer: first those left
// pending by others for MinIdle, then new ones, waiting up to block for
// one to come (keep block short: a cancelled ctx may not cut the wait).
// It returns none and no error when none came. Call Ack for each entry
// once it is done, and Keep while it takes long.
func (q *Queue) Take(ctx context.Context, n int, block time.Duration) ([]bot.Taken, error) {
	if got, err := q.Reclaim(ctx, n); err != nil || len(got) > 0 {
		return got, err
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
	var jobs []bot.Taken
	for _, s := range streams {
		jobs = append(jobs, q.jobs(ctx, s.Messages, false)...)
	}
	return jobs, nil
}

// jobs opens the payloads of msgs. An entry that does not open was not
// written by a holder of the key, or was altered: it is logged and
// acknowledged, since handing it out again could never succeed.
func (q *Queue) jobs(ctx context.Context, msgs []goredis.XMessage, reclaimed bool) []bot.Taken {
	var jobs []bot.Taken
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
		jobs = append(jobs, bot.Taken{ID: m.ID, Payload: payload, Reclaimed: reclaimed})
	}
	return jobs
}

// holdScript adds an entry to the stream KEYS[1] with the field ARGV[3]
// set to ARGV[1] and puts it straight into the pending list of consumer
// ARGV[2] of group ARGV[4], in one step: the entry is held from the start
// by the replica that made it, and no consumer reading new entries gets
// it.
var holdScript = goredis.NewScript(`
local id = redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[1])
redis.call('XGROUP', 'SETID', KEYS[1], ARGV[4], id)
redis.call('XCLAIM', KEYS[1], ARGV[4], ARGV[2], 0, id, 'FORCE', 'JUSTID')
return id
`)

// Hold adds payload as an entry that this consumer holds from the start,
// for work it does itself (a job it runs): Keep it while working, Ack it
// when done. If this consumer stops keeping it, Reclaim on another hands
// it over.
func (q *Queue) Hold(ctx context.Context, payload []byte) (string, error) {
	if err := q.group(ctx); err != nil {
		return "", err
	}
	id, err := holdScript.Run(ctx, q.c, []string{q.stream},
		q.o.Keyring.Seal(payload, []byte(q.stream)), q.o.Consumer, payloadField, q.o.Group).Text()
	return id, redis.Err(ctx, err)
}

// Reclaim returns up to n entries that other consumers held without a
// Keep for MinIdle, now held by this one; none when there are none.
func (q *Queue) Reclaim(ctx context.Context, n int) ([]bot.Taken, error) {
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
	return q.jobs(ctx, msgs, true), nil
}

// Keep resets the idle time of the entries ids, which this consumer holds,
// so that no other consumer takes them over while it works on them.
func (q *Queue) Keep(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := q.c.XClaimJustID(ctx, &goredis.XClaimArgs{
		Stream: q.stream, Group: q.o.Group, Consumer: q.o.Consumer, Messages: ids,
	}).Err()
	return redis.Err(ctx, err)
}

// Ack marks the entry with id done and removes it from the stream.
func (q *Queue) Ack(ctx context.Context, id string) error {
	_, err := q.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAck(ctx, q.stream, q.o.Group, id)
		p.XDel(ctx, q.stream, id)
		return nil
	})
	return redis.Err(ctx, err)
}
