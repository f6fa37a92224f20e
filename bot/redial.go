package bot

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// fatalError marks a connection failure that reconnecting cannot fix.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

// Fatal marks err as a failure no reconnect will fix (the server refused
// the bot's credentials), so Redial stops and hands it back.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return fatalError{err}
}

// IsFatal reports whether err was marked by Fatal.
func IsFatal(err error) bool {
	var f fatalError
	return errors.As(err, &f)
}

// Redial runs one connection's session after another until ctx ends, which
// is how every network adapter's Run stays connected. Between sessions it
// waits with exponential backoff between b.Min and b.Max, jittered so bots
// restarted together do not all come back at once; a session that was up
// for longer than b.Max was a working connection, so the backoff starts
// over rather than punish one drop after days of uptime. session reports
// whether its connection came up and why it ended; onRetry is told each
// failure and the wait before the next attempt. A zero b.Min means a
// second, and a b.Max below b.Min means two minutes (or b.Min, if longer).
// Redial returns nil once ctx ends, or the error of a session that failed
// with a Fatal error.
func Redial(ctx context.Context, b Backoff, session func(context.Context) (up bool, err error), onRetry func(err error, wait time.Duration)) error {
	if b.Min <= 0 {
		b.Min = time.Second
	}
	if b.Max < b.Min {
		b.Max = max(2*time.Minute, b.Min)
	}
	delay := b.Min
	for {
		began := time.Now()
		up, err := session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if IsFatal(err) {
			return err
		}
		if up && time.Since(began) > b.Max {
			delay = b.Min
		}
		wait := delay/2 + rand.N(delay/2+1)
		onRetry(err, wait)
		if !Sleep(ctx, wait) {
			return nil
		}
		delay = min(2*delay, b.Max)
	}
}

// Sleep waits for d and reports whether it did, rather than ctx ending
// first: the pause between retries of everything that retries.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
