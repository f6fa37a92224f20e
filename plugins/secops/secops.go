// Package secops brings the scanners into the room: port scans with a
// baseline per target, scheduled scans that report only what changed, web
// and certificate checks, and DNS lookups. Every scan is checked against
// the configured scope before a packet leaves, runs as a job, and its
// commands are sensitive, with one permission each.
package secops

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/scan/deps"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/scope"
	"github.com/seipbot/seipbot/store"
)

// Options are what the plugin needs.
type Options struct {
	Scope *scope.Scope
	Jobs  *jobs.Manager
	Store store.Store
	Sched *schedule.Scheduler
	Out   jobs.DurableSender
	// Resolver answers "dns"; nil means the system's.
	Resolver Resolver
	// Rate and MaxRate are the default and the highest connection
	// attempts per second of a port scan.
	Rate, MaxRate int
	PortTimeout   time.Duration
	// MaxHosts bounds the addresses of one scan.
	MaxHosts int
	// NmapPath is the nmap binary; empty looks in PATH.
	NmapPath string
	// Repo says which repositories "scan repo" may read.
	Repo RepoOptions
	// OSVDir is the offline OSV database; empty turns dependency checks
	// and "cve" off.
	OSVDir string
	// Monitor tunes health monitors.
	Monitor MonitorOptions
	// Roots verifies certificates; nil means the system's.
	Roots  *x509.CertPool
	Logger *slog.Logger
	Now    func() time.Time
}

// Plugin is the security operations plugin.
type Plugin struct {
	o   Options
	log *slog.Logger

	// The OSV database, loaded on first use and again when its folder
	// changes.
	osvMu  sync.Mutex
	osvDB  *deps.DB
	osvMod time.Time
}

// New returns the plugin and registers its scheduled scans with
// opts.Sched.
func New(opts Options) (*Plugin, error) {
	if opts.Scope == nil || opts.Jobs == nil || opts.Store == nil || opts.Sched == nil || opts.Out == nil {
		return nil, errors.New("secops: scope, jobs, store, scheduler and outbox are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Monitor.Failures <= 0 {
		opts.Monitor.Failures = 3
	}
	if opts.Monitor.History <= 0 {
		opts.Monitor.History = 100
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	p := &Plugin{o: opts, log: opts.Logger}
	opts.Sched.Handle(scheduledKind, p.scheduled)
	opts.Sched.Handle(certWatchKind, p.watchCheck)
	opts.Sched.Handle(monitorKind, p.monitorCheck)
	return p, nil
}

// Name returns "secops".
func (p *Plugin) Name() string { return "secops" }

// Register declares the commands.
func (p *Plugin) Register(r *bot.Registry) error {
	p.registerPorts(r)
	p.registerWeb(r)
	p.registerLookups(r)
	p.registerRepo(r)
	p.registerMonitors(r)
	return nil
}

// check approves the target argument of m against the room's scope, as a
// user error when it is refused.
func (p *Plugin) check(ctx context.Context, m *bot.Message, prefix netip.Prefix, name string) (scope.Target, error) {
	t, err := p.o.Scope.Check(ctx, m.Room, prefix, name)
	return t, userScopeError(err)
}

// userScopeError shows a scope refusal to the user as it is.
func userScopeError(err error) error {
	if errors.Is(err, scope.ErrOutOfScope) {
		return &bot.UserError{Msg: err.Error(), Err: err}
	}
	return err
}
