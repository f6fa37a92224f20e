package main

import (
	"context"
	"errors"
	"testing"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/metrics/metricstest"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store/memory"
)

type pinger struct{}

func (pinger) Name() string { return "pinger" }
func (pinger) Register(r *bot.Registry) error {
	r.Command(bot.Command{Words: "ping", Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, _ *bot.Message) error {
		return w.Reply(ctx, "pong")
	})})
	return nil
}

// TestMetricsExported runs a bot with the Prometheus metrics and reads
// back what /metrics serves.
func TestMetricsExported(t *testing.T) {
	out := bot.NewOutbox(nil, nil, bot.Backoff{})
	m := newRegistry(out)
	bottest.Run(t, bot.Options{Outbox: out, Metrics: m}, []bot.Plugin{pinger{}}, bottest.DM("a", "ping"), bottest.DM("a", "ping"))
	m.Delivered("slack", errors.New("connection reset"))
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		v, ok := metricstest.Value(t, m.reg, name, labels)
		if !ok {
			t.Fatalf("%s has no series with %v", name, labels)
		}
		return v
	}
	if v := value("seipbot_messages_received_total", map[string]string{"adapter": "test"}); v != 2 {
		t.Errorf("received %v, want 2", v)
	}
	if v := value("seipbot_messages_sent_total", map[string]string{"adapter": "test", "result": "ok"}); v != 2 {
		t.Errorf("sent %v, want 2", v)
	}
	if v := value("seipbot_command_seconds", map[string]string{"command": "ping", "result": "ok"}); v != 2 {
		t.Errorf("ping observed %v times, want 2", v)
	}
	if v := value("seipbot_adapter_connected", map[string]string{"adapter": "test"}); v != 1 {
		t.Errorf("test adapter connected = %v, want 1", v)
	}
	if v := value("seipbot_adapter_connected", map[string]string{"adapter": "slack"}); v != 0 {
		t.Errorf("slack connected = %v after a failed delivery, want 0", v)
	}
	if v := value("seipbot_outbox_pending", nil); v != 0 {
		t.Errorf("outbox pending = %v once the bot is done, want 0", v)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes"} {
		value(name, nil)
	}
	// /readyz names the adapter that is not delivering, until it does.
	if down := m.notDelivering(); len(down) != 1 || down[0] != "slack" {
		t.Errorf("not delivering: %v, want [slack]", down)
	}
	m.Delivered("slack", nil)
	if down := m.notDelivering(); len(down) != 0 {
		t.Errorf("not delivering after a success: %v", down)
	}
}

// TestMetricsServed wires the alert manager and the webhook server as the
// bot does with http.listen set, and reads /metrics through the server:
// the bot's, the alert manager's, the server's and the Go runtime's metrics
// share one registry without a clash.
func TestMetricsServed(t *testing.T) {
	st := memory.New()
	out := bot.NewOutbox(st, nil, bot.Backoff{})
	sched, err := schedule.New(st, schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := newRegistry(out)
	cfg := &config.Config{HTTP: config.HTTP{Listen: "127.0.0.1:0"}}
	_, srv, err := wireAlerts(cfg, st, out, sched, nil, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Received("slack")
	for name, labels := range map[string]map[string]string{
		"seipbot_messages_received_total": {"adapter": "slack"},
		"seipbot_alerts_open":             nil,
		"seipbot_outbox_pending":          nil,
		"go_goroutines":                   nil,
	} {
		if _, ok := metricstest.Value(t, srv.Handler(), name, labels); !ok {
			t.Errorf("/metrics has no %s%v", name, labels)
		}
	}
}
