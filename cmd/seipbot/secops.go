package main

import (
	"log/slog"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/plugins/secops"
	"github.com/seipbot/seipbot/scan/repo"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/scope"
	"github.com/seipbot/seipbot/store"

	jobsplugin "github.com/seipbot/seipbot/plugins/jobs"
)

// secopsPlugins wires the security operations: the job manager and the
// plugins that scan, watch and look things up. It does no I/O.
func secopsPlugins(cfg *config.Config, st store.Store, outbox *bot.Outbox, sched *schedule.Scheduler, log *slog.Logger) (*jobs.Manager, []bot.Plugin, error) {
	jm, err := jobs.New(jobs.Options{
		Store: st, Out: outbox, Logger: log,
		MaxPerUser: cfg.Jobs.MaxPerUser, MaxRunning: cfg.Jobs.MaxRunning,
		Timeout: time.Duration(cfg.Jobs.Timeout), Retention: time.Duration(cfg.Jobs.Retention),
	})
	if err != nil {
		return nil, nil, err
	}
	var rules []scope.Rule
	for _, r := range cfg.Scope {
		rule, err := scope.Parse(r.Rooms, r.CIDRs, r.Hosts)
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, rule)
	}
	r := cfg.Scan.Repo
	sec, err := secops.New(secops.Options{
		Scope: scope.New(rules, nil), Jobs: jm, Store: st, Sched: sched, Out: outbox,
		Rate: cfg.Scan.Rate, MaxRate: cfg.Scan.MaxRate, PortTimeout: time.Duration(cfg.Scan.PortTimeout),
		MaxHosts: cfg.Scan.MaxHosts, NmapPath: cfg.Scan.Nmap, Logger: log,
		Repo: secops.RepoOptions{
			Policy: repo.Policy{AllowedHosts: r.AllowedHosts, AllowFileURLs: r.AllowFileURLs, Paths: r.Paths},
			Repos:  r.Repos, Timeout: time.Duration(r.Timeout), MaxBytes: r.MaxBytes,
		},
		OSVDir: cfg.OSV.Dir,
		Monitor: secops.MonitorOptions{
			Failures: cfg.Monitors.Failures, History: cfg.Monitors.History, MinEvery: time.Duration(cfg.Monitors.MinEvery),
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return jm, []bot.Plugin{&jobsplugin.Plugin{Jobs: jm}, sec}, nil
}
