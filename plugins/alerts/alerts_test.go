package alerts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/plugins/alerts"
	"github.com/seipbot/seipbot/store/memory"
)

// grants allows the permissions it lists to everyone, as an access
// policy would for a role.
type grants []string

func (g grants) Authorize(_ context.Context, m *bot.Message) error {
	if m.Command == nil || !m.Command.Sensitive {
		return nil
	}
	for _, p := range g {
		if p == m.Command.Permission {
			return nil
		}
	}
	return bot.Denied("You may not " + m.Command.Words + " alerts.")
}

func TestCommands(t *testing.T) {
	st := memory.New()
	out := bot.NewOutbox(nil, nil, bot.Backoff{}) // without a store, durable sends are plain ones
	m, err := alert.New(alert.Options{Rules: []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}, Store: st, Outbox: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Accept(context.Background(), alert.Alert{Source: "falco", Severity: alert.High, Title: "Shell in container"}); err != nil {
		t.Fatal(err)
	}
	id := m.Open()[0].ID
	p := alerts.New(m, nil)
	run := func(auth bot.Authorizer, line string) string {
		got := bottest.Run(t, bot.Options{Outbox: out, Authorizer: auth}, []bot.Plugin{p}, bottest.InRoom("#sec", "alice", "seipbot "+line))
		var texts []string
		for _, r := range got {
			if r.Room == "#sec" && !strings.Contains(r.Text, "say \"ack") {
				texts = append(texts, r.Text)
			}
		}
		return strings.Join(texts, "\n")
	}
	tests := []struct {
		auth       bot.Authorizer
		line, want string
	}{
		{nil, "alerts", "Open alerts (1):\n  " + id + "  [HIGH] Shell in container · falco"},
		{nil, "ack " + id, `"ack" is restricted and no access policy grants it`},
		{grants{"alerts.silence"}, "ack " + id, "You may not ack alerts."},
		{grants{"alerts.ack"}, "ack nope42", `There is no open alert "nope42"`},
		{grants{"alerts.ack"}, "ack " + id + " isolating the pod", "alice acknowledged alert " + id + ": Shell in container (isolating the pod)."},
		{nil, "alerts", "acked by alice"},
		{grants{"alerts.ack"}, "silence source=falco for 2h", "You may not silence alerts."},
		{grants{"alerts.silence"}, "silence source for 2h", `"source" is not a matcher`},
		{grants{"alerts.silence"}, "silence source=falco for 90d", "A silence lasts from 1s to 30d"},
		{grants{"alerts.silence"}, "silence source=falco for 2h", "Silenced source=falco until "},
		{grants{"alerts.silence"}, "silence " + id + " for 30m", "Silenced source=falco,fingerprint="},
	}
	for _, tt := range tests {
		if got := run(tt.auth, tt.line); !strings.Contains(got, tt.want) {
			t.Errorf("%q answered %q, want it to contain %q", tt.line, got, tt.want)
		}
	}
	if len(m.Silences()) != 2 {
		t.Errorf("%d silences, want 2", len(m.Silences()))
	}
	if err := m.Accept(context.Background(), alert.Alert{Source: "falco", Title: "Another"}); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Open()); n != 1 {
		t.Errorf("a silenced alert was opened: %d open", n)
	}
}
