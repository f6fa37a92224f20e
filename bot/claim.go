package bot

import (
	"context"
	"time"
)

// Claimer lets replicas of one bot share the inbound messages they all
// receive (XMPP, IRC and Matrix deliver every message to every connection;
// Slack may retry an event on another), so each message is handled once.
type Claimer interface {
	// Claim atomically takes id for ttl and reports whether this caller
	// got it; false means another replica had it first.
	Claim(ctx context.Context, id string, ttl time.Duration) (bool, error)
}

// unavailableText answers a command when the bot's storage or its
// coordination with the other replicas is down.
const unavailableText = "Storage is unavailable right now, so I can't do that; try again in a minute."

// claim reports whether this replica should handle m, by claiming
// Adapter:ID. Without a Claimer (one replica) or an ID to claim by, every
// message is its own.
func (b *Bot) claim(ctx context.Context, m *Message) (bool, error) {
	if b.opts.Claimer == nil || m.ID == "" {
		return true, nil
	}
	ok, err := b.opts.Claimer.Claim(ctx, m.Adapter+":"+m.ID, b.opts.ClaimTTL)
	if err != nil {
		b.log.Warn("claiming a message failed; leaving it unhandled", "adapter", m.Adapter, "id", m.ID, "err", err)
	}
	return ok, err
}
