package irc

import (
	"context"
	"sync"
	"time"
)

// pacer is a token bucket: Burst lines go out at once, then one every
// Every, so the bot never sends faster than a server's flood limit allows
// and is never disconnected or silently throttled for it.
type pacer struct {
	burst int
	every time.Duration

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newPacer(burst int, every time.Duration) *pacer {
	return &pacer{burst: burst, every: every, tokens: float64(burst), last: time.Now()}
}

// charge counts a line sent without waiting; the next line waits for it.
func (p *pacer) charge() {
	if p.every <= 0 {
		return
	}
	p.mu.Lock()
	p.tokens--
	p.mu.Unlock()
}

// wait returns when one more line may be sent. Callers that arrive
// together reserve tokens in turn, so they leave in the order they came.
func (p *pacer) wait(ctx context.Context) error {
	if p.every <= 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	p.tokens = min(float64(p.burst), p.tokens+float64(now.Sub(p.last))/float64(p.every))
	p.last = now
	p.tokens--
	debt := p.tokens
	p.mu.Unlock()
	if debt >= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(-debt * float64(p.every)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		p.tokens++ // the line was not sent: give its token back
		p.mu.Unlock()
		return ctx.Err()
	}
}
