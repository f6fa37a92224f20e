// Package bus carries events between parts of a bot and, through Redis,
// between replicas: a reminder created on one replica that the leader must
// schedule, a configuration reload, a cache to drop.
//
// Delivery is at most once and only to subscribers listening when an event
// is published; a subscriber that falls behind loses events. Work that must
// not be lost goes through package queue instead.
package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Bus publishes payloads on topics and delivers them to the topic's
// subscribers.
type Bus interface {
	// Publish sends payload to every current subscriber of topic. It does
	// not wait for them to receive it.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe returns once the subscription is active, so that whatever
	// is published after it returns is delivered. The channel is closed
	// when ctx is done.
	Subscribe(ctx context.Context, topic string) (<-chan []byte, error)
}

// ErrTopic is wrapped by the error for a topic name that is not allowed.
var ErrTopic = errors.New("bus: bad topic")

// maxTopic bounds a topic name's length.
const maxTopic = 64

// checkTopic allows lower-case letters, digits, '.', '-' and '_' only. Topic
// names become Redis channel names, which any client of the server can
// list with PUBSUB CHANNELS, so they are fixed words chosen in code, never
// data and never derived from a key (as Will once derived them from its
// secret).
func checkTopic(topic string) error {
	if topic == "" || len(topic) > maxTopic {
		return fmt.Errorf("%w: %q must be 1 to %d characters", ErrTopic, topic, maxTopic)
	}
	for _, r := range topic {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("%w: %q may hold only a-z, 0-9, '.', '-' and '_'", ErrTopic, topic)
		}
	}
	return nil
}

// buffer is how many payloads a subscriber may fall behind by before it
// loses them.
const buffer = 64

var _ Bus = (*Local)(nil)

// Local is a Bus within one process. The zero value is ready to use.
type Local struct {
	mu   sync.Mutex
	subs map[string]map[chan []byte]struct{}
}

// Publish implements Bus. A subscriber whose buffer is full misses the
// payload rather than holding up the publisher.
func (l *Local) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs[topic] {
		select {
		// Each subscriber gets its own copy to change as it likes.
		case ch <- append([]byte{}, payload...):
		default:
		}
	}
	return nil
}

// Subscribe implements Bus.
func (l *Local) Subscribe(ctx context.Context, topic string) (<-chan []byte, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := make(chan []byte, buffer)
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[string]map[chan []byte]struct{}{}
	}
	if l.subs[topic] == nil {
		l.subs[topic] = map[chan []byte]struct{}{}
	}
	l.subs[topic][ch] = struct{}{}
	l.mu.Unlock()
	context.AfterFunc(ctx, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.subs[topic], ch)
		close(ch)
	})
	return ch, nil
}
