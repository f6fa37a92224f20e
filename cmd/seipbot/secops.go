package main

import (
	"log/slog"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/schedule"
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
	plugins := []bot.Plugin{
		&jobsplugin.Plugin{Jobs: jm},
	}
	return jm, plugins, nil
}
