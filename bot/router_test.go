package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
)

// echo is a plugin whose commands answer with what they parsed, so tests
// see exactly what the router made of a line.
type echo struct{}

func (echo) Name() string { return "echo" }

func (echo) Register(r *bot.Registry) error {
	show := bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
		parts := []string{m.Command.Words}
		for _, a := range m.Args {
			parts = append(parts, fmt.Sprintf("%s=%v", a.Name, a.Value))
		}
		return w.Reply(ctx, strings.Join(parts, " "))
	})
	r.Command(bot.Command{Words: "ping", Help: "pong", Handler: show})
	r.Command(bot.Command{Words: "remind list", Help: "list", Handler: show})
	r.Command(bot.Command{Words: "remind", Help: "remind", Args: []bot.Arg{{Name: "what", Kind: bot.Rest}}, Handler: show})
	r.Command(bot.Command{Words: "say", Args: []bot.Arg{{Name: "word", Kind: bot.String}, {Name: "times", Kind: bot.Int, Optional: true, Min: 1, Max: 5}}, Handler: show})
	r.Command(bot.Command{Words: "wait", Args: []bot.Arg{{Name: "for", Kind: bot.Duration}}, Handler: show})
	r.Command(bot.Command{Words: "scan ports", Args: []bot.Arg{
		{Name: "target", Kind: bot.Target},
		{Name: "ports", Kind: bot.Enum, Flag: true, Values: []string{"top100", "all"}, Default: "top100"},
		{Name: "rate", Kind: bot.Int, Flag: true},
		{Name: "verbose", Kind: bot.Bool, Flag: true},
	}, Handler: show})
	return nil
}

func texts(rs []bot.Response) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Text)
	}
	return out
}

func TestRouterDirectMessages(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"ping", "ping"},
		{"PING", "ping"},
		{"  ping  ", "ping"},
		{"seipbot ping", "ping"},
		{"@seipbot: ping", "ping"},
		{"!ping", "ping"},
		{"remind list", "remind list"},
		{"remind me in 5m to  \"check\" logs", `remind what=me in 5m to  "check" logs`},
		{`say "two words"`, "say word=two words"},
		{`say 'it''s'`, "say word=its"},
		{`say “curly quoted”`, "say word=curly quoted"},
		{`say a\ b`, "say word=a b"},
		{"say hi 3", "say word=hi times=3"},
		{"say hi 9", `<times> must be between 1 and 5. Usage: say <word> [<times>] (see "help say").`},
		{"say hi x", `<times> must be a whole number, not "x". Usage: say <word> [<times>] (see "help say").`},
		{"say", `<word> is missing. Usage: say <word> [<times>] (see "help say").`},
		{"say a 1 2", `"2" is one argument too many. Usage: say <word> [<times>] (see "help say").`},
		{"ping now", `"ping" takes no arguments. Usage: ping (see "help ping").`},
		{"wait 10m", "wait for=10m0s"},
		{"wait 2d", "wait for=48h0m0s"},
		{"wait soon", `<for> must be a duration such as 90s, 10m or 2h, not "soon". Usage: wait <for> (see "help wait").`},
		{"scan ports 10.0.0.0/24", "scan ports target=10.0.0.0/24 ports=top100"},
		{"scan ports 10.0.0.7/24 --ports all --rate=50 --verbose", "scan ports target=10.0.0.0/24 ports=all rate=50 verbose=true"},
		{"scan ports 127.0.0.1", "scan ports target=127.0.0.1/32 ports=top100"},
		{"scan ports ::1", "scan ports target=::1/128 ports=top100"},
		{"scan ports Host-1.Example.com.", "scan ports target=host-1.example.com ports=top100"},
		{"scan ports --ports ALL example.org", "scan ports target=example.org ports=all"},
		{"scan ports bad_host", `<target> must be an IP address, a CIDR or a host name, not "bad_host". Usage: scan ports <target> [--ports P] [--rate R] [--verbose] (see "help scan ports").`},
		{"scan ports x.org --ports some", `<ports> must be one of top100, all, not "some". Usage: scan ports <target> [--ports P] [--rate R] [--verbose] (see "help scan ports").`},
		{"scan ports x.org --speed 3", `--speed is not an option of "scan ports". Usage: scan ports <target> [--ports P] [--rate R] [--verbose] (see "help scan ports").`},
		{"scan ports x.org --rate", `--rate needs a value. Usage: scan ports <target> [--ports P] [--rate R] [--verbose] (see "help scan ports").`},
		{`say "unclosed`, "There is an unclosed quote in that command; close it or remove it and try again."},
		{"pnig", `I don't know "pnig". Did you mean "ping"? Say "help" to see what I can do.`},
		{"remind lsit", `remind what=lsit`},
		{"scan prots x", `I don't know "scan". Did you mean "scan ports"? Say "help" to see what I can do.`},
		{"frobnicate", `I don't know "frobnicate". Say "help" to see what I can do.`},
		{"seipbot", `Yes? Say "help" to see what I can do.`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := texts(bottest.Run(t, bot.Options{Prefix: "!"}, []bot.Plugin{echo{}}, bottest.DM("alice", tt.in)))
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("%q answered %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRouterRoomAddressing(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"ping", nil},
		{"we should ping them", nil},
		{"seipbot ping", []string{"ping"}},
		{"SeipBot: ping", []string{"ping"}},
		{"@seipbot, ping", []string{"ping"}},
		{"@seipbot:ping", []string{"ping"}},
		{"seipbot> ping", []string{"ping"}},
		{"seipbots ping", nil},
		{"seipbot-dev ping", nil},
		{"!ping", []string{"ping"}},
		{"! ping", []string{"ping"}},
		{"seipbot nonsense", []string{`I don't know "nonsense". Say "help" to see what I can do.`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := texts(bottest.Run(t, bot.Options{Prefix: "!"}, []bot.Plugin{echo{}}, bottest.InRoom("#sec", "alice", tt.in)))
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("%q answered %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRouterMentionedByPlatform(t *testing.T) {
	m := bottest.InRoom("#sec", "alice", "ping")
	m.Mentioned = true
	got := texts(bottest.Run(t, bot.Options{}, []bot.Plugin{echo{}}, m))
	if len(got) != 1 || got[0] != "ping" {
		t.Errorf("got %q", got)
	}
}

func TestRoomAllowlist(t *testing.T) {
	got := bottest.Run(t, bot.Options{Rooms: []string{"#sec"}}, []bot.Plugin{echo{}},
		bottest.InRoom("#random", "alice", "seipbot ping"),
		bottest.InRoom("#sec", "alice", "seipbot ping"),
		bottest.DM("alice", "ping"),
	)
	// The two conversations run concurrently, so their answers come in
	// either order.
	if len(got) != 2 || got[0].Direct == got[1].Direct || got[0].Room != "#sec" && got[1].Room != "#sec" {
		t.Errorf("got %+v, want answers in #sec and the DM only", got)
	}
}

type plugin struct {
	name string
	reg  func(r *bot.Registry) error
}

func (p plugin) Name() string                   { return p.name }
func (p plugin) Register(r *bot.Registry) error { return p.reg(r) }

var nop = bot.HandlerFunc(func(context.Context, bot.Responder, *bot.Message) error { return nil })

func TestRegistrationErrors(t *testing.T) {
	a := plugin{"alpha", func(r *bot.Registry) error {
		r.Command(bot.Command{Words: "scan ports", Handler: nop})
		return nil
	}}
	tests := []struct {
		name string
		reg  func(r *bot.Registry) error
		want []string
	}{
		{"conflict", func(r *bot.Registry) error {
			r.Command(bot.Command{Words: "scan ports", Handler: nop})
			return nil
		}, []string{`command "scan ports" of plugin "beta" conflicts with the same command of plugin "alpha"`}},
		{"bad words", func(r *bot.Registry) error {
			r.Command(bot.Command{Words: "Scan  Ports", Handler: nop})
			return nil
		}, []string{`command words "Scan  Ports" must be lower-case words`}},
		{"no handler", func(r *bot.Registry) error {
			r.Command(bot.Command{Words: "x"})
			return nil
		}, []string{`command "x" has no handler`}},
		{"bad args", func(r *bot.Registry) error {
			r.Command(bot.Command{Words: "x", Handler: nop, Args: []bot.Arg{{Name: "a", Kind: bot.Rest}, {Name: "b"}}})
			r.Command(bot.Command{Words: "y", Handler: nop, Args: []bot.Arg{{Name: "a", Optional: true}, {Name: "b"}}})
			r.Command(bot.Command{Words: "z", Handler: nop, Args: []bot.Arg{{Name: "a", Kind: bot.Enum}}})
			r.Command(bot.Command{Words: "w", Handler: nop, Args: []bot.Arg{{Name: "a", Kind: bot.Int, Flag: true, Default: "many"}}})
			return nil
		}, []string{
			`argument "b" follows a rest-of-line argument`,
			`required argument "b" follows an optional one`,
			`enum argument "a" has no values`,
			`default of "a": <a> must be a whole number`,
		}},
		{"bad hear", func(r *bot.Registry) error {
			r.Hear(bot.Hear{Name: "h", Pattern: "(", Handler: nop})
			return nil
		}, []string{`hear "h": pattern "(" does not compile`}},
		{"plugin error", func(r *bot.Registry) error { return errors.New("no token") }, []string{`plugin "beta": no token`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bot.New(bot.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = b.Use(a, plugin{"beta", tt.reg})
			if err == nil {
				t.Fatal("registration succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestHearPatterns(t *testing.T) {
	hears := plugin{"hears", func(r *bot.Registry) error {
		reply := bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, m.Hear.Name+":"+strings.Join(m.Match[1:], ","))
		})
		r.Hear(bot.Hear{Name: "inc", Pattern: `(?i)\bINC-(\d+)\b`, Handler: reply})
		r.Hear(bot.Hear{Name: "svc", Pattern: `https?://svc-4\.example\.com/(\S+)`, Handler: reply})
		r.Hear(bot.Hear{Name: "digits", Pattern: `^\d{6}$`, Handler: reply})
		r.Hear(bot.Hear{Name: "hello", Pattern: `(?i)^hello$`, Addressed: true, Handler: reply})
		r.Hear(bot.Hear{Name: "hey", Pattern: `(?i)^(hi|hey)( all)?[!.]*$`, Addressed: true, Handler: reply})
		return nil
	}}
	tests := []struct {
		in   string
		want string
	}{
		{"saw inc-42 again", "inc:42"},
		{"saw INC-42 and INC-7", "inc:42"},
		{"winc-42", ""},
		{"see http://svc-4.example.com/a/b", "svc:a/b"},
		{"see HTTPS://SVC-4.EXAMPLE.COM/x", ""},
		{"123456", "digits:"},
		{"1234567", ""},
		{"hello", ""},
		{"seipbot hello", "hello:"},
		{"seipbot Hey all!", "hey:Hey, all"},
		{"seipbot say hey", "I don't know \"say\". Say \"help\" to see what I can do."},
		{"seipbot look at INC-9", "inc:9"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := strings.Join(texts(bottest.Run(t, bot.Options{}, []bot.Plugin{hears}, bottest.InRoom("#sec", "bob", tt.in))), "|")
			if got != tt.want {
				t.Errorf("%q heard %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	p := plugin{"mw", func(r *bot.Registry) error {
		r.Command(bot.Command{Words: "boom", Handler: bot.HandlerFunc(func(context.Context, bot.Responder, *bot.Message) error { panic("kaboom") })})
		r.Command(bot.Command{Words: "fail", Handler: bot.HandlerFunc(func(context.Context, bot.Responder, *bot.Message) error {
			return errors.New("db password=hunter2 rejected")
		})})
		r.Command(bot.Command{Words: "oops", Handler: bot.HandlerFunc(func(context.Context, bot.Responder, *bot.Message) error {
			return bot.Userf("Name a host, not a number.")
		})})
		r.Command(bot.Command{Words: "slow", Handler: bot.HandlerFunc(func(ctx context.Context, _ bot.Responder, _ *bot.Message) error {
			<-ctx.Done()
			return ctx.Err()
		})})
		r.Command(bot.Command{Words: "secret", Sensitive: true, Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, _ *bot.Message) error {
			return w.Reply(ctx, "ran")
		})})
		return nil
	}}
	tests := []struct {
		in, want string
	}{
		{"boom", "Something went wrong (error id "},
		{"fail", "That failed (error id "},
		{"oops", "Name a host, not a number."},
		{"slow", `"slow" took longer than 10ms and was stopped`},
		{"secret", `"secret" is restricted and no access policy grants it`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := texts(bottest.Run(t, bot.Options{CommandTimeout: 10 * time.Millisecond}, []bot.Plugin{p}, bottest.DM("alice", tt.in)))
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("%q answered %q, want prefix %q", tt.in, got, tt.want)
			}
			if strings.Contains(strings.Join(got, ""), "hunter2") {
				t.Error("an internal error reached the chat")
			}
		})
	}
}

type allowAll struct{}

func (allowAll) Authorize(context.Context, *bot.Message) error { return nil }

func TestAuthorizerAllowsSensitive(t *testing.T) {
	p := plugin{"s", func(r *bot.Registry) error {
		r.Command(bot.Command{Words: "secret", Sensitive: true, Args: []bot.Arg{{Name: "n", Kind: bot.Int}}, Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, _ *bot.Message) error {
			return w.Reply(ctx, "ran")
		})})
		return nil
	}}
	got := texts(bottest.Run(t, bot.Options{Authorizer: allowAll{}}, []bot.Plugin{p}, bottest.DM("a", "secret 1")))
	if len(got) != 1 || got[0] != "ran" {
		t.Errorf("got %q", got)
	}
	// Without a grant, a wrong argument reveals nothing about the command.
	got = texts(bottest.Run(t, bot.Options{}, []bot.Plugin{p}, bottest.DM("a", "secret x")))
	if len(got) != 1 || strings.Contains(got[0], "Usage") {
		t.Errorf("got %q, want a refusal without usage", got)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := []*bot.Message{bottest.DM("a", "ping"), bottest.DM("a", "ping"), bottest.DM("a", "ping"), bottest.DM("b", "ping")}
	rs := bottest.Run(t, bot.Options{RateLimit: bot.RateLimit{PerMinute: 6, Burst: 2}, Now: func() time.Time { return now }}, []bot.Plugin{echo{}}, msgs...)
	var limited, ok int
	for _, r := range rs {
		switch {
		case r.Text == "ping":
			ok++
		case strings.HasPrefix(r.Text, "You are sending commands faster than 6 a minute; try again in 11s."):
			limited++
			if r.User != "test:a" {
				t.Errorf("user %s was limited", r.User)
			}
		default:
			t.Errorf("unexpected %q", r.Text)
		}
	}
	if ok != 3 || limited != 1 {
		t.Errorf("%d answered and %d limited, want 3 and 1", ok, limited)
	}
}
