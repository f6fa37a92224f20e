package canned

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
)

// The rules from the issue that asked for canned replies.
var (
	issueCommands = []CommandRule{{
		Command: "runbook ddos",
		Reply:   "DDoS runbook: https://wiki.example/ddos",
		Help:    "link to the DDoS runbook",
	}}
	issueHears = []HearRule{{
		Pattern: `\bINC-(\d+)\b`,
		Reply:   "Incident {{index .Match 1}}: https://tracker.example/INC-{{index .Match 1}}",
	}}
)

func TestReplies(t *testing.T) {
	commands := append(slices.Clone(issueCommands),
		CommandRule{Command: "  Page   ONCALL ", Reply: "Paging on-call for {{.User}} ({{.UserID}}) in {{.Room}}: {{.Text}}"},
		CommandRule{Command: "first word", Reply: "{{len .Args}} words, first {{index .Args 0}}"},
		CommandRule{Command: "no match", Reply: "{{index .Match 1}}"},
	)
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"command from the issue", "seipbot runbook ddos", []string{"DDoS runbook: https://wiki.example/ddos"}},
		{"hear from the issue", "we saw INC-42 again", []string{"Incident 42: https://tracker.example/INC-42"}},
		{"not addressed, no pattern", "runbook ddos", nil},
		{"pattern needs a word boundary", "see XINC-42", nil},
		{"words are normalised", "seipbot page oncall db  is down", []string{"Paging on-call for Alice (test:alice) in ops: db  is down"}},
		{"args", `seipbot first word alpha  beta gamma`, []string{"3 words, first alpha"}},
		{"execution error goes to the bot", "seipbot no match", []string{"That failed"}},
		{"template error when args are missing", "seipbot first word", []string{"That failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(commands, issueHears)
			if err != nil {
				t.Fatal(err)
			}
			b, err := bot.New(bot.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Use(p); err != nil {
				t.Fatal(err)
			}
			rec := bottest.NewAdapter("test", &bot.Message{Adapter: "test", Text: tt.text, Room: "ops", User: bot.User{ID: "test:alice", Name: "Alice"}})
			b.AddAdapter(rec)
			if err := b.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rec.Sent() {
				if r.Room != "ops" {
					t.Errorf("answered in room %q, want ops", r.Room)
				}
				got = append(got, r.Text)
			}
			// An internal error's reply carries a random id.
			if len(got) == 1 && strings.HasPrefix(got[0], "That failed (error id ") {
				got[0] = "That failed"
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q: got %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestRegistration(t *testing.T) {
	p, err := New(issueCommands, issueHears)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bot.New(bot.Options{})
	if err := b.Use(p); err != nil {
		t.Fatal(err)
	}
	c := b.Router().Lookup("runbook ddos")
	if c == nil || c.Help != "link to the DDoS runbook" || c.Plugin != "canned" {
		t.Fatalf("runbook ddos registered as %+v", c)
	}
	hears := b.Router().Hears()
	if len(hears) != 1 || hears[0].Name != "hear-0" || hears[0].Addressed {
		t.Fatalf("hears registered as %+v", hears)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		commands []CommandRule
		hears    []HearRule
		want     []string // each must appear in the error
	}{
		{
			name:     "bad command template",
			commands: []CommandRule{issueCommands[0], {Command: "broken", Reply: "{{.Args"}},
			want:     []string{`canned command 1 "broken": reply: template: broken:1:`},
		},
		{
			name:  "bad hear template",
			hears: []HearRule{{Pattern: `CVE-\d+`, Reply: "{{nosuchfunc}}"}},
			want:  []string{`canned hear 0 "CVE-\\d+": reply: template:`, `"nosuchfunc" not defined`},
		},
		{
			name:     "every mistake at once",
			commands: []CommandRule{{Command: "a", Reply: "{{end}}"}, {Command: "b", Reply: " "}},
			hears:    []HearRule{{Pattern: "", Reply: "x"}},
			want:     []string{`canned command 0 "a"`, `canned command 1 "b": the reply is empty`, "canned hear 0: the pattern is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.commands, tt.hears)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestBadPatternFailsRegistration(t *testing.T) {
	p, err := New(nil, []HearRule{{Pattern: `INC-(\d+`, Reply: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bot.New(bot.Options{})
	err = b.Use(p)
	if err == nil || !strings.Contains(err.Error(), `hear "hear-0"`) {
		t.Fatalf("Use: got %v, want an error naming hear-0", err)
	}
}

// discard is a Responder that says nothing, so the benchmark measures the
// reply alone.
type discard struct{}

func (discard) Reply(context.Context, string) error      { return nil }
func (discard) Send(context.Context, bot.Response) error { return nil }

func BenchmarkReply(b *testing.B) {
	p, err := New(issueCommands, issueHears)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		h := p.commands[0].Handler
		m := &bot.Message{Command: &p.commands[0], Text: "runbook ddos"}
		b.ReportAllocs()
		for b.Loop() {
			if err := h.Handle(ctx, discard{}, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("template", func(b *testing.B) {
		h := p.hears[0].Handler
		m := &bot.Message{Text: "we saw INC-42 again", Match: []string{"INC-42", "42"}}
		b.ReportAllocs()
		for b.Loop() {
			if err := h.Handle(ctx, discard{}, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
