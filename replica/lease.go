package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/store/redis"
)

// ErrNotLeader is wrapped by Check's error when this replica does not hold
// the lease, or holds a term that has since ended.
var ErrNotLeader = errors.New("replica: not the leader")

// LeaseOptions configure a Lease.
type LeaseOptions struct {
	// Name says what is led, such as "scheduler"; each name is a separate
	// lease.
	Name string
	// Holder names this replica; it must differ between replicas.
	Holder string
	// TTL is how long the lease outlives its holder's last renewal: a new
	// leader takes over within about TTL after the old one dies. Default
	// 10s.
	TTL    time.Duration
	Logger *slog.Logger
}

// Lease elects one leader among replicas through Redis. The lease is a key
// set with NX and a TTL, renewed by its holder; each term also takes a
// fencing token from a counter that only grows, so work checked against
// the token (Check) is refused to a leader whose term has ended, even one
// that has not noticed yet (a paused process, a partition).
type Lease struct {
	c      goredis.UniversalClient
	key    string
	epoch  string
	holder string
	ttl    time.Duration
	log    *slog.Logger

	mu    sync.Mutex
	token uint64 // 0 when not leading
}

// NewLease returns a Lease kept under prefix. It does no I/O; Run does.
func NewLease(c goredis.UniversalClient, prefix string, o LeaseOptions) *Lease {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// The braces make both keys one hash tag, so they share a Redis
	// Cluster slot, which the scripts touching both need.
	key := prefix + "lease:{" + o.Name + "}"
	return &Lease{c: c, key: key, epoch: key + ":epoch", holder: o.Holder, ttl: o.TTL, log: o.Logger.With("lease", o.Name)}
}

// acquireScript takes the lease if it is free, with the next token.
var acquireScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '/' .. token, 'PX', ARGV[2])
return token`)

// renewScript extends the lease if this term still holds it.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

// releaseScript frees the lease if this term still holds it.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// value is what the lease key holds during the term with token.
func (l *Lease) value(token uint64) string {
	return l.holder + "/" + strconv.FormatUint(token, 10)
}

// Token returns the fencing token of this replica's current term, and
// whether it believes it leads.
func (l *Lease) Token() (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token, l.token != 0
}

// Check returns nil if this replica leads and Redis still holds its term:
// call it right before acting as the leader. Otherwise its error wraps
// ErrNotLeader, or store.ErrUnavailable when Redis cannot say.
func (l *Lease) Check(ctx context.Context) error {
	token, ok := l.Token()
	if !ok {
		return ErrNotLeader
	}
	v, err := l.c.Get(ctx, l.key).Result()
	if errors.Is(err, goredis.Nil) || err == nil && v != l.value(token) {
		return fmt.Errorf("%w: term %d has ended", ErrNotLeader, token)
	}
	return redis.Err(ctx, err)
}

// Run campaigns for the lease until ctx is done. Each time it wins, it
// calls lead with a context cancelled when the term ends, and waits for
// lead to return. A term ends when the lease is lost (another replica
// holds it, or renewals failed for most of the TTL, so the lease may have
// expired in Redis), when lead returns, or when ctx is done; then the lease
// is released, so another replica can take over at once.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context)) error {
	poll := l.ttl / 10
	for {
		token, err := l.acquire(ctx)
		if err != nil && ctx.Err() == nil {
			l.log.Warn("campaigning for the lease failed", "err", err)
		}
		if token != 0 {
			l.term(ctx, token, lead)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

func (l *Lease) acquire(ctx context.Context) (uint64, error) {
	n, err := acquireScript.Run(ctx, l.c, []string{l.key, l.epoch}, l.holder, l.ttl.Milliseconds()).Uint64()
	return n, redis.Err(ctx, err)
}

// term leads with token until the term ends.
func (l *Lease) term(ctx context.Context, token uint64, lead func(context.Context)) {
	l.mu.Lock()
	l.token = token
	l.mu.Unlock()
	l.log.Info("leading", "holder", l.holder, "token", token)

	leadCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(leadCtx)
	}()
	renew := time.NewTicker(l.ttl / 3)
	defer renew.Stop()
	// The term is given up a fifth of the TTL before the lease could
	// expire unrenewed, leaving that much for clocks and pauses.
	margin := l.ttl / 5
	giveUp := time.NewTimer(l.ttl - margin)
	defer giveUp.Stop()
	value := l.value(token)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-done:
			break loop
		case <-giveUp.C:
			l.log.Warn("lost the lease: no renewal succeeded in time", "token", token)
			break loop
		case <-renew.C:
			// Counting from before the command was sent is conservative:
			// Redis restarted the TTL later than that.
			sent := time.Now()
			n, err := renewScript.Run(ctx, l.c, []string{l.key}, value, l.ttl.Milliseconds()).Int()
			if err != nil {
				if ctx.Err() == nil {
					l.log.Warn("renewing the lease failed", "token", token, "err", redis.Err(ctx, err))
				}
				continue
			}
			if n == 0 {
				l.log.Warn("lost the lease to another replica", "token", token)
				break loop
			}
			giveUp.Reset(time.Until(sent.Add(l.ttl - margin)))
		}
	}
	l.mu.Lock()
	l.token = 0
	l.mu.Unlock()
	cancel()
	<-done
	// Released even when ctx is done, so a replica shutting down hands
	// over at once instead of after the TTL.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer rcancel()
	if err := releaseScript.Run(rctx, l.c, []string{l.key}, value).Err(); err != nil {
		l.log.Warn("releasing the lease failed; it expires by itself", "token", token, "err", err)
	}
}
