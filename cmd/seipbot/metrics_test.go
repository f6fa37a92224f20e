package main

import (
	"context"
	"errors"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
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
// back what /metrics would serve.
func TestMetricsExported(t *testing.T) {
	out := bot.NewOutbox(nil, nil, bot.Backoff{})
	m := newRegistry(out)
	bottest.Run(t, bot.Options{Outbox: out, Metrics: m}, []bot.Plugin{pinger{}}, bottest.DM("a", "ping"), bottest.DM("a", "ping"))
	m.Delivered("slack", errors.New("connection reset"))
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	value := func(name string, labels map[string]string) float64 {
		f := got[name]
		if f == nil {
			t.Fatalf("%s is not exported", name)
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("%s has no series with %v", name, labels)
		return 0
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
	// /readyz names the adapter that is not delivering, until it does.
	if down := m.notDelivering(); len(down) != 1 || down[0] != "slack" {
		t.Errorf("not delivering: %v, want [slack]", down)
	}
	m.Delivered("slack", nil)
	if down := m.notDelivering(); len(down) != 0 {
		t.Errorf("not delivering after a success: %v", down)
	}
}
