package bot_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// FuzzParse runs arbitrary command lines through Router.Parse, the path an
// access check and every chat message take, against commands with every
// argument kind. A line is refused only with a quoting or usage error, and
// arguments that parse hold values of their declared kind within their
// bounds.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ping", "remind list", "remind me in 10m to stretch", "say hello 3", "say hello 9",
		"wait 1d12h", "wait -5m", "scan ports 10.0.0.0/8 --ports all --rate=5 --verbose",
		"scan ports host.example.com. --ports=ALL", "scan ports ::1 --verbose=yes", `say "two words" 'x'`,
		"scan ports 300.1.1.1", "remind --what x", "say -- --", "wait 1d-5h",
	} {
		f.Add(s)
	}
	b, err := bot.New(bot.Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := b.Use(echo{}); err != nil {
		f.Fatal(err)
	}
	r := b.Router()
	f.Fuzz(func(t *testing.T, line string) {
		cmd, args, err := r.Parse(line)
		if err != nil {
			var usage *bot.UsageError
			var user *bot.UserError
			if !errors.As(err, &usage) && !errors.As(err, &user) {
				t.Fatalf("Parse(%q): %T %v is neither a usage nor a user error", line, err, err)
			}
			return
		}
		if cmd == nil {
			return
		}
		for _, v := range args {
			i := slices.IndexFunc(cmd.Args, func(a bot.Arg) bool { return a.Name == v.Name })
			if i < 0 {
				t.Fatalf("Parse(%q): argument %q is not declared by %q", line, v.Name, cmd.Words)
			}
			checkArg(t, line, cmd.Args[i], v)
		}
	})
}

func checkArg(t *testing.T, line string, a bot.Arg, v bot.ArgValue) {
	t.Helper()
	switch a.Kind {
	case bot.Int:
		n, ok := v.Value.(int64)
		if !ok || (a.Min != 0 || a.Max != 0) && (n < a.Min || n > a.Max) {
			t.Fatalf("Parse(%q): <%s> = %v, outside %d..%d", line, a.Name, v.Value, a.Min, a.Max)
		}
	case bot.Duration:
		// Reminders and schedules add it to the clock: it must not be
		// negative, which would also be what an overflow looks like.
		if d, ok := v.Value.(time.Duration); !ok || d < 0 {
			t.Fatalf("Parse(%q): <%s> = %v, not a duration of zero or more", line, a.Name, v.Value)
		}
	case bot.Enum:
		if s, ok := v.Value.(string); !ok || !slices.Contains(a.Values, s) {
			t.Fatalf("Parse(%q): <%s> = %v, not one of %q", line, a.Name, v.Value, a.Values)
		}
	case bot.Target:
		switch x := v.Value.(type) {
		case netip.Prefix:
			if !x.IsValid() || x != x.Masked() {
				t.Fatalf("Parse(%q): <%s> = %v, not a valid masked prefix", line, a.Name, x)
			}
		case string:
			if x == "" || x != strings.ToLower(x) || strings.ContainsAny(x, " /\\@:") {
				t.Fatalf("Parse(%q): <%s> = %q, not a host name", line, a.Name, x)
			}
		default:
			t.Fatalf("Parse(%q): <%s> = %T", line, a.Name, v.Value)
		}
	case bot.Rest:
		if !strings.HasSuffix(line, v.Raw) || v.Raw == "" {
			t.Fatalf("Parse(%q): <%s> = %q, not the rest of the line", line, a.Name, v.Raw)
		}
	}
}
