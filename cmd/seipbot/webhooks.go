package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/ingest"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/template"
)

// wireAlerts builds the alert manager from the alerts: section, sending
// alerts only to the rooms mayNotify lets receive them, and, when
// http.listen is set, the webhook server in front of it, serving metrics
// (nil exactly when http.listen is not set). It does no I/O beyond reading
// the files the configuration names.
func wireAlerts(cfg *config.Config, st store.Store, out *bot.Outbox, sched *schedule.Scheduler, mayNotify func(room, topic string) bool, metrics *promMetrics, log *slog.Logger) (*alert.Manager, *ingest.Server, error) {
	rules, err := alertRules(cfg.Alerts.Rules)
	if err != nil {
		return nil, nil, err
	}
	opts := alert.Options{
		Rules: rules, DedupWindow: time.Duration(cfg.Alerts.DedupWindow),
		GroupWindow: time.Duration(cfg.Alerts.GroupWindow), GroupMax: cfg.Alerts.GroupMax,
		Retention: time.Duration(cfg.Alerts.Retention), MayNotify: mayNotify,
		Store: st, Outbox: out, Scheduler: sched, Logger: log,
	}
	if metrics != nil { // else the alert manager exports nothing
		opts.Registerer = metrics.reg
	}
	m, err := alert.New(opts)
	if err != nil {
		return nil, nil, err
	}
	if cfg.HTTP.Listen == "" {
		return m, nil, nil
	}
	sources, err := webhookSources(cfg.Sources, log)
	if err != nil {
		return nil, nil, err
	}
	h := cfg.HTTP
	srv, err := ingest.New(ingest.Options{
		Listen: h.Listen, TLSCert: h.TLSCert, TLSKey: h.TLSKey,
		ReadTimeout: time.Duration(h.ReadTimeout), WriteTimeout: time.Duration(h.WriteTimeout), MaxBody: h.MaxBodyBytes,
		Sources: sources, Sink: m, Registerer: metrics.reg, Metrics: metrics.reg, Logger: log,
		Ready: func(ctx context.Context) error {
			if _, err := st.Get(ctx, "health/probe"); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("store: %w", err)
			}
			if down := metrics.notDelivering(); len(down) > 0 {
				return fmt.Errorf("adapters not delivering: %s", strings.Join(down, ", "))
			}
			return nil
		},
	})
	return m, srv, err
}

func alertRules(in []config.AlertRule) ([]alert.Rule, error) {
	var rules []alert.Rule
	var errs []error
	room := func(path string, r config.AlertRoom) alert.Destination {
		d := alert.Destination{Adapter: r.Adapter, Room: r.Room}
		if r.Template != "" {
			t, err := alert.ParseTemplate(path, r.Template)
			errs = append(errs, err)
			d.Template = t
		}
		return d
	}
	for i, c := range in {
		path := fmt.Sprintf("alerts.rules[%d]", i)
		sev, _ := alert.ParseSeverity(c.MinSeverity)
		r := alert.Rule{Sources: c.Sources, MinSeverity: sev, Repositories: c.Repositories, Continue: c.Continue}
		if c.Match != "" {
			ms, err := alert.ParseMatchers(c.Match)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.match: %w", path, err))
			}
			r.Match = ms
		}
		for j, d := range c.Rooms {
			r.Rooms = append(r.Rooms, room(fmt.Sprintf("%s.rooms[%d]", path, j), d))
		}
		if c.EscalateTo != nil {
			r.Escalate = &alert.Escalation{After: time.Duration(c.EscalateAfter), To: room(path+".escalate_to", *c.EscalateTo)}
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(errs...)
}

func webhookSources(s config.Sources, log *slog.Logger) ([]ingest.Source, error) {
	var out []ingest.Source
	if g := s.GitHub; g != nil {
		out = append(out, &ingest.GitHub{Secret: g.Secret.Reveal(), MaxCommits: g.MaxCommits, Protected: g.ProtectedBranches})
	}
	if g := s.GitLab; g != nil {
		out = append(out, &ingest.GitLab{Token: g.Token.Reveal(), MaxCommits: g.MaxCommits, Protected: g.ProtectedBranches})
	}
	if a := s.Alertmanager; a != nil {
		out = append(out, &ingest.Alertmanager{BearerToken: a.BearerToken.Reveal(), Username: a.Username, Password: a.Password.Reveal()})
	}
	if f := s.Falco; f != nil {
		out = append(out, &ingest.Falco{Token: f.Token.Reveal(), Window: time.Duration(f.Window)})
	}
	if g := s.Generic; g != nil {
		src := &ingest.Generic{Secret: g.Secret.Reveal(), Window: time.Duration(g.Window)}
		if g.Template != "" {
			t, err := template.New("generic").Option("missingkey=zero").Parse(g.Template)
			if err != nil {
				return nil, fmt.Errorf("sources.generic.template: %w", err)
			}
			src.Template = t
		}
		out = append(out, src)
	}
	if a := s.SNS; a != nil {
		src := &ingest.SNS{TopicARNs: a.TopicARNs, Hosts: a.CertHosts, Window: time.Duration(a.MaxAge), Logger: log}
		if a.TrustRoots != "" {
			pem, err := os.ReadFile(a.TrustRoots)
			if err != nil {
				return nil, fmt.Errorf("sources.sns.trust_roots: %w", err)
			}
			src.Roots = x509.NewCertPool()
			if !src.Roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("sources.sns.trust_roots: %s holds no PEM certificate", a.TrustRoots)
			}
		}
		out = append(out, src)
	}
	return out, nil
}

// startWebhooks loads the open alerts and, if configured, starts the
// webhook server; the returned function stops the server and reports how
// it ended.
func (a *app) startWebhooks(ctx context.Context) (func() error, error) {
	if err := a.alerts.Load(ctx); err != nil {
		return nil, err
	}
	if a.web == nil {
		return func() error { return nil }, nil
	}
	webCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.web.Run(webCtx) }()
	return func() error {
		stop()
		return <-done
	}, nil
}

// healthcheck probes /healthz, for a container's HEALTHCHECK: exit 0 when
// it answers 200, 1 otherwise.
func (c *cli) healthcheck(ctx context.Context, args []string) error {
	fs := c.flags("healthcheck", "healthcheck [--url URL] [--config FILE]")
	url := fs.String("url", "", "the URL to probe (default: /healthz on http.listen)")
	cfg, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	if *url == "" {
		if cfg.HTTP.Listen == "" {
			return usageError{"http.listen is not set; pass --url"}
		}
		host, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		scheme := "http"
		if cfg.HTTP.TLSCert != "" {
			scheme = "https"
		}
		*url = scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", *url, resp.Status)
	}
	fmt.Fprintln(c.stdout, "healthy")
	return nil
}
