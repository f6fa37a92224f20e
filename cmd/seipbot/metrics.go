package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/seipbot/seipbot/bot"
)

// promMetrics exports the engine's bot.Metrics to Prometheus, on the
// registry /metrics serves.
type promMetrics struct {
	received  *prometheus.CounterVec
	sent      *prometheus.CounterVec
	commands  *prometheus.HistogramVec
	connected *prometheus.GaugeVec
}

var _ bot.Metrics = (*promMetrics)(nil)

// newRegistry makes the registry /metrics serves, with the process's and
// the engine's metrics on it.
func newRegistry(out *bot.Outbox) (*prometheus.Registry, *promMetrics) {
	reg := prometheus.NewRegistry()
	m := &promMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seipbot_messages_received_total", Help: "Messages the adapters delivered to the bot.",
		}, []string{"adapter"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seipbot_messages_sent_total", Help: "Delivery attempts of the outbox, by result (ok, retry, failed).",
		}, []string{"adapter", "result"}),
		commands: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "seipbot_command_seconds", Help: "How long commands ran, by command and result.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"command", "result"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "seipbot_adapter_connected",
			Help: "1 when the adapter's last delivery went through, 0 while deliveries are being retried.",
		}, []string{"adapter"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "seipbot_outbox_pending", Help: "Responses waiting for delivery."},
			func() float64 { return float64(out.Pending()) }),
		m.received, m.sent, m.commands, m.connected,
	)
	return reg, m
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
