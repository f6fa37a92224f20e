// Package ingest is seipbot's HTTP server: one endpoint per configured
// webhook source (GitHub, GitLab, Alertmanager, AWS SNS, Falco, generic
// JSON), each verified before its body is parsed, plus /healthz, /readyz
// and /metrics. Verified alerts go to a Sink, which answers only once they
// are stored, so a source hears 2xx only for what a restart cannot lose.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/metrics"
)

// Source is one kind of webhook sender.
type Source interface {
	// Name is the source's name; its endpoint is /hooks/<name>.
	Name() string
	// Verify checks the request's signature or credential before the body
	// is parsed, returning an error wrapping ErrUnsigned, ErrBadSignature or
	// ErrReplayed. It returns the delivery's id for the replay check, or ""
	// where the source sends none.
	Verify(r *http.Request, body []byte) (delivery string, err error)
	// ReplayWindow is how long a delivery id is remembered.
	ReplayWindow() time.Duration
	// Parse turns a verified body into alerts; none is fine (an event the
	// bot does not announce).
	Parse(r *http.Request, body []byte) ([]alert.Alert, error)
}

// Sink takes verified alerts and returns once they are stored.
type Sink interface {
	Accept(ctx context.Context, alerts ...alert.Alert) error
}

// Options configure a Server.
type Options struct {
	Listen                    string // host:port
	TLSCert, TLSKey           string // files; both empty serves plain HTTP
	ReadTimeout, WriteTimeout time.Duration
	// MaxBody bounds a request body in bytes; larger ones get 413.
	// Default 1 MiB.
	MaxBody int64
	Sources []Source
	Sink    Sink
	// Ready reports whether the bot can take work (store reachable,
	// adapters connected), for /readyz; nil is always ready.
	Ready      func(ctx context.Context) error
	Registerer metrics.Registerer // nil: the server's metrics are not exported
	Metrics    http.Handler       // what /metrics serves; nil: no /metrics
	Logger     *slog.Logger
	Now        func() time.Time
}

// Server serves the webhook endpoints and the health and metrics routes.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	requests *metrics.CounterVec
	rejected *metrics.CounterVec
	received *metrics.CounterVec
	latency  *metrics.HistogramVec
}

// New returns a Server. It does no I/O.
func New(opts Options) (*Server, error) {
	if opts.Sink == nil {
		return nil, errors.New("ingest: a sink is required")
	}
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		return nil, errors.New("ingest: set both a TLS certificate and key, or neither")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, log: opts.Logger, mux: http.NewServeMux(),
		requests: metrics.NewCounterVec("seipbot_ingest_requests_total", "Webhook requests by source and status code.", "source", "code"),
		rejected: metrics.NewCounterVec("seipbot_ingest_rejected_total", "Webhook requests refused, by source and reason.", "source", "reason"),
		received: metrics.NewCounterVec("seipbot_alerts_received_total", "Verified alerts handed to the alert manager, by source.", "source"),
		latency: metrics.NewHistogramVec("seipbot_ingest_accept_seconds", "Time from request to answer for verified webhooks.",
			[]float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5}, "source"),
	}
	if opts.Registerer != nil {
		for _, c := range []metrics.Collector{s.requests, s.rejected, s.received, s.latency} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("ingest: metrics: %w", err)
			}
		}
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	s.mux.HandleFunc("GET /readyz", s.ready)
	if opts.Metrics != nil {
		s.mux.Handle("GET /metrics", opts.Metrics)
	}
	seenNames := map[string]bool{}
	for _, src := range opts.Sources {
		if seenNames[src.Name()] {
			return nil, fmt.Errorf("ingest: source %q configured twice", src.Name())
		}
		seenNames[src.Name()] = true
		s.mux.Handle("POST /hooks/"+src.Name(), s.endpoint(src))
	}
	return s, nil
}

// Handler returns the server's routes, for tests and for mounting
// elsewhere.
func (s *Server) Handler() http.Handler { return s.mux }

// Run listens on the configured address and serves until ctx ends, then
// shuts down, letting requests in flight finish for a few seconds.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller made.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: min(s.opts.ReadTimeout, 10*time.Second),
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.opts.ReadTimeout <= 0 {
		hs.ReadHeaderTimeout = 10 * time.Second
	}
	done := make(chan error, 1)
	go func() {
		if s.opts.TLSCert != "" {
			hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			done <- hs.ServeTLS(ln, s.opts.TLSCert, s.opts.TLSKey)
			return
		}
		done <- hs.Serve(ln)
	}()
	s.log.Info("webhook server listening", "addr", ln.Addr().String(), "tls", s.opts.TLSCert != "")
	select {
	case err := <-done:
		return fmt.Errorf("ingest: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(shutCtx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	io.WriteString(w, "ready\n")
}

// endpoint reads, verifies, parses and hands on one source's deliveries.
func (s *Server) endpoint(src Source) http.Handler {
	name := src.Name()
	guard := newSeen(src.ReplayWindow())
	answer := func(w http.ResponseWriter, code int, msg string) {
		s.requests.WithLabelValues(name, fmt.Sprint(code)).Inc()
		http.Error(w, msg, code)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.rejected.WithLabelValues(name, "oversized").Inc()
				s.log.Warn("webhook refused: body too large", "source", name, "remote", r.RemoteAddr, "limit", s.opts.MaxBody)
				answer(w, http.StatusRequestEntityTooLarge, "body too large")
				return
			}
			answer(w, http.StatusBadRequest, "could not read the body")
			return
		}
		now := s.opts.Now()
		id, err := src.Verify(r, body)
		if err == nil && id != "" && guard.has(id, now) {
			err = ErrReplayed
		}
		var alerts []alert.Alert
		if err == nil {
			alerts, err = src.Parse(r, body)
		}
		if why := reason(err); why != "" {
			// The body is not logged: it is unauthenticated input.
			s.rejected.WithLabelValues(name, why).Inc()
			s.log.Warn("webhook refused", "source", name, "reason", why, "remote", r.RemoteAddr, "delivery", id, "err", err)
			answer(w, http.StatusUnauthorized, "verification failed")
			return
		}
		if err != nil {
			s.rejected.WithLabelValues(name, "malformed").Inc()
			s.log.Warn("webhook refused: unreadable", "source", name, "remote", r.RemoteAddr, "delivery", id, "err", err)
			answer(w, http.StatusBadRequest, "unreadable payload: "+err.Error())
			return
		}
		// Storing goes on if the sender hangs up: the alert may already be
		// half-handed to the outbox, and finishing is what keeps it whole.
		if err := s.opts.Sink.Accept(context.WithoutCancel(r.Context()), alerts...); err != nil {
			s.log.Error("webhook not stored; the source should retry", "source", name, "delivery", id, "err", err)
			answer(w, http.StatusServiceUnavailable, "not stored; retry later")
			return
		}
		if id != "" {
			guard.add(id, now)
		}
		s.received.WithLabelValues(name).Add(float64(len(alerts)))
		s.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
		s.requests.WithLabelValues(name, "202").Inc()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "accepted %d\n", len(alerts))
	})
}
