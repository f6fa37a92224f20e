package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Middleware records every command and hear handler it wraps: who, where,
// what with which arguments, whether it was allowed, and how it ended. The
// bot places it outside authorization (bot.Options.Audit), so refusals are
// recorded too. The record is queued, not written, before the handler's
// result goes back.
func (l *Log) Middleware(next bot.Handler) bot.Handler {
	return bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) (err error) {
		start := l.opts.Now()
		defer func() {
			if p := recover(); p != nil {
				l.Add(messageRecord(m, start, l.opts.Now(), fmt.Errorf("panic: %v", p)))
				panic(p)
			}
			l.Add(messageRecord(m, start, l.opts.Now(), err))
		}()
		return next.Handle(ctx, w, m)
	})
}

// messageRecord describes how m was handled. Internal errors are recorded
// as "failed": their details go to the log, where the error middleware
// puts them, and may hold what an audit record must not.
func messageRecord(m *bot.Message, start, end time.Time, err error) Record {
	r := Record{
		Time:       start,
		Identity:   m.User.ID,
		Room:       m.Room,
		Adapter:    m.Adapter,
		Decision:   "allowed",
		Result:     "ok",
		DurationMS: end.Sub(start).Milliseconds(),
	}
	var secrets []string
	switch {
	case m.Command != nil:
		r.Kind, r.Command = "command", m.Command.Words
		r.Args, secrets = args(m)
	case m.Hear != nil:
		r.Kind, r.Command = "hear", m.Hear.Plugin+"/"+m.Hear.Name
	}
	if err == nil {
		return r
	}
	var ue *bot.UserError
	var usage *bot.UsageError
	switch {
	case errors.As(err, &ue):
		r.Result = ue.Msg
	case errors.As(err, &usage):
		r.Result = usage.Error()
	default:
		r.Result = "failed"
	}
	switch {
	case errors.Is(err, bot.ErrDenied):
		r.Decision = "denied"
	case errors.Is(err, bot.ErrPendingApproval):
		r.Decision = "pending"
	}
	// A reply may quote what was typed, secrets included.
	for _, s := range secrets {
		r.Result = strings.ReplaceAll(r.Result, s, Masked)
	}
	return r
}

// args lists m's arguments with those declared Secret masked, and returns
// the secret values too, so they can be masked wherever else they appear.
func args(m *bot.Message) ([]Arg, []string) {
	var out []Arg
	var secrets []string
	for _, a := range m.Args {
		decl := declared(m.Command, a.Name)
		if decl == nil {
			// The router's own entries (an argument error) are not
			// arguments anyone typed under a name.
			continue
		}
		v := a.Raw
		if decl.Secret {
			if v != "" {
				secrets = append(secrets, v)
			}
			v = Masked
		}
		out = append(out, Arg{Name: a.Name, Value: v})
	}
	return out, secrets
}

func declared(c *bot.Command, name string) *bot.Arg {
	for i := range c.Args {
		if c.Args[i].Name == name {
			return &c.Args[i]
		}
	}
	return nil
}
