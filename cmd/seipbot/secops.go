package main

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/jobs"
	secopsplugin "github.com/seipbot/seipbot/plugins/secops"
	"github.com/seipbot/seipbot/scan/repo"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/scope"
	"github.com/seipbot/seipbot/store"

	jobsplugin "github.com/seipbot/seipbot/plugins/jobs"
)

// secops is the wired security operations: the job manager, the scan
// scope, and the plugins that scan, watch and look things up.
type secops struct {
	jobs    *jobs.Manager
	scope   *scope.Scope
	plugins []bot.Plugin
}

// secopsPlugins wires the security operations; mayNotify decides which
// rooms hear job results, replica names this process when replicas share
// st (empty otherwise) and held is the queue its running jobs are held in
// then, and in gets the command of a job run again after its replica died
// (jobs.rerun). It does no I/O.
func secopsPlugins(cfg *config.Config, st store.Store, outbox *bot.Outbox, sched *schedule.Scheduler, mayNotify func(room, topic string) bool, replica string, held jobs.Holdings, in bot.Inbox, log *slog.Logger) (*secops, error) {
	var rerun func(context.Context, jobs.Job)
	if cfg.Jobs.Rerun && held != nil {
		rerun = func(ctx context.Context, j jobs.Job) {
			// The command goes through the whole chain again, as its
			// owner: authorized and audited anew, claimed once by its id.
			in.Receive(ctx, &bot.Message{
				ID: "rerun-" + j.ID, Adapter: j.Adapter, Room: j.Room, Direct: j.Direct, Thread: j.Thread,
				User: bot.User{ID: j.Owner, Name: j.OwnerName}, Text: cfg.Name + ": " + j.Title, Time: time.Now(),
			})
		}
	}
	jm, err := jobs.New(jobs.Options{
		Store: st, Out: outbox, Logger: log, MayNotify: mayNotify, Replica: replica, Shared: held, Rerun: rerun, Heartbeat: jobHeartbeat,
		MaxPerUser: cfg.Jobs.MaxPerUser, MaxRunning: cfg.Jobs.MaxRunning,
		Timeout: time.Duration(cfg.Jobs.Timeout), Retention: time.Duration(cfg.Jobs.Retention),
	})
	if err != nil {
		return nil, err
	}
	var rules []scope.Rule
	for _, r := range cfg.Scope {
		rule, err := scope.Parse(r.Rooms, r.CIDRs, r.Hosts)
		if err != nil {
			return nil, err
		}
		rules = append(rules, rule)
	}
	sc := scope.New(rules, nil)
	r := cfg.Scan.Repo
	sec, err := secopsplugin.New(secopsplugin.Options{
		Scope: sc, Jobs: jm, Store: st, Sched: sched, Out: outbox,
		Rate: cfg.Scan.Rate, MaxRate: cfg.Scan.MaxRate, PortTimeout: time.Duration(cfg.Scan.PortTimeout),
		MaxHosts: cfg.Scan.MaxHosts, NmapPath: cfg.Scan.Nmap, Logger: log,
		Repo: secopsplugin.RepoOptions{
			Policy: repo.Policy{AllowedHosts: r.AllowedHosts, AllowFileURLs: r.AllowFileURLs, Paths: r.Paths},
			Repos:  r.Repos, Timeout: time.Duration(r.Timeout), MaxBytes: r.MaxBytes,
		},
		OSVDir: cfg.OSV.Dir,
		Monitor: secopsplugin.MonitorOptions{
			Failures: cfg.Monitors.Failures, History: cfg.Monitors.History, MinEvery: time.Duration(cfg.Monitors.MinEvery),
		},
	})
	if err != nil {
		return nil, err
	}
	return &secops{jobs: jm, scope: sc, plugins: []bot.Plugin{&jobsplugin.Plugin{Jobs: jm}, sec}}, nil
}

// inScope vets a script plugin's target argument (an address, a CIDR or a
// host name) against the scan scope of the room it was typed in.
func (s *secops) inScope(ctx context.Context, room, target string) error {
	if p, err := netip.ParsePrefix(target); err == nil {
		_, err = s.scope.Check(ctx, room, p, "")
		return err
	}
	if a, err := netip.ParseAddr(target); err == nil {
		_, err = s.scope.Check(ctx, room, netip.PrefixFrom(a, a.BitLen()), "")
		return err
	}
	_, err := s.scope.Check(ctx, room, netip.Prefix{}, target)
	return err
}

// scriptJobs runs the script plugins' long commands as jobs: progress lines
// go to the job's thread and the result is reported like any job's.
type scriptJobs struct {
	jobs *jobs.Manager
	out  bot.Sender
}

func (s scriptJobs) Start(ctx context.Context, m *bot.Message, title string, work func(context.Context, bot.Responder) error) error {
	spec := jobs.SpecFor(m)
	spec.Title = title
	_, err := s.jobs.Start(ctx, s.out, spec, func(ctx context.Context, progress func(string)) (string, error) {
		return "", work(ctx, progressResponder{progress: progress, out: s.out})
	})
	return err
}

// progressResponder turns a job's replies into progress lines.
type progressResponder struct {
	progress func(string)
	out      bot.Sender
}

func (p progressResponder) Reply(_ context.Context, text string) error {
	p.progress(text)
	return nil
}

func (p progressResponder) Send(ctx context.Context, r bot.Response) error {
	return p.out.Send(ctx, r)
}
