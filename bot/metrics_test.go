package bot_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
)

type countingMetrics struct {
	mu                  sync.Mutex
	received, delivered int
	handled             map[string]bool // command → failed
}

func (c *countingMetrics) Received(string) { c.mu.Lock(); c.received++; c.mu.Unlock() }
func (c *countingMetrics) Delivered(_ string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.delivered++
	}
}
func (c *countingMetrics) Handled(cmd string, _ time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handled[cmd] = err != nil
}

func TestMetrics(t *testing.T) {
	m := &countingMetrics{handled: map[string]bool{}}
	p := plugin{"m", func(r *bot.Registry) error {
		r.Command(bot.Command{Words: "ping", Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, _ *bot.Message) error {
			return w.Reply(ctx, "pong")
		})})
		r.Command(bot.Command{Words: "fail", Handler: bot.HandlerFunc(func(context.Context, bot.Responder, *bot.Message) error {
			return errors.New("broken")
		})})
		return nil
	}}
	rs := bottest.Run(t, bot.Options{Metrics: m}, []bot.Plugin{p}, bottest.DM("a", "ping"), bottest.DM("a", "fail"), bottest.DM("a", "nonsense"))
	if m.received != 3 {
		t.Errorf("%d messages received, want 3", m.received)
	}
	if m.delivered != len(rs) || len(rs) != 3 {
		t.Errorf("%d deliveries counted, %d answers sent; want 3 each", m.delivered, len(rs))
	}
	if failed, ok := m.handled["ping"]; !ok || failed {
		t.Errorf("ping: handled %v, failed %v", ok, failed)
	}
	if failed := m.handled["fail"]; !failed {
		t.Error("the failing command was not counted as failed")
	}
	if _, ok := m.handled["nonsense"]; ok {
		t.Error("an unknown command was counted as a command")
	}
}
