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
// after the TTL.
type RedisClaimer struct {
	c      goredis.UniversalClient
	prefix string
	holder string
}

// NewRedisClaimer returns a claimer keeping claims under prefix+"claim:",
// each holding holder (the replica's name) to show in redis-cli who has it.
func NewRedisClaimer(c goredis.UniversalClient, prefix, holder string) *RedisClaimer {
	return &RedisClaimer{c: c, prefix: prefix, holder: holder}
}

// Claim implements bot.Claimer. Its errors wrap store.ErrUnavailable when
// Redis cannot be reached.
func (c *RedisClaimer) Claim(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	ok, err := c.c.SetNX(ctx, c.prefix+"claim:"+id, c.holder, ttl).Result()
	return ok, redis.Err(ctx, err)
}
