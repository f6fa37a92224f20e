package replica

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/redis"
)

var (
	_ bot.Claimer = (*LocalClaimer)(nil)
	_ bot.Claimer = (*RedisClaimer)(nil)
)

// LocalClaimer is a bot.Claimer within one process. Make one with
// NewLocalClaimer.
type LocalClaimer struct {
	mu    sync.Mutex
	until map[string]time.Time
	// sweepAt is the size at which the next Claim drops expired claims;
	// doubling it after each sweep keeps the cost per claim constant.
	sweepAt int
}

// NewLocalClaimer returns an empty LocalClaimer.
func NewLocalClaimer() *LocalClaimer {
	return &LocalClaimer{until: map[string]time.Time{}, sweepAt: 64}
}

// Claim implements bot.Claimer.
func (c *LocalClaimer) Claim(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.until) >= c.sweepAt {
		for k, t := range c.until {
			if !t.After(now) {
				delete(c.until, k)
			}
		}
		c.sweepAt = max(64, 2*len(c.until))
	}
	if t, ok := c.until[id]; ok && t.After(now) {
		return false, nil
	}
	c.until[id] = now.Add(ttl)
	return true, nil
}

// RedisClaimer is a bot.Claimer shared through Redis: a claim is a key set
// with SET NX PX, so the first replica to set it wins and Redis forgets it
// after the TTL. Claims made at the same time (the bot handles many
// conversations at once) go to Redis together, in one pipelined round
// trip, which costs Redis and the bot a fraction of one trip each.
type RedisClaimer struct {
	c      goredis.UniversalClient
	prefix string
	holder string

	mu       sync.Mutex
	waiting  []*claimReq
	flushing bool // a caller is sending the waiting claims
}

// claimReq is one Claim waiting for its answer.
type claimReq struct {
	key  string
	ttl  time.Duration
	cmd  *goredis.BoolCmd
	done chan struct{}
}

// maxBatch bounds the claims sent in one round trip.
const maxBatch = 256

// batchTimeout bounds one round trip: the batch is not cut short by the
// context of whichever caller happens to send it.
const batchTimeout = 10 * time.Second

// NewRedisClaimer returns a claimer keeping claims under prefix+"claim:",
// each holding holder (the replica's name) to show in redis-cli who has it.
func NewRedisClaimer(c goredis.UniversalClient, prefix, holder string) *RedisClaimer {
	return &RedisClaimer{c: c, prefix: prefix, holder: holder}
}

// Claim implements bot.Claimer. Its errors wrap store.ErrUnavailable when
// Redis cannot be reached. The first caller to find no round trip under
// way sends every claim waiting, batch after batch, until none is left;
// the others wait for their answer.
func (c *RedisClaimer) Claim(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r := &claimReq{key: c.prefix + "claim:" + id, ttl: ttl, done: make(chan struct{})}
	c.mu.Lock()
	c.waiting = append(c.waiting, r)
	send := !c.flushing
	c.flushing = true
	c.mu.Unlock()
	if send {
		c.flush(ctx)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	ok, err := r.cmd.Result()
	return ok, redis.Err(ctx, err)
}

// flush sends the waiting claims until none is left.
func (c *RedisClaimer) flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	for {
		c.mu.Lock()
		batch := c.waiting[:min(len(c.waiting), maxBatch)]
		c.waiting = c.waiting[len(batch):]
		if len(batch) == 0 {
			c.flushing = false
			c.waiting = nil
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		p := c.c.Pipeline()
		for _, r := range batch {
			r.cmd = p.SetNX(ctx, r.key, c.holder, r.ttl)
		}
		// Each command carries its own error (the same one when Redis
		// cannot be reached), which its caller reads.
		_, _ = p.Exec(ctx)
		for _, r := range batch {
			close(r.done)
		}
	}
}
