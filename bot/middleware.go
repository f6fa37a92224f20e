package bot

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/seipbot/seipbot/store"
)

// report is the outermost middleware: it turns a handler's error or panic
// into one reply. Mistakes the user can fix are shown as they are; anything
// else gets an error id, and its details go only to the log, which is where
// an internal error message belongs.
func (b *Bot) report(next Handler) Handler {
	return HandlerFunc(func(ctx context.Context, w Responder, m *Message) (err error) {
		defer func() {
			if p := recover(); p != nil {
				id := newID()[:8]
				b.log.Error("handler panicked", "error_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()), "command", m.Action(), "user", m.User.ID)
				_ = w.Reply(context.WithoutCancel(ctx), fmt.Sprintf("Something went wrong (error id %s); the bot's log has the details.", id))
				err = nil
			}
		}()
		if b.opts.Metrics != nil && m.Command != nil {
			start := time.Now()
			err = next.Handle(ctx, w, m)
			b.opts.Metrics.Handled(m.Command.Words, time.Since(start), err)
		} else {
			err = next.Handle(ctx, w, m)
		}
		if err == nil {
			return nil
		}
		// A reply about a timeout must not be cancelled by the timeout.
		replyCtx := context.WithoutCancel(ctx)
		var ue *UsageError
		var withButtons *UserError
		switch msg, ok := userMessage(err); {
		case ok && errors.As(err, &withButtons) && len(withButtons.Buttons) > 0:
			r := ReplyTo(m, msg)
			r.Buttons = withButtons.Buttons
			_ = w.Send(replyCtx, r)
		case ok:
			_ = w.Reply(replyCtx, msg)
		case errors.As(err, &ue):
			_ = w.Reply(replyCtx, ue.Error())
		case errors.Is(err, store.ErrUnavailable):
			_ = w.Reply(replyCtx, unavailableText)
		case errors.Is(err, context.DeadlineExceeded):
			_ = w.Reply(replyCtx, fmt.Sprintf("%q took longer than %s and was stopped; try again, or narrow the request.", m.Action(), b.opts.CommandTimeout))
		default:
			id := newID()[:8]
			b.log.Error("handler failed", "error_id", id, "err", err, "command", m.Action(), "user", m.User.ID)
			_ = w.Reply(replyCtx, fmt.Sprintf("That failed (error id %s); the bot's log has the details.", id))
		}
		return nil
	})
}

// authorize refuses what the Authorizer does not allow; without an
// Authorizer it refuses every sensitive command and hear, so a bot with no
// access policy never fails open.
func (b *Bot) authorize(next Handler) Handler {
	return HandlerFunc(func(ctx context.Context, w Responder, m *Message) error {
		if b.opts.Authorizer != nil {
			if err := b.opts.Authorizer.Authorize(ctx, m); err != nil {
				return err
			}
		} else if (m.Command != nil && m.Command.Sensitive) || (m.Hear != nil && m.Hear.Sensitive) {
			return Denied(fmt.Sprintf("%q is restricted and no access policy grants it; ask an admin to grant it in the configuration.", m.Action()))
		}
		return next.Handle(ctx, w, m)
	})
}

// timeout gives every handler a deadline.
func (b *Bot) timeout(next Handler) Handler {
	return HandlerFunc(func(ctx context.Context, w Responder, m *Message) error {
		if _, ok := ctx.Deadline(); ok || ctx.Done() != nil {
			ctx, cancel := context.WithTimeout(ctx, b.opts.CommandTimeout)
			defer cancel()
			return next.Handle(ctx, w, m)
		}
		d := &deadline{Context: ctx, at: time.Now().Add(b.opts.CommandTimeout)}
		defer d.stop()
		return next.Handle(d, w, m)
	})
}

// deadline is a handler's context when its parent never ends, as the bot's
// own does not: the parent's values and a deadline, with the behaviour of
// context.WithDeadline. That starts a timer for every handler, and most
// handlers never wait on Done; this makes the standard context, timer and
// all, only when Done is first asked for, or when it must answer Err at or
// after the deadline. Contexts derived from it then hang on the standard
// one, as they would on any.
type deadline struct {
	context.Context // the parent
	at              time.Time

	mu     sync.Mutex
	inner  context.Context // the standard context, once made
	cancel context.CancelFunc
	early  bool // stop was called before the deadline
}

func (d *deadline) Deadline() (time.Time, bool) { return d.at, true }

func (d *deadline) Done() <-chan struct{} { return d.real().Done() }

func (d *deadline) Err() error {
	d.mu.Lock()
	inner, early := d.inner, d.early
	d.mu.Unlock()
	switch {
	case inner != nil:
		return inner.Err()
	case early:
		return context.Canceled
	case time.Now().Before(d.at):
		return nil
	}
	// Past the deadline: make the standard context, so that Done is
	// closed whenever Err is not nil.
	return d.real().Err()
}

func (d *deadline) Value(key any) any {
	d.mu.Lock()
	inner := d.inner
	d.mu.Unlock()
	if inner != nil {
		// The standard context answers for itself, which is how a context
		// derived from d finds it to hang on.
		return inner.Value(key)
	}
	return d.Context.Value(key)
}

// real returns the standard context d stands for, making it on first use:
// already cancelled if d was stopped before its deadline, already expired
// if the deadline has passed.
func (d *deadline) real() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inner == nil {
		d.inner, d.cancel = context.WithDeadline(d.Context, d.at)
		if d.early {
			d.cancel()
		}
	}
	return d.inner
}

// stop is what the cancel function of context.WithDeadline is: the
// handler has returned, and the context ends as cancelled unless it had
// already expired.
func (d *deadline) stop() {
	// time.Since reads only the monotonic clock, half the cost of Now.
	early := time.Since(d.at) < 0
	d.mu.Lock()
	defer d.mu.Unlock()
	d.early = early
	if d.cancel != nil {
		d.cancel()
	}
}

// RateLimit bounds how many commands one user may run: PerMinute on average
// with bursts of Burst. Zero PerMinute turns the limit off.
type RateLimit struct {
	PerMinute int
	Burst     int
}

// rateLimit refuses commands beyond a user's rate. Hear patterns are not
// limited: they answer conversation, not requests.
func (b *Bot) rateLimit(next Handler) Handler {
	if b.limiter == nil {
		return next
	}
	return HandlerFunc(func(ctx context.Context, w Responder, m *Message) error {
		if m.Command != nil {
			if wait, ok := b.limiter.allow(m.User.ID); !ok {
				return Userf("You are sending commands faster than %d a minute; try again in %s.", b.opts.RateLimit.PerMinute, wait.Round(time.Second)+time.Second)
			}
		}
		return next.Handle(ctx, w, m)
	})
}

// rateLimiter is a token bucket per user.
type rateLimiter struct {
	rate  float64 // tokens a second
	burst float64
	now   func() time.Time
	mu    sync.Mutex
	users map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(l RateLimit, now func() time.Time) *rateLimiter {
	if l.PerMinute <= 0 {
		return nil
	}
	burst := l.Burst
	if burst <= 0 {
		burst = 1
	}
	return &rateLimiter{rate: float64(l.PerMinute) / 60, burst: float64(burst), now: now, users: map[string]*bucket{}}
}

// allow takes a token for user, or says how long until one is free.
func (r *rateLimiter) allow(user string) (time.Duration, bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	bk := r.users[user]
	if bk == nil {
		bk = &bucket{tokens: r.burst, at: now}
		r.users[user] = bk
	}
	bk.tokens = min(r.burst, bk.tokens+now.Sub(bk.at).Seconds()*r.rate)
	bk.at = now
	if bk.tokens >= 1 {
		bk.tokens--
		return 0, true
	}
	return time.Duration((1 - bk.tokens) / r.rate * float64(time.Second)), false
}
