package main

import (
	"slices"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/metrics"
)

// promMetrics exports the engine's bot.Metrics to Prometheus, on the
// registry /metrics serves.
type promMetrics struct {
	reg       *metrics.Registry
	received  *metrics.CounterVec
	sent      *metrics.CounterVec
	commands  *metrics.HistogramVec
	connected *metrics.GaugeVec

	mu   sync.Mutex
	down map[string]bool // adapters whose deliveries are being retried
}

var _ bot.Metrics = (*promMetrics)(nil)

// newRegistry makes the registry /metrics serves, with the process's and
// the engine's metrics on it; the alert manager and the webhook server add
// theirs.
func newRegistry(out *bot.Outbox) *promMetrics {
	reg := metrics.NewRegistry()
	m := &promMetrics{
		reg:      reg,
		down:     map[string]bool{},
		received: metrics.NewCounterVec("seipbot_messages_received_total", "Messages the adapters delivered to the bot.", "adapter"),
		sent:     metrics.NewCounterVec("seipbot_messages_sent_total", "Delivery attempts of the outbox, by result (ok, retry, failed).", "adapter", "result"),
		commands: metrics.NewHistogramVec("seipbot_command_seconds", "How long commands ran, by command and result.",
			metrics.ExponentialBuckets(0.0005, 4, 10), "command", "result"),
		connected: metrics.NewGaugeVec("seipbot_adapter_connected",
			"1 when the adapter's last delivery went through, 0 while deliveries are being retried.", "adapter"),
	}
	reg.MustRegister(
		metrics.NewGoCollector(),
		metrics.NewProcessCollector(),
		metrics.NewGaugeFunc("seipbot_outbox_pending", "Responses waiting for delivery.",
			func() float64 { return float64(out.Pending()) }),
		m.received, m.sent, m.commands, m.connected,
	)
	return m
}

func (m *promMetrics) Received(adapter string) { m.received.WithLabelValues(adapter).Inc() }

func (m *promMetrics) Handled(command string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.commands.WithLabelValues(command, result).Observe(d.Seconds())
}

func (m *promMetrics) Delivered(adapter string, err error) {
	if !bot.IsPermanent(err) {
		m.mu.Lock()
		m.down[adapter] = err != nil
		m.mu.Unlock()
	}
	switch {
	case err == nil:
		m.sent.WithLabelValues(adapter, "ok").Inc()
		m.connected.WithLabelValues(adapter).Set(1)
	case bot.IsPermanent(err):
		// The platform refused this one message; the connection is fine.
		m.sent.WithLabelValues(adapter, "failed").Inc()
	default:
		m.sent.WithLabelValues(adapter, "retry").Inc()
		m.connected.WithLabelValues(adapter).Set(0)
	}
}

// notDelivering returns the adapters whose last delivery failed and is being
// retried, for /readyz.
func (m *promMetrics) notDelivering() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for name, down := range m.down {
		if down {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
