package mattermost

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"fits", "hello\nworld", 20, []string{"hello\nworld"}},
		{"at a line break", "aaaa\nbbbb\ncccc", 10, []string{"aaaa\nbbbb", "cccc"}},
		{"long line", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"never inside a character", "ééééé", 5, []string{"éé", "éé", "é"}},
		{
			"code block closed and reopened",
			"see:\n```\nline one\nline two\nline three\n```\ndone",
			24,
			[]string{"see:\n```\nline one\n```", "```\nline two\n```", "```\nline three\n```\ndone"},
		},
		{
			"fence with a language",
			"```go\nfunc a() {}\nfunc b() {}\n```",
			24,
			[]string{"```go\nfunc a() {}\n```", "```go\nfunc b() {}\n```"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := split(tt.text, tt.limit)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("split(%q, %d) = %q; want %q", tt.text, tt.limit, got, tt.want)
			}
			for _, p := range got {
				if len(p) > tt.limit || !utf8.ValidString(p) {
					t.Errorf("part %q is over %d bytes or not valid UTF-8", p, tt.limit)
				}
			}
		})
	}
}

func TestMention(t *testing.T) {
	tests := []struct {
		text, rest string
		mentioned  bool
	}{
		{"@seipbot echo hi", "echo hi", true},
		{"@SeipBot: echo hi", "echo hi", true},
		{"hey @seipbot, look", "hey @seipbot, look", true},
		{"thanks @seipbot.", "thanks @seipbot.", true},
		{"@seipbots echo", "@seipbots echo", false},
		{"mail seipbot@seipbot-x", "mail seipbot@seipbot-x", false},
		{"no mention", "no mention", false},
	}
	for _, tt := range tests {
		rest, m := mention(tt.text, "seipbot")
		if rest != tt.rest || m != tt.mentioned {
			t.Errorf("mention(%q) = %q, %v; want %q, %v", tt.text, rest, m, tt.rest, tt.mentioned)
		}
	}
}

func TestApprovalID(t *testing.T) {
	// The wording of access.Approvals' reply to a held command.
	held := `"scan ports 10.0.0.0/24" needs the approval of one more person holding the role admin: ask them to say "approve k3x7a2b7" (or "deny k3x7a2b7") before 15:04 UTC.`
	if got := approvalID(held); got != "k3x7a2b7" {
		t.Errorf("approvalID = %q; want k3x7a2b7", got)
	}
	for _, text := range []string{
		"approve k3x7a2b7",
		`say "approve aaaa" (or "deny bbbb")`,
		`say "approve AAAA" (or "deny AAAA")`,
	} {
		if got := approvalID(text); got != "" {
			t.Errorf("approvalID(%q) = %q; want none", text, got)
		}
	}
}
