package script

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/template"
)

// manifest is one plugin as its YAML file declares it, checked and with
// its paths made absolute. Only Folder reads it, under its lock.
type manifest struct {
	name string // the file's base name without .yaml
	file string

	Type     string     `yaml:"type"` // script (the default) or http
	Program  string     `yaml:"program"`
	Dir      string     `yaml:"dir"`
	Env      []string   `yaml:"env"`
	Timeout  string     `yaml:"timeout"`
	Output   string     `yaml:"output"`
	HTTP     *httpSpec  `yaml:"http"`
	Commands []*command `yaml:"commands"`

	timeout time.Duration
}

// command is one command of a manifest.
type command struct {
	Words      string   `yaml:"words"`
	Help       string   `yaml:"help"`
	Examples   []string `yaml:"examples"`
	Args       []*arg   `yaml:"args"`
	Permission string   `yaml:"permission"`
	Sensitive  bool     `yaml:"sensitive"`
	// Approvals is how many other people must approve a run. bot.Command
	// has no field for it: access control holds approvals by permission,
	// so Folder.Approvals hands these to whoever configures it.
	Approvals int `yaml:"approvals"`
	// Job marks a command that may run long, for Options.Jobs.
	Job bool `yaml:"job"`

	// For http plugins: the request and the reply's template.
	Method   string `yaml:"method"`
	Path     string `yaml:"path"`
	Template string `yaml:"template"`

	tmpl *template.Template
	path *urlTemplate
}

// arg is one declared argument.
type arg struct {
	Name     string   `yaml:"name"`
	Kind     string   `yaml:"kind"`
	Help     string   `yaml:"help"`
	Flag     bool     `yaml:"flag"`
	Optional bool     `yaml:"optional"`
	Default  string   `yaml:"default"`
	Values   []string `yaml:"values"`
	Min      int64    `yaml:"min"`
	Max      int64    `yaml:"max"`
	// Pattern must match the whole value; it is checked after the kind.
	Pattern string `yaml:"pattern"`

	re *regexp.Regexp
}

// kinds maps a manifest's argument kind to the bot's.
var kinds = map[string]bot.ArgKind{
	"word":     bot.String,
	"int":      bot.Int,
	"duration": bot.Duration,
	"enum":     bot.Enum,
	"target":   bot.Target,
	"text":     bot.Rest,
	"flag":     bot.Bool,
}

const kindList = "word, int, duration, enum, target, text or flag"

var outputs = []string{"text", "code", "json", "jsonl"}

// Defaults a manifest may override.
const (
	defaultTimeout  = 10 * time.Second
	defaultMaxBytes = 1 << 20
)

// envName is what a variable in the allowlist may be called.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseManifest reads and checks the manifest in file, reporting every
// problem at once, each prefixed with the file and key.
func parseManifest(file string, data []byte) (*manifest, error) {
	m := &manifest{
		name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)),
		file: file,
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(m); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("is empty")
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{file}, a...)...))
	}
	if !envName.MatchString(m.name) {
		bad("the file name must be a plugin name of letters, digits and underscores")
	}
	base := filepath.Dir(file)
	m.timeout = defaultTimeout
	if m.Timeout != "" {
		d, err := bot.ParseDuration(m.Timeout)
		if err != nil || d <= 0 {
			bad("timeout: %q is not a positive duration such as 10s or 2m", m.Timeout)
		}
		m.timeout = d
	}
	switch m.Type {
	case "", "script":
		m.Type = "script"
		m.checkScript(base, bad)
	case "http":
		m.checkHTTP(bad)
	default:
		bad("type: %q is not a plugin type; use script or http", m.Type)
	}
	switch {
	case m.Output == "":
		m.Output = "text"
	case m.Type == "http" && m.Output != "text" && m.Output != "code":
		bad("output: %q is not an output mode of http plugins; use text or code", m.Output)
	case !slices.Contains(outputs, m.Output):
		bad("output: %q is not an output mode; use text, code, json or jsonl", m.Output)
	}
	if len(m.Commands) == 0 {
		bad("commands: none declared; declare at least one")
	}
	for i, c := range m.Commands {
		c.check(m, fmt.Sprintf("commands[%d]", i), bad)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *manifest) checkScript(base string, bad func(string, ...any)) {
	if m.HTTP != nil {
		bad("http: only http plugins take this section; remove it or set type: http")
	}
	if m.Program == "" {
		bad("program: is empty; name the executable, relative to the manifest's folder")
	} else {
		if !filepath.IsAbs(m.Program) {
			m.Program = filepath.Join(base, m.Program)
		}
		if st, err := os.Stat(m.Program); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			bad("program: %s is not an executable file; create it and chmod +x it", m.Program)
		}
	}
	if m.Dir == "" {
		m.Dir = base
	} else if !filepath.IsAbs(m.Dir) {
		m.Dir = filepath.Join(base, m.Dir)
	}
	if st, err := os.Stat(m.Dir); err != nil || !st.IsDir() {
		bad("dir: %s is not a folder", m.Dir)
	}
	for i, name := range m.Env {
		switch {
		case !envName.MatchString(name):
			bad("env[%d]: %q is not a variable name", i, name)
		case name == "PATH":
			// A program that could choose its PATH could be handed a
			// different "sleep" or "curl" than the one reviewed.
			bad("env[%d]: PATH is always /usr/bin:/bin; remove it and use absolute paths for other programs", i)
		}
	}
}

func (c *command) check(m *manifest, path string, bad func(string, ...any)) {
	words := strings.Join(strings.Fields(strings.ToLower(c.Words)), " ")
	if words == "" {
		bad("%s.words: is empty; set the words that run it", path)
	}
	c.Words = words
	if c.Help == "" {
		bad("%s.help: is empty; say in one line what the command does", path)
	}
	if c.Permission == "" {
		// Every command that runs a team's program is governed by access
		// control; a plugin that wants a finer split names its own.
		c.Permission = "plugins." + m.name
	}
	if c.Approvals < 0 {
		bad("%s.approvals: %d is negative", path, c.Approvals)
	}
	for j, a := range c.Args {
		a.check(fmt.Sprintf("%s.args[%d]", path, j), bad)
	}
	if m.Type != "http" {
		if c.Method != "" || c.Path != "" || c.Template != "" {
			bad("%s: method, path and template are for http plugins; remove them", path)
		}
		return
	}
	switch c.Method {
	case "":
		c.Method = http.MethodGet
	case http.MethodGet, http.MethodPost:
	default:
		bad("%s.method: %q is not supported; use GET or POST", path, c.Method)
	}
	ut, err := parseURLTemplate(c.Path, c.Args)
	if err != nil {
		bad("%s.path: %v", path, err)
	}
	c.path = ut
	if strings.TrimSpace(c.Template) == "" {
		bad("%s.template: is empty; write a text/template over the JSON response", path)
	} else if c.tmpl, err = template.New(c.Words).Option("missingkey=zero").Parse(c.Template); err != nil {
		bad("%s.template: %v", path, err)
	}
}

func (a *arg) check(path string, bad func(string, ...any)) {
	if !envName.MatchString(a.Name) {
		bad("%s.name: %q must be letters, digits and underscores", path, a.Name)
	}
	if _, ok := kinds[a.Kind]; !ok {
		bad("%s.kind: %q is not an argument kind; use %s", path, a.Kind, kindList)
	}
	if a.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + a.Pattern + `)$`)
		if err != nil {
			bad("%s.pattern: %v", path, err)
		}
		a.re = re
	}
	if a.Min > a.Max {
		bad("%s: min %d is above max %d", path, a.Min, a.Max)
	}
}

// botCommands returns what the router holds of m's commands, without
// handlers: the part of a manifest that cannot change without a restart.
func (m *manifest) botCommands() []bot.Command {
	out := make([]bot.Command, 0, len(m.Commands))
	for _, c := range m.Commands {
		bc := bot.Command{
			Words:      c.Words,
			Help:       c.Help,
			Examples:   c.Examples,
			Permission: c.Permission,
			Sensitive:  c.Sensitive,
		}
		for _, a := range c.Args {
			bc.Args = append(bc.Args, bot.Arg{
				Name: a.Name, Kind: kinds[a.Kind], Help: a.Help,
				Flag: a.Flag, Optional: a.Optional, Default: a.Default,
				Values: a.Values, Min: a.Min, Max: a.Max,
			})
		}
		out = append(out, bc)
	}
	return out
}

// lookup returns m's command named by words, or nil.
func (m *manifest) lookup(words string) *command {
	for _, c := range m.Commands {
		if c.Words == words {
			return c
		}
	}
	return nil
}

// urlTemplate is a path and query with {name} placeholders. Each
// placeholder is escaped for where it stands: url.PathEscape before the
// "?", url.QueryEscape after, so an argument can add neither a path
// segment nor a query parameter.
type urlTemplate struct {
	parts []urlPart
}

type urlPart struct {
	literal string
	arg     string // set for a placeholder
	inQuery bool
}

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func parseURLTemplate(s string, args []*arg) (*urlTemplate, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%q must start with /; the host comes from http.base_url", s)
	}
	query := strings.Index(s, "?")
	ut := &urlTemplate{}
	last := 0
	for _, loc := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		name := s[loc[2]:loc[3]]
		if !slices.ContainsFunc(args, func(a *arg) bool { return a.Name == name }) {
			return nil, fmt.Errorf("{%s} names no argument of the command", name)
		}
		ut.parts = append(ut.parts,
			urlPart{literal: s[last:loc[0]]},
			urlPart{arg: name, inQuery: query >= 0 && loc[0] > query})
		last = loc[1]
	}
	ut.parts = append(ut.parts, urlPart{literal: s[last:]})
	if strings.ContainsAny(ut.literals(), "{}") {
		return nil, fmt.Errorf("%q has a brace that is not a {name} placeholder", s)
	}
	return ut, nil
}

func (ut *urlTemplate) literals() string {
	var b strings.Builder
	for _, p := range ut.parts {
		b.WriteString(p.literal)
	}
	return b.String()
}

// expand fills the placeholders from values.
func (ut *urlTemplate) expand(values map[string]string) (string, error) {
	var b strings.Builder
	for _, p := range ut.parts {
		if p.arg == "" {
			b.WriteString(p.literal)
			continue
		}
		v := values[p.arg]
		if p.inQuery {
			b.WriteString(url.QueryEscape(v))
			continue
		}
		// PathEscape leaves dots alone, and a server that cleans paths
		// would read ".." as a step up out of the API's path.
		if v == "" || v == "." || v == ".." {
			return "", bot.Userf("<%s> cannot be %q.", p.arg, v)
		}
		b.WriteString(url.PathEscape(v))
	}
	return b.String(), nil
}
