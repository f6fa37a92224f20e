// Package script adds commands that a team declares in YAML manifests
// instead of Go: script plugins, which run an executable, and http
// plugins, which call a JSON API and render its answer with a template.
//
// A plugins folder holds one manifest per plugin, NAME.yaml, where NAME is
// the plugin's name; a script plugin's executable sits next to it. Every
// command runs behind the bot's middleware like a built-in one, with the
// permission its manifest declares (plugins.NAME when it declares none).
//
// A program never runs through a shell: it gets an argv of its path, "--"
// and one element per declared argument, a JSON request on its standard
// input, an environment of PATH=/usr/bin:/bin and the variables its
// manifest allows, a process group of its own that is killed whole on
// timeout or cancel, and a cap on what it may print.
//
// Manifests reload while the bot runs, from a poll of the folder or the
// "plugins reload" command. The router is built once at start-up, so the
// bot registers each command once with a handler that looks up the current
// manifest: a reload can change what a command runs (program, folder,
// variables, timeout, output, argument patterns, request and template),
// but a manifest that adds or renames commands or changes their arguments,
// help or permissions is reported as needing a restart and the old version
// stays, as it does for a manifest that does not parse.
package script

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Options configure a Folder.
type Options struct {
	// Dir is the plugins folder.
	Dir string
	// Poll is how often the folder is checked for changed manifests; zero
	// checks only on "plugins reload".
	Poll   time.Duration
	Logger *slog.Logger
	// LookupEnv reads the bot's environment, for env allowlists, base URLs
	// and secret headers; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ScopeCheck, when set, vets every target argument (a host, address
	// or CIDR) against the scan scope before anything runs; an error
	// refuses the command. Nil checks nothing.
	ScopeCheck func(ctx context.Context, room, target string) error
	// Jobs, when set, runs the commands whose manifests mark them job:
	// true; without it they run in the handler like the others.
	Jobs Jobs
	// Notify, when set, tells admins about manifests a reload rejected.
	Notify func(ctx context.Context, text string)
	// MaxOutput caps what a program may print; the rest is cut with a
	// note. Default 64 KiB.
	MaxOutput int
}

// Jobs runs long work away from the chat handler, so it is bounded by its
// own timeout rather than the bot's command_timeout and reports progress
// where the jobs package chooses. It is the seam for the jobs package.
type Jobs interface {
	// Start queues work on behalf of m and returns once it is queued.
	// work answers through the Responder it is given, and its ctx ends
	// when the job is cancelled.
	Start(ctx context.Context, m *bot.Message, title string, work func(ctx context.Context, w bot.Responder) error) error
}

// Folder is the loaded plugins folder.
type Folder struct {
	opts   Options
	log    *slog.Logger
	client *http.Client

	mu       sync.RWMutex
	current  map[string]*manifest // valid manifests by plugin name
	seen     map[string][]byte    // each file's content when last read
	problems map[string]error     // by file: why its content is not in use
	// registered holds, by plugin name, the declarations the router has;
	// nil until Plugins is called, after which no new command can appear.
	registered map[string][]bot.Command
}

// Open reads the manifests in opts.Dir. A manifest that is not valid is
// logged and left out; only a folder that cannot be read is an error.
func Open(opts Options) (*Folder, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = 64 << 10
	}
	f := &Folder{
		opts: opts,
		log:  opts.Logger,
		client: &http.Client{
			// A redirect would carry custom secret headers (X-Api-Key) to
			// whatever host it names; an API that moved is fixed in its
			// manifest instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		current:  map[string]*manifest{},
		seen:     map[string][]byte{},
		problems: map[string]error{},
	}
	if _, _, err := f.scan(); err != nil {
		return nil, err
	}
	return f, nil
}

// Report says what a reload did.
type Report struct {
	Loaded  []string // plugins loaded or replaced
	Removed []string // plugins whose manifest is gone
	// Problems are the manifests whose current content is not in use,
	// and why; the version before it stays in use.
	Problems []error
}

// String renders the report as the reload command answers it.
func (r Report) String() string {
	var b strings.Builder
	switch {
	case len(r.Loaded) == 0 && len(r.Removed) == 0:
		b.WriteString("No plugin changed.")
	default:
		if len(r.Loaded) > 0 {
			fmt.Fprintf(&b, "Loaded: %s.", strings.Join(r.Loaded, ", "))
		}
		if len(r.Removed) > 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "Removed: %s.", strings.Join(r.Removed, ", "))
		}
	}
	if len(r.Problems) > 0 {
		b.WriteString("\nNot loaded, the previous version stays:")
		for _, p := range r.Problems {
			b.WriteString("\n- " + p.Error())
		}
	}
	return b.String()
}

// Reload reads the folder again. Admins are told about new problems.
func (f *Folder) Reload(ctx context.Context) (Report, error) {
	rep, fresh, err := f.scan()
	rep.Problems = f.problemList()
	if err == nil && len(fresh) > 0 && f.opts.Notify != nil {
		var b strings.Builder
		b.WriteString("Plugin manifests not loaded; the previous versions stay:")
		for _, p := range fresh {
			b.WriteString("\n- " + p.Error())
		}
		f.opts.Notify(ctx, b.String())
	}
	return rep, err
}

// Run reloads the folder every Poll until ctx ends.
func (f *Folder) Run(ctx context.Context) error {
	if f.opts.Poll <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(f.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := f.Reload(ctx); err != nil {
				f.log.Error("plugins folder", "err", err)
			}
		}
	}
}

// problemList returns the manifests not in use and why, by file name.
func (f *Folder) problemList() []error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []error
	files := make([]string, 0, len(f.problems))
	for file := range f.problems {
		files = append(files, file)
	}
	slices.Sort(files)
	for _, file := range files {
		out = append(out, f.problems[file])
	}
	return out
}

// scan reads every manifest whose content changed since the last scan. It
// reports what it loaded and removed, and the problems that were not known
// before.
func (f *Folder) scan() (rep Report, fresh []error, err error) {
	entries, err := os.ReadDir(f.opts.Dir)
	if err != nil {
		return rep, nil, fmt.Errorf("plugins: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	present := map[string]bool{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || ext != ".yaml" && ext != ".yml" {
			continue
		}
		file := filepath.Join(f.opts.Dir, e.Name())
		present[file] = true
		data, err := os.ReadFile(file)
		if err != nil {
			err = fmt.Errorf("%s: %w", file, err)
		} else if bytes.Equal(data, f.seen[file]) {
			continue
		} else {
			f.seen[file] = data
			var name string
			if name, err = f.load(file, data); err == nil {
				rep.Loaded = append(rep.Loaded, name)
			}
		}
		if err != nil {
			if prev := f.problems[file]; prev == nil || prev.Error() != err.Error() {
				fresh = append(fresh, err)
				f.log.Error("plugin manifest not loaded; the previous version stays", "err", err)
			}
			f.problems[file] = err
			continue
		}
		delete(f.problems, file)
	}
	for file := range f.seen {
		if present[file] {
			continue
		}
		delete(f.seen, file)
		delete(f.problems, file)
		for name, m := range f.current {
			if m.file == file {
				delete(f.current, name)
				rep.Removed = append(rep.Removed, name)
				f.log.Info("plugin removed", "plugin", name)
			}
		}
	}
	slices.Sort(rep.Loaded)
	slices.Sort(rep.Removed)
	return rep, fresh, nil
}

// load parses one manifest and puts it in use if it may replace what is
// there, and returns the plugin's name. f.mu is held.
func (f *Folder) load(file string, data []byte) (string, error) {
	m, err := parseManifest(file, data)
	if err != nil {
		return "", err
	}
	if f.registered != nil {
		old, ok := f.registered[m.name]
		if !ok {
			return "", fmt.Errorf("%s: the plugin is new; restart the bot to add its commands", file)
		}
		if !reflect.DeepEqual(old, m.botCommands()) {
			return "", fmt.Errorf("%s: the change adds, removes or redeclares commands (words, arguments, help or permissions), which takes a restart", file)
		}
	}
	for name, other := range f.current {
		if name == m.name {
			continue
		}
		for _, c := range m.Commands {
			if other.lookup(c.Words) != nil {
				return "", fmt.Errorf("%s: command %q is already declared by plugin %s", file, c.Words, name)
			}
		}
	}
	f.current[m.name] = m
	f.log.Info("plugin loaded", "plugin", m.name, "file", file)
	return m.name, nil
}

// Approvals returns, by permission, how many approvals the manifests'
// commands ask for. bot.Command has no field for them, because access
// control keeps approval rules by permission; this is what to hand it.
func (f *Folder) Approvals() map[string]int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := map[string]int{}
	for _, m := range f.current {
		for _, c := range m.Commands {
			if c.Approvals > 0 {
				out[c.Permission] = max(out[c.Permission], c.Approvals)
			}
		}
	}
	return out
}

// Plugins returns a bot.Plugin for each loaded manifest, and the "plugins"
// plugin with the reload command. What they declare is fixed from here on:
// the router is built once, so a later manifest may change how a command
// runs but not which commands there are.
func (f *Folder) Plugins() []bot.Plugin {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registered = map[string][]bot.Command{}
	names := make([]string, 0, len(f.current))
	for name := range f.current {
		names = append(names, name)
	}
	slices.Sort(names)
	out := []bot.Plugin{admin{f}}
	for _, name := range names {
		decls := f.current[name].botCommands()
		f.registered[name] = decls
		out = append(out, manifestPlugin{f: f, name: name, decls: decls})
	}
	return out
}

// manifestPlugin registers one manifest's commands as they were declared
// when Plugins was called.
type manifestPlugin struct {
	f     *Folder
	name  string
	decls []bot.Command
}

func (p manifestPlugin) Name() string { return p.name }

func (p manifestPlugin) Register(r *bot.Registry) error {
	for _, c := range p.decls {
		c.Handler = p.f.handler(p.name, c.Words)
		r.Command(c)
	}
	return nil
}

// handler runs the command words of plugin as its manifest says now.
func (f *Folder) handler(plugin, words string) bot.Handler {
	return bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
		f.mu.RLock()
		p := f.current[plugin]
		f.mu.RUnlock()
		// A manifest is never changed once loaded, only replaced, so p
		// needs no lock from here on.
		var c *command
		if p != nil {
			c = p.lookup(words)
		}
		if c == nil {
			return bot.Userf("%q has been removed from the bot's plugins; ask an admin if you still need it.", words)
		}
		args, err := f.checkArgs(ctx, c, m)
		if err != nil {
			return err
		}
		work := func(ctx context.Context, w bot.Responder) error {
			if p.Type == "http" {
				return f.runHTTP(ctx, w, m, p, c, args)
			}
			return f.runProgram(ctx, w, m, p, c, args)
		}
		if c.Job && f.opts.Jobs != nil {
			return f.opts.Jobs.Start(ctx, m, c.Words, work)
		}
		return work(ctx, w)
	})
}

// namedValue is one argument as a program or URL receives it.
type namedValue struct {
	name, value string
}

// checkArgs applies the checks the bot does not know about, patterns and
// the scan scope, and returns every declared argument in order; one not
// given is empty, a flag is "true" or "false".
func (f *Folder) checkArgs(ctx context.Context, c *command, m *bot.Message) ([]namedValue, error) {
	in := m.Args
	out := make([]namedValue, 0, len(c.Args))
	for _, a := range c.Args {
		v := in.String(a.Name)
		given := in.Has(a.Name)
		switch kinds[a.Kind] {
		case bot.Bool:
			v = fmt.Sprint(in.Bool(a.Name))
		case bot.Target:
			if !given {
				break
			}
			prefix, host := in.Target(a.Name)
			switch {
			case host != "":
				v = host
			case prefix.IsSingleIP():
				v = prefix.Addr().String()
			default:
				v = prefix.String()
			}
			if f.opts.ScopeCheck != nil {
				if err := f.opts.ScopeCheck(ctx, m.Room, v); err != nil {
					return nil, &bot.UserError{Msg: fmt.Sprintf("%s is outside the scope this bot may touch; ask an admin to add it to the scan scope.", v), Err: err}
				}
			}
		}
		if given && a.re != nil && !a.re.MatchString(v) {
			return nil, bot.Userf("<%s> %q is not in the form %q expects; see \"help %s\".", a.Name, v, c.Words, c.Words)
		}
		out = append(out, namedValue{a.Name, v})
	}
	return out, nil
}

// admin is the "plugins" plugin: the reload command.
type admin struct{ f *Folder }

func (admin) Name() string { return "plugins" }

func (a admin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words:      "plugins reload",
		Help:       "read the plugin manifests again and report what changed",
		Permission: "plugins.admin",
		Sensitive:  true,
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			rep, err := a.f.Reload(ctx)
			if err != nil {
				return err
			}
			return w.Reply(ctx, rep.String())
		}),
	})
	return nil
}

var (
	_ bot.Plugin = admin{}
	_ bot.Plugin = manifestPlugin{}
)
