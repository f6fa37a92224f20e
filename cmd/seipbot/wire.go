package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/seipbot/seipbot/access"
	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/audit"

	"github.com/seipbot/seipbot/adapter/irc"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bus"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/ingest"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/keys/awskms"
	alertsplugin "github.com/seipbot/seipbot/plugins/alerts"
	"github.com/seipbot/seipbot/plugins/canned"
	"github.com/seipbot/seipbot/plugins/help"
	"github.com/seipbot/seipbot/plugins/info"
	"github.com/seipbot/seipbot/plugins/remind"
	"github.com/seipbot/seipbot/plugins/script"
	"github.com/seipbot/seipbot/plugins/smalltalk"
	"github.com/seipbot/seipbot/plugins/worldtime"
	"github.com/seipbot/seipbot/queue"
	"github.com/seipbot/seipbot/replica"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/redis"
	"github.com/seipbot/seipbot/store/sealed"
)

// commonFlags are the flags every command that reads the configuration
// takes.
type commonFlags struct {
	config  string
	dataDir string
}

// setup adds the common flags to fs, parses args and loads the
// configuration.
func (c *cli) setup(fs *flag.FlagSet, args []string) (*config.Config, error) {
	f := registerCommon(fs)
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return c.load(*f)
}

// registerCommon adds --config and --data-dir to fs.
func registerCommon(fs *flag.FlagSet) *commonFlags {
	var f commonFlags
	fs.StringVar(&f.config, "config", "", "configuration file (YAML); SEIPBOT_* variables override it")
	fs.StringVar(&f.dataDir, "data-dir", "", "folder for the bot's data (default: data_dir from the configuration)")
	return &f
}

// load reads the configuration: defaults, the file, the environment, and
// last the command-line flags.
func (c *cli) load(f commonFlags) (*config.Config, error) {
	env := c.env
	if f.dataDir != "" {
		env = append(env[:len(env):len(env)], "SEIPBOT_DATA_DIR="+f.dataDir)
	}
	return config.Load(f.config, env)
}

// logger builds the process logger: text on a terminal, JSON otherwise.
func (c *cli) logger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level, AddSource: cfg.Log.Source}
	format := cfg.Log.Format
	if format == "auto" || format == "" {
		format = "json"
		if isTerminal(c.stderr) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(c.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(c.stderr, opts))
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// keyFile is where the shell keeps the key it made for itself.
const keyFile = "secret.key"

// errNoKey explains what run needs.
var errNoKey = errors.New("no secret key is configured: set SEIPBOT_SECRET_KEY or SEIPBOT_SECRET_KEY_FILE (make a key with \"seipbot keygen\"), or secret_key_provider")

// keyring returns the configured keyring: from the key provider, or from
// secret_key. With create set (the shell) and neither configured, it uses
// the key file in the data dir, making one the first time and saying so.
func (c *cli) keyring(ctx context.Context, cfg *config.Config, create bool) (*sealed.Keyring, error) {
	if cfg.SecretKeyProvider != nil {
		p, err := keyProvider(cfg.SecretKeyProvider)
		if err != nil {
			return nil, err
		}
		kr, err := p.Load(ctx)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("secret_key_provider: %w; make the keyring with \"seipbot keygen --kms\"", err)
		}
		if err != nil {
			return nil, fmt.Errorf("secret_key_provider: %w", err)
		}
		return kr, nil
	}
	if k := cfg.SecretKey.Reveal(); k != "" {
		kr, err := sealed.ParseKeyring(k)
		if err != nil {
			return nil, fmt.Errorf("secret_key: %w", err)
		}
		return kr, nil
	}
	if !create {
		return nil, errNoKey
	}
	path := filepath.Join(cfg.DataDir, keyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := sealed.NewKey()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write key file: %w", err)
		}
		fmt.Fprintf(c.stderr, "seipbot: created a secret key in %s; the data in %s cannot be read without it.\n", path, cfg.DataDir)
		b = []byte(k)
	} else if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	kr, err := sealed.ParseKeyring(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

// keyProvider connects to the configured key provider. Validate has made
// sure its kind is aws-kms, the only one.
func keyProvider(p *config.SecretKeyProvider) (*awskms.Provider, error) {
	client, err := awskms.NewClient(p.Region, p.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("secret_key_provider: %w", err)
	}
	return &awskms.Provider{Client: client, KeyID: p.KeyID, Path: p.KeyringFile}, nil
}

// openStore opens the configured backend, sealed with kr. With Redis it
// also returns the store's client, through which the replicas coordinate;
// it stays open until the store is closed.
func openStore(cfg *config.Config, kr *sealed.Keyring, log *slog.Logger) (*sealed.Store, string, goredis.UniversalClient, error) {
	var raw store.Store
	var desc string
	var shared goredis.UniversalClient
	switch cfg.Store.Kind {
	case "memory":
		raw, desc = memory.New(), "memory"
	case "redis":
		r, err := openRedis(cfg.Store, log)
		if err != nil {
			return nil, "", nil, err
		}
		raw, desc, shared = r, "redis", r.Client()
	default:
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
			return nil, "", nil, fmt.Errorf("create data dir: %w", err)
		}
		b, err := bolt.Open(cfg.Store.Path, bolt.Options{Logger: log})
		if errors.Is(err, bolt.ErrLocked) {
			return nil, "", nil, fmt.Errorf("%s is in use by another seipbot; stop it or use another --data-dir", cfg.Store.Path)
		}
		if err != nil {
			return nil, "", nil, err
		}
		raw, desc = b, "bolt "+cfg.Store.Path
	}
	return sealed.New(raw, kr), desc + " (sealed)", shared, nil
}

// openRedis opens the Redis store. A server that does not answer yet is
// only logged: the client reconnects by itself, and until then commands
// are answered "storage unavailable".
func openRedis(s config.Store, log *slog.Logger) (*redis.Store, error) {
	tc, err := redisTLS(s.TLS)
	if err != nil {
		return nil, err
	}
	// go-redis logs reconnection trouble with the standard library's
	// logger, whose plain lines would break a JSON log.
	goredis.SetLogger(redisLog{log})
	r, err := redis.Open(redis.ClientOptions{
		URL: s.URL, Addrs: s.Addrs, MasterName: s.MasterName,
		Username: s.Username, Password: s.Password.Reveal(), TLS: tc,
	}, s.KeyPrefix)
	if err != nil {
		return nil, fmt.Errorf("store.url: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Client().Ping(ctx).Err(); err != nil {
		log.Warn("redis does not answer yet; retrying as the bot runs", "err", redis.Err(ctx, err))
	}
	return r, nil
}

// redisLog sends go-redis's log lines to the bot's log.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// redisTLS returns the TLS settings for Redis, or nil when store.tls sets
// none (a rediss:// URL then still uses TLS with the system's roots).
func redisTLS(t config.TLS) (*tls.Config, error) {
	if t == (config.TLS{}) {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store.tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store.tls.ca_file: %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("store.tls: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// app is a wired bot with everything it owns.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	st    store.Store
	bot   *bot.Bot
	sched *schedule.Scheduler
	auth  *access.Authorizer
	audit *audit.Log
	// policyNote says in the audit log which policy the bot runs under.
	policyNote string
	// scripts is the plugins folder, nil when none is configured.
	scripts *script.Folder
	jobs    *jobs.Manager
	// alerts is fed by web, the webhook server, which is nil unless
	// http.listen is set.
	alerts *alert.Manager
	web    *ingest.Server
	// lease, when set, is the scheduler's: replicas share the store, and
	// only the one holding the lease runs the scheduler.
	lease *replica.Lease
	// soloLease, when set, returns the lease under which an adapter
	// that may keep one connection (IRC) runs on one replica at a time.
	soloLease func(adapter string) *replica.Lease
	// bus, when set, carries word of reminders set or cancelled on any
	// replica to the one running the scheduler.
	bus bus.Bus
}

// addAdapter adds ad to the bot. With replicas, an adapter that may keep
// only one connection and gives no message ids to claim by (IRC: one nick)
// runs on one replica at a time, under a lease of its own.
func (a *app) addAdapter(ad bot.Adapter) {
	if _, one := ad.(*irc.Adapter); one && a.soloLease != nil {
		ad = replica.NewSolo(ad, a.soloLease(ad.Name()))
	}
	a.bot.AddAdapter(ad)
}

// deliveryIdle is how long a durable response one replica took from the
// shared outbox queue may go without word from it before another replica
// delivers it instead: long enough that a live replica always says it
// still holds it (every third of this), short enough that an alert does
// not wait long for a dead replica.
const deliveryIdle = 15 * time.Second

// jobHeartbeat is how often a replica says it still runs its jobs; three
// missed, another replica takes them over.
const jobHeartbeat = 5 * time.Second

// scheduleTopic is where a replica says it changed the stored entries.
const scheduleTopic = "schedule.changed"

// wiring is what wire needs besides the configuration and the store.
type wiring struct {
	// shared, when set (Redis), makes the bot one of several replicas: it
	// claims each message and runs the scheduler only while it leads.
	shared goredis.UniversalClient
	// owner, when not empty, holds every permission if no access policy
	// is configured.
	owner string
	// keys derive the audit log's checkpoint keys.
	keys *sealed.Keyring
	// mirror receives a copy of each audit record, or is nil.
	mirror io.Writer
}

// wire builds the bot and its plugins on st. It does no I/O but reading
// the plugin manifests.
func wire(cfg *config.Config, st store.Store, storeDesc string, log *slog.Logger, w wiring) (*app, error) {
	outbox := bot.NewOutbox(st, log, bot.Backoff{})
	pol, note := policy(cfg, w.owner)
	auth, err := access.New(pol, access.Options{Notify: outbox})
	if err != nil {
		return nil, err
	}
	if pol.SecurityRoom != "" && !auth.MayNotify(pol.SecurityRoom, access.TopicDenials) {
		log.Warn("access.notifications keeps denial notices from access.security_room; repeated refusals go only to the audit log", "room", pol.SecurityRoom, "topic", access.TopicDenials)
	}
	approvals := access.NewApprovals(auth, st, w.keys.Derive("approvals"), nil)
	auditLog, err := audit.New(st, audit.Options{Keys: w.keys.DeriveAll("audit"), Mirror: w.mirror, Logger: log})
	if err != nil {
		return nil, err
	}
	schedOpts := schedule.Options{Logger: log, Location: cfg.Location()}
	var claimer bot.Claimer
	var lease *replica.Lease
	var events bus.Bus
	var holder string // this replica's name, when there are replicas
	var soloLease func(string) *replica.Lease
	var heldJobs jobs.Holdings
	if w.shared != nil {
		holder = replicaName()
		soloLease = func(adapter string) *replica.Lease {
			return replica.NewLease(w.shared, cfg.Store.KeyPrefix, replica.LeaseOptions{Name: "adapter-" + adapter, Holder: holder, Logger: log})
		}
		claimer = replica.NewRedisClaimer(w.shared, cfg.Store.KeyPrefix, holder)
		heldJobs = queue.New(w.shared, cfg.Store.KeyPrefix, queue.Options{
			Name: "jobs", Consumer: holder, MinIdle: 3 * jobHeartbeat, Keyring: w.keys, Logger: log,
		})
		outbox.ShareThrough(func(adapter string) bot.WorkQueue {
			return queue.New(w.shared, cfg.Store.KeyPrefix, queue.Options{
				Name: "outbox:" + adapter, Consumer: holder, MinIdle: deliveryIdle, Keyring: w.keys, Logger: log,
			})
		}, deliveryIdle/3)
		lease = replica.NewLease(w.shared, cfg.Store.KeyPrefix, replica.LeaseOptions{Name: "scheduler", Holder: holder, Logger: log})
		events = bus.NewRedis(w.shared, w.keys, cfg.Store.KeyPrefix, log)
		schedOpts.Leader = lease
		// The leader hears of reminders set on other replicas over the
		// bus; reading the store every half minute catches any word the
		// bus lost (it delivers at most once).
		schedOpts.Poll = 30 * time.Second
		schedOpts.Changed = func(ctx context.Context) {
			if err := events.Publish(ctx, scheduleTopic, nil); err != nil {
				log.Warn("telling the other replicas of a changed reminder failed; the leader sees it at its next poll", "err", err)
			}
		}
	}
	sched, err := schedule.New(st, schedOpts)
	if err != nil {
		return nil, err
	}
	if err := scheduleMessages(cfg, sched, outbox); err != nil {
		return nil, err
	}
	// Metrics are kept only where they can be read, on the webhook
	// server's /metrics: without one (the shell, most small setups) the
	// bot spends nothing on them.
	var metrics *promMetrics
	var botMetrics bot.Metrics
	if cfg.HTTP.Listen != "" {
		metrics = newRegistry(outbox)
		botMetrics = metrics
	}
	b, err := bot.New(bot.Options{
		Claimer:        claimer,
		Metrics:        botMetrics,
		Name:           cfg.Name,
		Prefix:         cfg.Prefix,
		Rooms:          cfg.Rooms,
		CommandTimeout: time.Duration(cfg.CommandTimeout),
		RateLimit:      bot.RateLimit{PerMinute: cfg.RateLimit.PerMinute, Burst: cfg.RateLimit.Burst},
		Authorizer:     auth,
		Audit:          auditLog.Middleware,
		Approval:       approvals.Middleware,
		Outbox:         outbox,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	approvals.Inbox = b
	alerts, web, err := wireAlerts(cfg, st, outbox, sched, auth.MayNotify, metrics, log)
	if err != nil {
		return nil, err
	}
	canned, err := cannedPlugin(cfg)
	if err != nil {
		return nil, err
	}
	ops, err := secopsPlugins(cfg, st, outbox, sched, auth.MayNotify, holder, heldJobs, b, log)
	if err != nil {
		return nil, err
	}
	plugins := []bot.Plugin{
		&help.Plugin{Catalog: b.Router(), Filter: auth.Visible},
		&info.Plugin{Version: version, Bot: b, Store: storeDesc, Roles: auth.Roles},
		remind.New(sched, outbox, st, cfg.Location(), nil),
		&smalltalk.Plugin{},
		&worldtime.Plugin{},
		alertsplugin.New(alerts, nil),
		canned,
		&audit.Plugin{Log: auditLog, Store: st},
		approvals,
	}
	var scripts *script.Folder
	if cfg.Plugins.Dir != "" {
		if scripts, err = scriptFolder(cfg, outbox, ops, auth.MayNotify, log); err != nil {
			return nil, err
		}
		plugins = append(plugins, scripts.Plugins()...)
		if err := scriptApprovals(cfg, auth, scripts); err != nil {
			return nil, err
		}
	}
	if err := b.Use(append(plugins, ops.plugins...)...); err != nil {
		return nil, err
	}
	return &app{cfg: cfg, log: log, st: st, bot: b, sched: sched, auth: auth, audit: auditLog, policyNote: note, scripts: scripts, jobs: ops.jobs, alerts: alerts, web: web, lease: lease, bus: events, soloLease: soloLease}, nil
}

// topicPluginsAdmin is the notification topic of the admin room's notices
// about rejected plugin manifests.
const topicPluginsAdmin = "plugins.admin"

// scriptFolder opens the folder of script and HTTP plugins: their target
// arguments are held to the scan scope, and their long commands run as
// jobs. Manifests a reload rejects are reported in the admin room, if there
// is one and the policy lets it receive them (mayNotify).
func scriptFolder(cfg *config.Config, outbox *bot.Outbox, ops *secops, mayNotify func(room, topic string) bool, log *slog.Logger) (*script.Folder, error) {
	opts := script.Options{
		Dir: cfg.Plugins.Dir, Poll: time.Duration(cfg.Plugins.Poll), Logger: log,
		ScopeCheck: ops.inScope, Jobs: scriptJobs{jobs: ops.jobs, out: outbox},
	}
	room := cfg.Plugins.AdminRoom
	if room != "" && !mayNotify(room, topicPluginsAdmin) {
		// The policy does not change while the bot runs, so this is said
		// once here rather than at every rejected reload.
		log.Warn("access.notifications keeps plugin notices from plugins.admin_room; rejected manifests go only to the log", "room", room, "topic", topicPluginsAdmin)
		room = ""
	}
	if room != "" {
		opts.Notify = func(ctx context.Context, text string) {
			if err := outbox.Send(ctx, bot.Response{Room: room, Text: text}); err != nil {
				log.Error("tell admins about plugins", "err", err)
			}
		}
	}
	return script.Open(opts)
}

// scriptApprovals refuses to start when a plugin manifest asks for
// approvals that no access.approvals rule enforces: approvals are policy,
// held in one place, and a manifest alone must not seem to add a two-person
// rule that nothing applies. Without a policy (the shell's owner mode) no
// one else could approve, so there is nothing to check.
func scriptApprovals(cfg *config.Config, auth *access.Authorizer, scripts *script.Folder) error {
	if cfg.Access == nil {
		return nil
	}
	var errs []error
	for perm, n := range scripts.Approvals() {
		if rule, ok := auth.ApprovalRule(perm); !ok || rule.Approvals < n {
			errs = append(errs, fmt.Errorf("plugins: a manifest asks for %d approval(s) for %q; add an access.approvals rule for that permission with approvals: %d or more", n, perm, n))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// replicaName names this process among the bot's replicas, in claims and
// the lease, readably (host and pid) and uniquely (a random suffix, since
// containers often share a host name and pid 1).
func replicaName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:6])
}

// cannedPlugin makes the plugin for the configuration's commands: and
// hears: sections.
func cannedPlugin(cfg *config.Config) (*canned.Plugin, error) {
	var cmds []canned.CommandRule
	for _, c := range cfg.Commands {
		cmds = append(cmds, canned.CommandRule{Command: c.Command, Reply: c.Reply, Help: c.Help})
	}
	var hears []canned.HearRule
	for _, h := range cfg.Hears {
		hears = append(hears, canned.HearRule{Pattern: h.Pattern, Reply: h.Reply, Help: h.Help})
	}
	return canned.New(cmds, hears)
}

// run runs the scheduler, the job manager, the plugins folder's reloads and
// the webhook server beside the bot until the bot stops, with the audit log
// open.
func (a *app) run(ctx context.Context) error {
	if err := a.audit.Open(ctx); err != nil {
		return err
	}
	defer a.audit.Close()
	a.audit.Add(audit.Record{Kind: "policy", Detail: a.policyNote})
	stopWeb, err := a.startWebhooks(ctx)
	if err != nil {
		return err
	}
	sideCtx, stopSide := context.WithCancel(ctx)
	beside := []func(context.Context) error{a.runScheduler, a.jobs.Run}
	if a.scripts != nil {
		beside = append(beside, a.scripts.Run)
	}
	done := make(chan error, len(beside))
	for _, run := range beside {
		go func() { done <- run(sideCtx) }()
	}
	err = a.bot.Run(ctx)
	err = errors.Join(err, stopWeb())
	stopSide()
	for range beside {
		// Canceled means stopped while loading, because the bot was done
		// first.
		if e := <-done; e != nil && !errors.Is(e, context.Canceled) {
			err = errors.Join(err, e)
		}
	}
	return err
}

// runScheduler runs the scheduler: at once when the bot is alone, and
// otherwise during each term this replica holds the lease, refreshing it
// whenever another replica says it changed the entries.
func (a *app) runScheduler(ctx context.Context) error {
	if a.lease == nil {
		return a.sched.Run(ctx)
	}
	go a.followChanges(ctx)
	return a.lease.Run(ctx, func(ctx context.Context) {
		if err := a.sched.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("the scheduler stopped; campaigning again", "err", err)
		}
	})
}

// followChanges refreshes the scheduler whenever a replica says it changed
// the entries, until ctx is done; a lost subscription is taken again.
func (a *app) followChanges(ctx context.Context) {
	for ctx.Err() == nil {
		changes, err := a.bus.Subscribe(ctx, scheduleTopic)
		if err != nil {
			a.log.Warn("listening for changed reminders failed; trying again", "err", err)
			bot.Sleep(ctx, 5*time.Second)
			continue
		}
		for range changes {
			a.sched.Refresh()
		}
	}
}

// defaultUser is the OS user's name, the shell's identity by default.
func defaultUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return "user"
}

// closeQuietly closes c, logging a failure.
func closeQuietly(c io.Closer, log *slog.Logger) {
	if err := c.Close(); err != nil {
		log.Error("close", "err", err)
	}
}
