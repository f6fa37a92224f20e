package bot

import (
	"context"
	"errors"
	"time"
)

// Adapter connects the bot to one chat platform. It must receive and send;
// anything more a platform can do (threads, edits, reactions, buttons) is a
// separate interface checked at run time.
type Adapter interface {
	// Name is the adapter's name, used in Message.Adapter and
	// Response.Adapter ("shell", "slack").
	Name() string
	// Run connects, delivers every inbound message to in, and reconnects by
	// itself after a dropped connection. It returns nil when its input has
	// ended for good (the shell's stdin closed) or ctx was cancelled, and an
	// error only when it cannot go on.
	Run(ctx context.Context, in Inbox) error
	// Send delivers one response. A failure is retried by the outbox with
	// backoff unless it is marked Permanent.
	Send(ctx context.Context, r Response) error
}

// Poster is an adapter whose sending can name the message it made, so the
// outbox can edit it later through Editor. The outbox calls Post instead
// of Send when an adapter has it; Post must deliver just as Send does.
type Poster interface {
	// Post delivers r and returns a reference to the message it made,
	// meaningful only to the same adapter's Edit; for a reply sent in
	// several parts, the last part's. An empty reference means the
	// message cannot be edited (a reply uploaded as a file).
	Post(ctx context.Context, r Response) (ref string, err error)
}

// Editor is an adapter that can replace the text of a message it posted.
type Editor interface {
	// Edit makes the message ref (from Post) say r instead. It returns a
	// Permanent error when it cannot (the message is gone, or r no longer
	// fits one message), and the outbox then posts r as a new message.
	Edit(ctx context.Context, ref string, r Response) error
}

// Inbox accepts inbound messages. Receive blocks while the bot is busy, so a
// fast adapter is slowed rather than buffered without bound.
type Inbox interface {
	Receive(ctx context.Context, m *Message)
}

// Flusher is the optional ability of an adapter that buffers what Send
// writes (the shell batches its output). The outbox flushes it before it
// forgets a durable item, so a reminder or an alert is not lost in a buffer
// when the process dies.
type Flusher interface {
	Flush() error
}

// permanentError marks a delivery failure that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that no retry will fix (an unknown room,
// a message the platform rejects), so the outbox gives up at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	if err == nil {
		return false // before p, which errors.As puts on the heap
	}
	var p permanentError
	return errors.As(err, &p)
}

// retryAfterError carries the wait a platform asked for before the next
// attempt.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e retryAfterError) Error() string { return e.err.Error() }
func (e retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as a failure the platform asked to be retried no
// sooner than after d (an HTTP 429 with Retry-After), so the outbox waits at
// least d before the next attempt instead of its own, possibly shorter,
// backoff.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return retryAfterError{err: err, after: d}
}

// retryDelay returns the wait err asks for, or 0.
func retryDelay(err error) time.Duration {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.after
	}
	return 0
}
