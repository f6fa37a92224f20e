package bot

import (
	"context"
	"errors"
	"fmt"
)

// Handler answers a routed message.
type Handler interface {
	Handle(ctx context.Context, w Responder, m *Message) error
}

// HandlerFunc lets an ordinary function be a Handler.
type HandlerFunc func(ctx context.Context, w Responder, m *Message) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, w Responder, m *Message) error {
	return f(ctx, w, m)
}

// Middleware wraps a Handler, as net/http middleware does.
type Middleware func(Handler) Handler

// Chain applies mw so that mw[0] is the outermost layer.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		if mw[i] != nil {
			h = mw[i](h)
		}
	}
	return h
}

// UserError is an error whose message is written for the chat user: one
// sentence saying what went wrong and what to do. Handlers return it for
// mistakes the user can fix; any other error is reported with an error id
// and its details go only to the log.
type UserError struct {
	Msg string
	Err error // optional cause, logged but not shown
	// Buttons, on adapters that render them, offer the answers the message
	// asks for ("approve 7k2m"); elsewhere the message says them in words.
	Buttons []Button
}

func (e *UserError) Error() string { return e.Msg }
func (e *UserError) Unwrap() error { return e.Err }

// Userf returns a UserError with a formatted message.
func Userf(format string, a ...any) error {
	return &UserError{Msg: fmt.Sprintf(format, a...)}
}

// ErrDenied is wrapped by errors that refuse a command for lack of
// permission; the error middleware shows their message and audit records
// them as denials.
var ErrDenied = errors.New("permission denied")

// Denied returns an error wrapping ErrDenied whose text is shown to the user.
func Denied(reason string) error {
	return &UserError{Msg: reason, Err: ErrDenied}
}

// ErrPendingApproval is wrapped by the error an approval middleware
// returns when it has held a command back for approval instead of running
// it; the user reads the error's message and audit records it as pending.
var ErrPendingApproval = errors.New("waiting for approval")

// userMessage returns what to tell the user about err, and whether err was
// meant for the user at all.
func userMessage(err error) (string, bool) {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue.Msg, true
	}
	return "", false
}
