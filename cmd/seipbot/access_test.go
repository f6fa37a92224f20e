package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
)

// policyYAML grants admins everything, analysts reminders only in #soc,
// and nobody else anything.
const policyYAML = `
commands:
  - command: runbook ddos
    reply: "DDoS runbook"
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
		"help":          {"", true},
		"ping":          {"", true},
		"status":        {"", true},
		"whoami":        {"", true},
		"time in":       {"", true},
		"remind me":     {"remind.set", true},
		"remind list":   {"remind.list", true},
		"remind cancel": {"remind.cancel", true},
		"remind zone":   {"remind.zone", true},
		"runbook ddos":  {"canned.runbook.ddos", false},
		"audit tail":    {"audit.tail", false},
		"approve":       {"", true},
		"deny":          {"", true},
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
		{[]string{"access"}, 2, "", "access check"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, strings.NewReader(""), nil, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.errs) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out, errOut, tt.code, tt.out, tt.errs)
		}
	}
}
