package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
)

// policyYAML grants admins everything, analysts reminders only in #soc,
// and nobody else anything. It names an OSV folder so that "cve" is
// registered.
const policyYAML = `
commands:
  - command: runbook ddos
    reply: "DDoS runbook"
osv:
  dir: /nonexistent/osv
access:
  groups:
    admins: ["shell:admin1"]
    analysts: ["shell:analyst1"]
  roles:
    admin: {permissions: ["*"]}
    analyst: {permissions: ["remind.*", "alerts.*"]}
  grants:
    - {group: admins, role: admin}
    - {group: analysts, role: analyst, rooms: ["#soc"]}
  approvals:
    - {permission: "canned.*", approvals: 1, approvers: admin}
`

// notifyYAML adds to policyYAML the notification rules of the issue's
// example and one alert rule that sends every alert to #dev-sec, which
// may hear only Git hosts.
const notifyYAML = policyYAML + `  notifications:
    - {rooms: ["#soc", "#cloud-sec"], allow: ["alerts.*"]}
    - {rooms: ["#dev-sec"], allow: ["alerts.github", "alerts.gitlab"]}
alerts:
  rules:
    - rooms: [{room: "#dev-sec"}]
`

// TestNotificationPolicyWired checks that the configured notification rules
// reach the alert manager: an alert #dev-sec may hear is kept open, one it
// may not is dropped.
func TestNotificationPolicyWired(t *testing.T) {
	a := wireTest(t, notifyYAML)
	if err := a.alerts.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"github", "falco"} {
		if err := a.alerts.Accept(t.Context(), alert.Alert{Source: src, Severity: alert.High, Title: src + " says hello"}); err != nil {
			t.Fatal(err)
		}
	}
	if open := a.alerts.Open(); len(open) != 1 || open[0].Alert.Source != "github" {
		t.Errorf("open alerts %+v; want only the github one, as #dev-sec may not hear falco", open)
	}
}

// wireTest wires the bot for the configuration in yaml ("" for none) on a
// memory store.
func wireTest(t *testing.T, yaml string) *app {
	t.Helper()
	path := ""
	if yaml != "" {
		path = filepath.Join(t.TempDir(), "seipbot.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(path, []string{"HOME=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a, err := wireDry(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestEveryBuiltinCommand decides every registered command for identities
// with and without grants, in a room their grant allows and in another,
// under the policy and under no policy at all.
func TestEveryBuiltinCommand(t *testing.T) {
	// Each built-in command's permission, and whether the analyst role
	// holds it. A command missing here fails the test, so a new one gets
	// its row.
	builtins := map[string]struct {
		perm    string
		analyst bool
	}{
		"help":            {"", true},
		"ping":            {"", true},
		"status":          {"", true},
		"whoami":          {"", true},
		"time in":         {"", true},
		"remind me":       {"remind.set", true},
		"remind list":     {"remind.list", true},
		"remind cancel":   {"remind.cancel", true},
		"remind zone":     {"remind.zone", true},
		"runbook ddos":    {"canned.runbook.ddos", false},
		"audit tail":      {"audit.tail", false},
		"approve":         {"", true},
		"deny":            {"", true},
		"jobs":            {"jobs.view", false},
		"job show":        {"jobs.view", false},
		"job cancel":      {"jobs.cancel", false},
		"scan ports":      {"scan.ports", false},
		"scan diff":       {"scan.ports", false},
		"scan schedule":   {"scan.ports", false},
		"scan schedules":  {"scan.ports", false},
		"scan unschedule": {"scan.ports", false},
		"scan web":        {"scan.web", false},
		"cert":            {"scan.web", false},
		"watch cert":      {"scan.web", false},
		"dns":             {"lookup.dns", false},
		"alerts":          {"alerts.list", true},
		"ack":             {"alerts.ack", true},
		"silence":         {"alerts.silence", true},
		"scan repo":       {"scan.repo", false},
		"cve":             {"lookup.cve", false},
		"monitor add":     {"monitor.manage", false},
		"monitor remove":  {"monitor.manage", false},
		"monitor list":    {"monitor.view", false},
		"monitor status":  {"monitor.view", false},
	}
	withPolicy := wireTest(t, policyYAML)
	noPolicy := wireTest(t, strings.SplitN(policyYAML, "access:", 2)[0])
	seen := map[string]bool{}
	for _, c := range withPolicy.bot.Router().Commands() {
		want, ok := builtins[c.Words]
		if !ok {
			t.Errorf("command %q (permission %q) has no row in the table", c.Words, c.Permission)
			continue
		}
		seen[c.Words] = true
		if c.Permission != want.perm {
			t.Errorf("%q declares permission %q, want %q", c.Words, c.Permission, want.perm)
		}
		harmless := want.perm == ""
		for _, tt := range []struct {
			app  *app
			who  string
			room string
			want bool
		}{
			{withPolicy, "shell:admin1", "#soc", true},
			{withPolicy, "shell:admin1", "#random", true},
			{withPolicy, "shell:analyst1", "#soc", want.analyst},
			{withPolicy, "shell:analyst1", "#random", harmless},
			{withPolicy, "slack:U999", "#soc", harmless},
			{withPolicy, "slack:U999", "#random", harmless},
			{noPolicy, "shell:admin1", "#soc", harmless},
			{noPolicy, "slack:U999", "#random", harmless},
		} {
			m := &bot.Message{User: bot.User{ID: tt.who}, Room: tt.room, Command: c}
			d := tt.app.auth.Decide(m)
			policy := "the policy"
			if tt.app == noPolicy {
				policy = "no policy"
			}
			if d.Allowed != tt.want {
				t.Errorf("under %s, %s %q in %s: allowed %v, want %v (%s)", policy, tt.who, c.Words, tt.room, d.Allowed, tt.want, d.Reason)
			}
			if vis := tt.app.auth.Visible(t.Context(), m, c); vis != tt.want {
				t.Errorf("under %s, help shows %q to %s in %s: %v, want %v", policy, c.Words, tt.who, tt.room, vis, tt.want)
			}
		}
	}
	for w := range builtins {
		if !seen[w] {
			t.Errorf("the table lists %q, which is not registered", w)
		}
	}
}

func TestAccessCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "seipbot.yaml")
	os.WriteFile(cfg, []byte(policyYAML), 0o600)
	notifyCfg := filepath.Join(dir, "notify.yaml")
	os.WriteFile(notifyCfg, []byte(notifyYAML), 0o600)
	tests := []struct {
		args      []string
		code      int
		out, errs string
	}{
		{[]string{"access", "check", "--config", cfg, "shell:admin1", "remind", "me", "in", "1m", "to", "x"}, 0, `allowed: grant 0 (group admins → role admin) gives "remind.set".`, ""},
		{[]string{"access", "check", "--config", cfg, "--room", "#soc", "shell:analyst1", "remind list"}, 0, "allowed: grant 1 (group analysts → role analyst)", ""},
		{[]string{"access", "check", "--config", cfg, "shell:analyst1", "remind list"}, 1, "", `denied: You may run "remind list" only in #soc, not here.`},
		{[]string{"access", "check", "--config", cfg, "shell:analyst1", "runbook ddos"}, 1, "", `it needs the permission "canned.runbook.ddos", which none of your roles grants`},
		{[]string{"access", "check", "--config", cfg, "slack:U1", "ping"}, 0, "everyone may run it", ""},
		{[]string{"access", "check", "--config", cfg, "shell:admin1", "runbook ddos"}, 0, `It then waits for approval: 1 from holders of the role admin (the rule for "canned.*").`, ""},
		{[]string{"access", "check", "--config", cfg, "slack:U1", "frobnicate"}, 1, "", "names no command"},
		{[]string{"access", "check", "slack:U1"}, 2, "", "name an identity"},
		{[]string{"access", "check", "--config", cfg, "--notify", "#random", "jobs.results"}, 0, "no access.notifications rule is written, so every room receives every topic", ""},
		{[]string{"access", "check", "--config", notifyCfg, "--notify", "#dev-sec", "alerts.github"}, 0, `allowed: an access.notifications rule lets #dev-sec receive "alerts.github"`, ""},
		{[]string{"access", "check", "--config", notifyCfg, "--notify", "#dev-sec", "alerts.falco"}, 1, "", `denied: no access.notifications rule lets #dev-sec receive "alerts.falco"`},
		{[]string{"access", "check", "--config", notifyCfg, "--notify", "#soc"}, 2, "", "--notify takes a room and one topic"},
		{[]string{"access"}, 2, "", "access check"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, strings.NewReader(""), nil, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.errs) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out, errOut, tt.code, tt.out, tt.errs)
		}
	}
}
