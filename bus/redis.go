package bus

import (
	"context"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/store/redis"
	"github.com/seipbot/seipbot/store/sealed"
)

var _ Bus = (*Redis)(nil)

// Redis is a Bus over Redis pub/sub, shared by every replica using the same
// server and prefix. Payloads are sealed with the keyring, bound to their
// topic, so the server and anyone subscribed to it without the key see only
// ciphertext, and a payload replayed onto another topic fails to open.
type Redis struct {
	c      goredis.UniversalClient
	kr     *sealed.Keyring
	prefix string
	log    *slog.Logger
}

// NewRedis returns a Bus publishing on channels named prefix+"bus:"+topic.
// Payloads that fail to open are logged to log (nil discards) and dropped.
func NewRedis(c goredis.UniversalClient, kr *sealed.Keyring, prefix string, log *slog.Logger) *Redis {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Redis{c: c, kr: kr, prefix: prefix, log: log}
}

func (r *Redis) channel(topic string) string { return r.prefix + "bus:" + topic }

// Publish implements Bus.
func (r *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	ch := r.channel(topic)
	return redis.Err(ctx, r.c.Publish(ctx, ch, r.kr.Seal(payload, []byte(ch))).Err())
}

// Subscribe implements Bus. go-redis resubscribes by itself after a
// dropped connection; what is published while it is down is lost.
func (r *Redis) Subscribe(ctx context.Context, topic string) (<-chan []byte, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	ch := r.channel(topic)
	ps := r.c.Subscribe(ctx, ch)
	// The first reply confirms the subscription.
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, redis.Err(ctx, err)
	}
	out := make(chan []byte, buffer)
	go func() {
		defer close(out)
		defer ps.Close()
		in := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-in:
				if !ok {
					return
				}
				payload, err := r.kr.Open([]byte(msg.Payload), []byte(ch))
				if err != nil {
					r.log.Warn("dropping a bus payload that failed to open", "topic", topic, "err", err)
					continue
				}
				select {
				case out <- payload:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
