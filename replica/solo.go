package replica

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/seipbot/seipbot/bot"
)

var _ bot.Standby = (*Solo)(nil)

// Solo runs a chat adapter on one replica at a time: the one holding its
// lease. It is for platforms where the bot may keep only one connection
// and that deliver no message id to claim by, such as IRC (one nick, and
// ngIRCd sends no msgid). The other replicas stand by and one connects
// within the lease's TTL after the holder dies. The outbox takes shared
// responses for the adapter only on the replica where it is present.
type Solo struct {
	bot.Adapter
	lease   *Lease
	present atomic.Bool
}

// NewSolo returns a Solo that runs a only while this replica holds l.
func NewSolo(a bot.Adapter, l *Lease) *Solo {
	return &Solo{Adapter: a, lease: l}
}

// Present implements bot.Standby: whether the adapter is connected here.
func (s *Solo) Present() bool { return s.present.Load() }

// Run campaigns for the lease until ctx ends, and runs the adapter during
// each term. At the end of a term the adapter's connection is closed, so
// the next holder can take the nick. An adapter that cannot go on (its
// credentials are refused) stops the campaign: another replica would only
// be refused too.
func (s *Solo) Run(ctx context.Context, in bot.Inbox) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	err := s.lease.Run(ctx, func(term context.Context) {
		s.present.Store(true)
		defer s.present.Store(false)
		if err := s.Adapter.Run(term, in); err != nil {
			stop(err)
		}
		if err := s.Close(); err != nil {
			s.lease.log.Warn("closing the connection at the end of the term failed", "adapter", s.Name(), "err", err)
		}
	})
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// Close closes the adapter, if it is an io.Closer.
func (s *Solo) Close() error {
	if c, ok := s.Adapter.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
