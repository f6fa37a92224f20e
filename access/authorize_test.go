package access

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
)

func TestMatchOnDotBoundary(t *testing.T) {
	tests := []struct {
		pattern, perm string
		want          bool
	}{
		{"scan.ports", "scan.ports", true},
		{"scan.p", "scan.ports", false},
		{"scan.*", "scan.ports", true},
		{"scan.*", "scan.ports.udp", true},
		{"scan.*", "scan", false},
		{"scan.*", "scanner.ports", false},
		{"scan*", "scanner", false},
		{"*", "anything.at.all", true},
		{"*", "", false},
		{"alerts.*", "scan.ports", false},
		{"scan.ports", "scan.ports.udp", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.perm); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.perm, got, tt.want)
		}
	}
	for _, p := range []string{"scan*", "scan.", ".scan", "Scan.ports", "scan..ports", "scan.*.x", "", "**"} {
		if ValidPattern(p) {
			t.Errorf("ValidPattern(%q) = true, want false", p)
		}
	}
}

// command returns a message from id in room asking for c with args.
func command(id, room string, c *bot.Command, args ...bot.ArgValue) *bot.Message {
	return &bot.Message{User: bot.User{ID: id}, Room: room, Command: c, Args: args}
}

var (
	scanPorts = &bot.Command{Words: "scan ports", Permission: "scan.ports", Sensitive: true, Args: []bot.Arg{
		{Name: "target", Kind: bot.Target},
		{Name: "profile", Kind: bot.Enum, Flag: true, Values: []string{"quick", "full"}},
	}}
	ping   = &bot.Command{Words: "ping"}
	secret = &bot.Command{Words: "audit tail", Permission: "audit.tail", Sensitive: true}
	broken = &bot.Command{Words: "oops", Sensitive: true}
)

func target(s string) bot.ArgValue {
	if p, err := netip.ParsePrefix(s); err == nil {
		return bot.ArgValue{Name: "target", Raw: s, Value: p}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return bot.ArgValue{Name: "target", Raw: s, Value: netip.PrefixFrom(a, a.BitLen())}
	}
	return bot.ArgValue{Name: "target", Raw: s, Value: strings.ToLower(s)}
}

func TestEmptyPolicyNeverFailsOpen(t *testing.T) {
	a, err := New(Policy{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*bot.Command{scanPorts, secret, broken, {Words: "x", Permission: "x"}} {
		for _, id := range []string{"shell:root", "slack:U1", ""} {
			m := command(id, "#soc", c, target("10.0.0.1"))
			if err := a.Authorize(context.Background(), m); !errors.Is(err, bot.ErrDenied) {
				t.Errorf("%s ran %q under the empty policy (err %v)", id, c.Words, err)
			}
			if a.Visible(context.Background(), m, c) {
				t.Errorf("help shows %q to %s under the empty policy", c.Words, id)
			}
		}
	}
	if err := a.Authorize(context.Background(), command("slack:U1", "#soc", ping)); err != nil {
		t.Errorf("ping refused under the empty policy: %v", err)
	}
	if got := a.Roles("slack:U1"); len(got) != 0 {
		t.Errorf("Roles = %v under the empty policy", got)
	}
}

func TestArgumentScopedGrants(t *testing.T) {
	a, err := New(Policy{
		Roles: map[string]Role{"scanner": {Permissions: []string{"scan.*"}}},
		Grants: []Grant{
			{Identity: "shell:bob", Role: "scanner", Args: map[string][]string{"target": {"10.20.0.0/16", "*.corp.example", "db.example.com"}}},
			{Identity: "shell:eve", Role: "scanner", Args: map[string][]string{"target": {"10.0.0.0/8"}, "profile": {"quick"}}},
		},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		who  string
		args []bot.ArgValue
		want bool
	}{
		{"shell:bob", []bot.ArgValue{target("10.20.3.4")}, true},
		{"shell:bob", []bot.ArgValue{target("10.20.128.0/17")}, true},
		{"shell:bob", []bot.ArgValue{target("10.20.0.0/15")}, false}, // wider than the grant
		{"shell:bob", []bot.ArgValue{target("10.21.0.1")}, false},
		{"shell:bob", []bot.ArgValue{target("2001:db8::1")}, false},
		{"shell:bob", []bot.ArgValue{target("web.corp.example")}, true},
		{"shell:bob", []bot.ArgValue{target("corp.example")}, false},
		{"shell:bob", []bot.ArgValue{target("evilcorp.example")}, false},
		{"shell:bob", []bot.ArgValue{target("DB.example.com")}, true},
		{"shell:bob", []bot.ArgValue{target("www.db.example.com")}, false},
		{"shell:bob", nil, false}, // a scope cannot be checked without the argument
		{"shell:eve", []bot.ArgValue{target("10.1.1.1"), {Name: "profile", Raw: "QUICK", Value: "quick"}}, true},
		{"shell:eve", []bot.ArgValue{target("10.1.1.1"), {Name: "profile", Raw: "full", Value: "full"}}, false},
		{"shell:eve", []bot.ArgValue{target("10.1.1.1")}, false},
		{"shell:mallory", []bot.ArgValue{target("10.20.3.4")}, false},
	}
	for _, tt := range tests {
		d := a.Decide(command(tt.who, "#soc", scanPorts, tt.args...))
		if d.Allowed != tt.want {
			t.Errorf("%s scan ports %v: allowed %v, want %v (%s)", tt.who, tt.args, d.Allowed, tt.want, d.Reason)
		}
	}
	d := a.Decide(command("shell:bob", "#soc", scanPorts, target("8.8.8.8")))
	if want := `only with target in 10.20.0.0/16, *.corp.example, db.example.com`; !strings.Contains(d.Reason, want) {
		t.Errorf("reason %q does not say %q", d.Reason, want)
	}
}

func TestRoomsAndReasons(t *testing.T) {
	a, err := New(Policy{
		Groups: map[string][]string{"analysts": {"shell:ann"}, "admins": {"shell:root"}},
		Roles:  map[string]Role{"analyst": {Permissions: []string{"alerts.*"}}, "admin": {Permissions: []string{"*"}}},
		Grants: []Grant{
			{Group: "admins", Role: "admin"},
			{Group: "analysts", Role: "analyst", Rooms: []string{"#soc", "direct"}},
		},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ack := &bot.Command{Words: "alerts ack", Permission: "alerts.ack"}
	tests := []struct {
		who, room string
		direct    bool
		c         *bot.Command
		want      bool
		reason    string
	}{
		{"shell:ann", "#soc", false, ack, true, "grant 1 (group analysts → role analyst)"},
		{"shell:ann", "dm:ann", true, ack, true, "grant 1"},
		{"shell:ann", "#random", false, ack, false, `You may run "alerts ack" only in #soc, direct, not here.`},
		{"shell:ann", "#soc", false, secret, false, `You may not run "audit tail": it needs the permission "audit.tail", which none of your roles grants; ask an admin to grant it.`},
		{"shell:root", "#random", false, secret, true, "grant 0 (group admins → role admin)"},
		{"shell:root", "#soc", false, broken, false, "declares no permission"},
		{"shell:ann", "#random", false, ping, true, "everyone"},
	}
	for _, tt := range tests {
		m := command(tt.who, tt.room, tt.c)
		m.Direct = tt.direct
		d := a.Decide(m)
		if d.Allowed != tt.want || !strings.Contains(d.Reason, tt.reason) {
			t.Errorf("%s %q in %s: %v %q, want %v and %q", tt.who, tt.c.Words, tt.room, d.Allowed, d.Reason, tt.want, tt.reason)
		}
	}
	if got := strings.Join(a.Roles("shell:ann"), "; "); got != "analyst (in #soc, direct)" {
		t.Errorf("Roles(ann) = %q", got)
	}
}

func TestCompileRejects(t *testing.T) {
	_, err := New(Policy{
		Groups: map[string][]string{"g": {"shell:a"}},
		Roles:  map[string]Role{"r": {Permissions: []string{"scan.p*"}}},
		Grants: []Grant{{Role: "r"}, {Group: "nope", Role: "r"}, {Group: "g", Role: "ghost"}, {Group: "g", Identity: "shell:a", Role: "r"}},
		Approvals: []ApprovalRule{
			{Permission: "scan.*", Approvers: "ghost", Approvals: 1},
			{Permission: "scan.*", Approvers: "r"},
		},
		Notifications: []NotificationRule{{Rooms: []string{"#soc"}}, {Allow: []string{"alerts.*"}}, {Rooms: []string{"#soc"}, Allow: []string{"alerts."}}},
	}, Options{})
	for _, want := range []string{`"scan.p*" is malformed`, "grant 0 gives role \"r\" to nobody", `group "nope" is not defined`, `role "ghost" is not defined`, "both a group and an identity", "approval 0", "approval 1 needs at least one",
		"notification rule 0", "notification rule 1", "notification rule 2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error %v does not say %q", err, want)
		}
	}
}

// recorder is a bot.Sender that keeps what it was given.
type recorder struct {
	mu   sync.Mutex
	sent []bot.Response
}

func (r *recorder) Send(_ context.Context, resp bot.Response) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, resp)
	return nil
}

func TestRepeatedDenialsNotifySecurityRoom(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := &recorder{}
	a, err := New(Policy{SecurityRoom: "#sec"}, Options{Now: func() time.Time { return now }, Notify: rec, DenialThreshold: 3, DenialWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	try := func() { _ = a.Authorize(context.Background(), command("slack:U9", "#soc", secret)) }
	try()
	try()
	now = now.Add(2 * time.Minute) // the first two fall out of the window
	try()
	try()
	if len(rec.sent) != 0 {
		t.Fatalf("notified after denials spread over more than the window: %v", rec.sent)
	}
	try()
	if len(rec.sent) != 1 || rec.sent[0].Room != "#sec" || !strings.Contains(rec.sent[0].Text, "slack:U9 was refused 3 times") {
		t.Fatalf("notices = %+v", rec.sent)
	}
}

func TestMayNotify(t *testing.T) {
	open, err := New(Policy{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"#soc", "#random", ""} {
		for _, topic := range []string{"alerts.github", "jobs.results", "access.denials", "plugins.admin"} {
			if !open.MayNotify(room, topic) {
				t.Errorf("without notification rules, %q may not receive %q", room, topic)
			}
		}
	}
	a, err := New(Policy{Notifications: []NotificationRule{
		{Rooms: []string{"#soc", "#cloud-sec"}, Allow: []string{"alerts.*"}},
		{Rooms: []string{"#dev-sec"}, Allow: []string{"alerts.github", "alerts.gitlab"}},
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		room, topic string
		want        bool
	}{
		{"#soc", "alerts.falco", true},      // wildcard
		{"#cloud-sec", "alerts.sns", true},  // wildcard, second room of the rule
		{"#dev-sec", "alerts.github", true}, // exact
		{"#dev-sec", "alerts.gitlab", true},
		{"#dev-sec", "alerts.falco", false},    // another topic of the same family
		{"#soc", "jobs.results", false},        // a topic no rule lists
		{"#soc", "alerts", false},              // ".*" matches only below the dot
		{"#random", "alerts.github", false},    // a room no rule lists
		{"#SOC", "alerts.github", false},       // rooms compare exactly
		{"#soc", "alertsx.github", false},      // never across a dot boundary
		{"#dev-sec", "alerts.github.x", false}, // an exact pattern is not a prefix
	}
	for _, tt := range tests {
		if got := a.MayNotify(tt.room, tt.topic); got != tt.want {
			t.Errorf("MayNotify(%q, %q) = %v, want %v", tt.room, tt.topic, got, tt.want)
		}
	}
}

// TestDenialNoticeObeysNotifications checks that the security room hears of
// repeated refusals only when the notification rules let it.
func TestDenialNoticeObeysNotifications(t *testing.T) {
	for _, tt := range []struct {
		allow []string
		want  int
	}{{[]string{"access.*"}, 1}, {[]string{"alerts.*"}, 0}} {
		rec := &recorder{}
		a, err := New(Policy{SecurityRoom: "#sec", Notifications: []NotificationRule{{Rooms: []string{"#sec"}, Allow: tt.allow}}},
			Options{Notify: rec, DenialThreshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Authorize(context.Background(), command("slack:U9", "#soc", secret))
		if len(rec.sent) != tt.want {
			t.Errorf("with #sec allowed %v, %d notices, want %d: %+v", tt.allow, len(rec.sent), tt.want, rec.sent)
		}
	}
}

func TestRateLimitPerCommand(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, err := New(Policy{
		Roles:      map[string]Role{"admin": {Permissions: []string{"*"}}},
		Grants:     []Grant{{Identity: "shell:a", Role: "admin"}, {Identity: "shell:b", Role: "admin"}},
		RateLimits: []RateLimit{{Permission: "scan.*", PerMinute: 2, Burst: 2}},
	}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	run := func(id string, c *bot.Command) error {
		return a.Authorize(context.Background(), command(id, "#soc", c, target("10.0.0.1")))
	}
	for i := range 2 {
		if err := run("shell:a", scanPorts); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	err = run("shell:a", scanPorts)
	if err == nil || !strings.Contains(err.Error(), `You may run "scan ports" 2 times a minute; try again in 31s.`) || !errors.Is(err, bot.ErrDenied) {
		t.Fatalf("third scan: %v", err)
	}
	if err := run("shell:b", scanPorts); err != nil {
		t.Errorf("another identity is limited too: %v", err)
	}
	if err := run("shell:a", secret); err != nil {
		t.Errorf("another command is limited too: %v", err)
	}
	now = now.Add(30 * time.Second)
	if err := run("shell:a", scanPorts); err != nil {
		t.Errorf("after 30s: %v", err)
	}
}
