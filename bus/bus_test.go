package bus_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bus"
	"github.com/seipbot/seipbot/store/redis/redistest"
	"github.com/seipbot/seipbot/store/sealed"
)

func keyring(t *testing.T) *sealed.Keyring {
	t.Helper()
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// receive returns the next payload on ch, failing after a bound only a
// broken bus reaches.
func receive(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case p, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed early")
		}
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no payload within 5s")
	}
	return nil
}

// testBus checks what every Bus does: a and b stand for two replicas (or
// the same one twice, in process).
func testBus(t *testing.T, a, b bus.Bus) {
	ctx := t.Context()
	sub1, err := b.Subscribe(ctx, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	subCtx, unsubscribe := context.WithCancel(ctx)
	sub2, err := a.Subscribe(subCtx, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Subscribe(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, "alerts", []byte("one")); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan []byte{sub1, sub2} {
		if got := receive(t, ch); string(got) != "one" {
			t.Fatalf("got %q, want %q", got, "one")
		}
	}
	unsubscribe()
	for range sub2 {
		// Drained: the channel closes once the subscription ends.
	}
	if err := a.Publish(ctx, "alerts", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, sub1); string(got) != "two" {
		t.Fatalf("got %q, want %q", got, "two")
	}
	select {
	case p := <-other:
		t.Fatalf("a subscriber of another topic got %q", p)
	default:
	}
	for _, topic := range []string{"", "Alerts", "a b", "k/1", string(make([]byte, 65))} {
		if err := a.Publish(ctx, topic, nil); !errors.Is(err, bus.ErrTopic) {
			t.Errorf("Publish on %q = %v, want ErrTopic", topic, err)
		}
		if _, err := a.Subscribe(ctx, topic); !errors.Is(err, bus.ErrTopic) {
			t.Errorf("Subscribe to %q = %v, want ErrTopic", topic, err)
		}
	}
}

func TestLocal(t *testing.T) {
	var l bus.Local
	testBus(t, &l, &l)
}

func TestLocalSlowSubscriberDoesNotBlock(t *testing.T) {
	var l bus.Local
	if _, err := l.Subscribe(t.Context(), "t"); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if err := l.Publish(t.Context(), "t", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRedis(t *testing.T) {
	kr := keyring(t)
	ca, cb := redistest.Client(t), redistest.Client(t)
	prefix := redistest.Prefix(t, ca)
	testBus(t, bus.NewRedis(ca, kr, prefix, nil), bus.NewRedis(cb, kr, prefix, nil))
}

// TestRedisSealed checks that the server sees no plaintext and that a
// replica with another key drops what it cannot open.
func TestRedisSealed(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	ctx := t.Context()
	raw := c.Subscribe(ctx, prefix+"bus:alerts")
	defer raw.Close()
	if _, err := raw.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	stranger, err := bus.NewRedis(c, keyring(t), prefix, nil).Subscribe(ctx, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "canary-bus-5d1e"
	if err := bus.NewRedis(c, keyring(t), prefix, nil).Publish(ctx, "alerts", []byte(marker)); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-raw.Channel():
		if bytes.Contains([]byte(msg.Payload), []byte(marker)) {
			t.Fatal("the payload crossed Redis in plaintext")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing was published")
	}
	select {
	case p := <-stranger:
		t.Fatalf("a subscriber with another key read %q", p)
	case <-time.After(200 * time.Millisecond):
	}
}
