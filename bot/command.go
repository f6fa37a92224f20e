package bot

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Command is a command the bot answers when addressed: the words that name
// it, the arguments it takes, and the handler that runs it.
type Command struct {
	// Words name the command, lower case, separated by single spaces:
	// "ping", "remind list", "scan ports".
	Words string
	Args  []Arg
	// Help is one line for the command listing; Examples are full command
	// lines shown by "help <command>".
	Help     string
	Examples []string
	// Permission is what access control checks ("scan.ports"). Empty means
	// the command is harmless and runs for everyone who may talk to the bot.
	Permission string
	// Sensitive commands run only when an Authorizer grants them; without
	// one they are refused.
	Sensitive bool
	Handler   Handler

	// Plugin is the registering plugin's name, set by the Registry.
	Plugin string
	// chain is Handler behind the bot's middleware, built once.
	chain Handler
}

// Usage returns the command's synopsis, such as
// "remind cancel <id>" or "scan ports <target> [--ports P]".
func (c *Command) Usage() string {
	var b strings.Builder
	b.WriteString(c.Words)
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(a.synopsis())
	}
	return b.String()
}

// ArgKind is the type of a command argument.
type ArgKind int

// The argument kinds. Each is checked before the handler runs, so a handler
// reads values that are already valid.
const (
	String   ArgKind = iota // one word
	Int                     // a whole number, within Min..Max when set
	Duration                // 90s, 10m, 2h30m, 7d
	Enum                    // one of Values, case-insensitive
	Target                  // an IP address, a CIDR, or a host name
	Rest                    // the rest of the line, exactly as typed
	Bool                    // a --flag without a value
)

var kindNames = [...]string{"word", "number", "duration", "choice", "host or CIDR", "text", "flag"}

// String names the kind as help shows it.
func (k ArgKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "ArgKind(" + strconv.Itoa(int(k)) + ")"
}

// Arg declares one argument of a command.
type Arg struct {
	Name string
	Kind ArgKind
	// Flag arguments are given as --name value (or --name=value) anywhere
	// after the command words; they are always optional.
	Flag     bool
	Optional bool
	Default  string
	Values   []string // for Enum
	Min, Max int64    // for Int; both zero means unbounded
	Help     string
	// Secret arguments (a token, a password) are masked wherever the bot
	// records what was run, such as the audit log.
	Secret bool
}

func (a Arg) synopsis() string {
	var s string
	switch {
	case a.Flag && a.Kind == Bool:
		return "[--" + a.Name + "]"
	case a.Flag:
		s = "--" + a.Name + " " + strings.ToUpper(a.Name[:1])
		return "[" + s + "]"
	case a.Kind == Enum:
		s = strings.Join(a.Values, "|")
	case a.Kind == Rest:
		s = "<" + a.Name + "…>"
	default:
		s = "<" + a.Name + ">"
	}
	if a.Optional {
		return "[" + s + "]"
	}
	return s
}

// Args holds the parsed arguments of a command.
type Args []ArgValue

// ArgValue is one parsed argument.
type ArgValue struct {
	Name  string
	Raw   string // as typed
	Value any    // string, int64, time.Duration, netip.Prefix, bool or string for a host name
}

func (as Args) find(name string) (ArgValue, bool) {
	for _, a := range as {
		if a.Name == name {
			return a, true
		}
	}
	return ArgValue{}, false
}

// Has reports whether the argument was given or has a default.
func (as Args) Has(name string) bool {
	_, ok := as.find(name)
	return ok
}

// String returns the argument as typed, or "".
func (as Args) String(name string) string {
	a, _ := as.find(name)
	return a.Raw
}

// Int returns an Int argument, or 0.
func (as Args) Int(name string) int64 {
	a, _ := as.find(name)
	n, _ := a.Value.(int64)
	return n
}

// Duration returns a Duration argument, or 0.
func (as Args) Duration(name string) time.Duration {
	a, _ := as.find(name)
	d, _ := a.Value.(time.Duration)
	return d
}

// Bool returns whether a Bool flag was given.
func (as Args) Bool(name string) bool {
	a, _ := as.find(name)
	b, _ := a.Value.(bool)
	return b
}

// Target returns a Target argument: the prefix for an address or CIDR
// (an address is a /32 or /128), or the host name.
func (as Args) Target(name string) (netip.Prefix, string) {
	a, _ := as.find(name)
	switch v := a.Value.(type) {
	case netip.Prefix:
		return v, ""
	case string:
		return netip.Prefix{}, v
	}
	return netip.Prefix{}, ""
}

// UsageError reports arguments that do not fit a command; its message names
// the problem and shows the command's usage.
type UsageError struct {
	Command *Command
	Problem string
}

func (e *UsageError) Error() string {
	return fmt.Sprintf("%s. Usage: %s (see \"help %s\").", e.Problem, e.Command.Usage(), e.Command.Words)
}

// parseArgs checks the words after a command's name against its declared
// arguments. body is the line the tokens came from, for Rest arguments.
func (c *Command) parseArgs(body string, toks []token) (Args, error) {
	if len(c.Args) == 0 {
		if len(toks) > 0 {
			return nil, &UsageError{c, fmt.Sprintf("%q takes no arguments", c.Words)}
		}
		return nil, nil
	}
	var out Args
	var positional []token
	restStarted := false
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if restStarted || !strings.HasPrefix(t.text, "--") || len(t.text) == 2 {
			positional = append(positional, t)
			if c.restAt(len(positional) - 1) {
				restStarted = true
			}
			continue
		}
		name, val, hasVal := strings.Cut(t.text[2:], "=")
		a, ok := c.flag(name)
		if !ok {
			return nil, &UsageError{c, fmt.Sprintf("--%s is not an option of %q", name, c.Words)}
		}
		if a.Kind == Bool {
			if hasVal {
				return nil, &UsageError{c, fmt.Sprintf("--%s takes no value", name)}
			}
			out = append(out, ArgValue{Name: a.Name, Raw: "true", Value: true})
			continue
		}
		if !hasVal {
			if i+1 >= len(toks) {
				return nil, &UsageError{c, fmt.Sprintf("--%s needs a value", name)}
			}
			i++
			val = toks[i].text
		}
		v, err := a.parse(val)
		if err != nil {
			return nil, &UsageError{c, err.Error()}
		}
		out = append(out, v)
	}
	p := 0
	for _, a := range c.Args {
		if a.Flag {
			if !out.Has(a.Name) && a.Default != "" {
				v, err := a.parse(a.Default)
				if err != nil {
					return nil, &UsageError{c, err.Error()}
				}
				out = append(out, v)
			}
			continue
		}
		if p >= len(positional) {
			if !a.Optional {
				return nil, &UsageError{c, fmt.Sprintf("<%s> is missing", a.Name)}
			}
			if a.Default != "" {
				v, err := a.parse(a.Default)
				if err != nil {
					return nil, &UsageError{c, err.Error()}
				}
				out = append(out, v)
			}
			continue
		}
		if a.Kind == Rest {
			raw := body[positional[p].start:]
			out = append(out, ArgValue{Name: a.Name, Raw: raw, Value: raw})
			p = len(positional)
			continue
		}
		v, err := a.parse(positional[p].text)
		if err != nil {
			return nil, &UsageError{c, err.Error()}
		}
		out = append(out, v)
		p++
	}
	if p < len(positional) {
		return nil, &UsageError{c, fmt.Sprintf("%q is one argument too many", positional[p].text)}
	}
	// Declaration order, whatever order the flags came in.
	slices.SortStableFunc(out, func(a, b ArgValue) int { return c.argIndex(a.Name) - c.argIndex(b.Name) })
	return out, nil
}

func (c *Command) argIndex(name string) int {
	return slices.IndexFunc(c.Args, func(a Arg) bool { return a.Name == name })
}

// restAt reports whether positional argument i is a Rest argument, after
// which nothing is read as a flag.
func (c *Command) restAt(i int) bool {
	n := 0
	for _, a := range c.Args {
		if a.Flag {
			continue
		}
		if n == i {
			return a.Kind == Rest
		}
		n++
	}
	return false
}

func (c *Command) flag(name string) (Arg, bool) {
	for _, a := range c.Args {
		if a.Flag && a.Name == name {
			return a, true
		}
	}
	return Arg{}, false
}

// isHostLabel reports whether l is one label of a host name (RFC 1123):
// 1 to 63 letters, digits and hyphens, with no hyphen at either end. It is
// written out because the equivalent regular expression, with its {0,61},
// compiled at every start-up to tens of kilobytes.
func isHostLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (a Arg) parse(raw string) (ArgValue, error) {
	v := ArgValue{Name: a.Name, Raw: raw}
	switch a.Kind {
	case String, Rest:
		v.Value = raw
	case Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return v, fmt.Errorf("<%s> must be a whole number, not %q", a.Name, raw)
		}
		if (a.Min != 0 || a.Max != 0) && (n < a.Min || n > a.Max) {
			return v, fmt.Errorf("<%s> must be between %d and %d", a.Name, a.Min, a.Max)
		}
		v.Value = n
	case Duration:
		d, err := ParseDuration(raw)
		if err != nil {
			return v, fmt.Errorf("<%s> must be a duration such as 90s, 10m or 2h, not %q", a.Name, raw)
		}
		v.Value = d
	case Enum:
		for _, allowed := range a.Values {
			if strings.EqualFold(raw, allowed) {
				v.Raw, v.Value = allowed, allowed
				return v, nil
			}
		}
		return v, fmt.Errorf("<%s> must be one of %s, not %q", a.Name, strings.Join(a.Values, ", "), raw)
	case Target:
		if p, err := netip.ParsePrefix(raw); err == nil {
			v.Value = p.Masked()
			return v, nil
		}
		if ip, err := netip.ParseAddr(raw); err == nil {
			v.Value = netip.PrefixFrom(ip, ip.BitLen())
			return v, nil
		}
		if !isHostName(raw) {
			return v, fmt.Errorf("<%s> must be an IP address, a CIDR or a host name, not %q", a.Name, raw)
		}
		v.Value = strings.ToLower(strings.TrimSuffix(raw, "."))
	case Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return v, fmt.Errorf("--%s is a flag without a value", a.Name)
		}
		v.Value = b
	}
	return v, nil
}

func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if !isHostLabel(l) {
			return false
		}
	}
	// An all-numeric last label would be a malformed address, not a name.
	_, err := strconv.Atoi(labels[len(labels)-1])
	return err != nil
}

// ParseDuration is time.ParseDuration that also accepts days ("7d",
// "1d12h"), which people use for reminders and schedules. It refuses
// negative durations and ones too long to add to a clock, which would
// otherwise wrap around to the past.
func ParseDuration(s string) (time.Duration, error) {
	invalid := fmt.Errorf("invalid duration %q", s)
	var days time.Duration
	rest := s
	if d, r, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 || n > maxDays {
			return 0, invalid
		}
		days, rest = time.Duration(n)*24*time.Hour, r
		if rest == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 || d > maxDuration-days {
		return 0, invalid
	}
	return days + d, nil
}

// maxDuration is the longest duration; maxDays, the most whole days in it.
const (
	maxDuration = time.Duration(math.MaxInt64)
	maxDays     = int64(maxDuration / (24 * time.Hour))
)

// validate rejects a declaration that could never parse well.
func (c *Command) validate() error {
	if c.Words == "" || c.Words != strings.Join(strings.Fields(strings.ToLower(c.Words)), " ") {
		return fmt.Errorf("command words %q must be lower-case words separated by single spaces", c.Words)
	}
	if c.Handler == nil {
		return fmt.Errorf("command %q has no handler", c.Words)
	}
	seen := map[string]bool{}
	optional, rest := false, false
	for _, a := range c.Args {
		switch {
		case a.Name == "":
			return fmt.Errorf("command %q has an argument without a name", c.Words)
		case seen[a.Name]:
			return fmt.Errorf("command %q declares argument %q twice", c.Words, a.Name)
		case a.Kind == Enum && len(a.Values) == 0:
			return fmt.Errorf("command %q: enum argument %q has no values", c.Words, a.Name)
		case a.Kind == Bool && !a.Flag:
			return fmt.Errorf("command %q: bool argument %q must be a flag", c.Words, a.Name)
		case a.Kind == Rest && a.Flag:
			return fmt.Errorf("command %q: rest argument %q cannot be a flag", c.Words, a.Name)
		case !a.Flag && rest:
			return fmt.Errorf("command %q: argument %q follows a rest-of-line argument", c.Words, a.Name)
		case !a.Flag && !a.Optional && optional:
			return fmt.Errorf("command %q: required argument %q follows an optional one", c.Words, a.Name)
		}
		if a.Default != "" {
			if _, err := a.parse(a.Default); err != nil {
				return fmt.Errorf("command %q: default of %q: %w", c.Words, a.Name, err)
			}
		}
		seen[a.Name] = true
		if !a.Flag {
			optional = optional || a.Optional
			rest = rest || a.Kind == Rest
		}
	}
	return nil
}
