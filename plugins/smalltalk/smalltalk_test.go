package smalltalk_test

import (
	"context"
	"slices"
	"testing"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/plugins/smalltalk"
)

// say runs a bot with the small talk plugin on one message and returns the
// texts it answered.
func say(t *testing.T, m *bot.Message) []string {
	t.Helper()
	b, err := bot.New(bot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(&smalltalk.Plugin{Pick: func(n int) int { return n - 1 }}); err != nil {
		t.Fatal(err)
	}
	m.Adapter = "test"
	rec := bottest.NewAdapter("test", m)
	b.AddAdapter(rec)
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range rec.Sent() {
		texts = append(texts, r.Text)
	}
	return texts
}

func TestSmallTalk(t *testing.T) {
	alice := bot.User{ID: "test:alice", Name: "Alice"}
	tests := []struct {
		name   string
		text   string
		direct bool
		user   bot.User
		want   []string
	}{
		{name: "room chatter", text: "hello", user: alice},
		{name: "room chatter thanks", text: "thanks!", user: alice},
		{name: "addressed greeting", text: "seipbot hello", user: alice, want: []string{`Hey Alice! Say "help" to see what I can do.`}},
		{name: "mention with extra words", text: "@seipbot Hi there!", user: alice, want: []string{`Hey Alice! Say "help" to see what I can do.`}},
		{name: "good morning", text: "seipbot: good morning", user: alice, want: []string{`Hey Alice! Say "help" to see what I can do.`}},
		{name: "no name", text: "hey", direct: true, user: bot.User{ID: "test:x"}, want: []string{`Hey there! Say "help" to see what I can do.`}},
		{name: "direct thanks", text: "thanks", direct: true, user: alice, want: []string{"Glad to help."}},
		{name: "thank you very much", text: "Thank you very much.", direct: true, user: alice, want: []string{"Glad to help."}},
		{name: "how are you", text: "seipbot how are you?", user: alice, want: []string{"Fine, and watching the logs as always."}},
		{name: "how is it going", text: "how is it going", direct: true, user: alice, want: []string{"Fine, and watching the logs as always."}},
		// A greeting followed by a request is not small talk: the router
		// answers it as a command, here one it does not know.
		{name: "greeting with a request", text: "hi, scan ports x", direct: true, user: alice, want: []string{`I don't know "hi,". Say "help" to see what I can do.`}},
		{name: "word that starts like a greeting", text: "history", direct: true, user: alice, want: []string{`I don't know "history". Say "help" to see what I can do.`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := say(t, &bot.Message{Text: tt.text, Room: "r1", Direct: tt.direct, User: tt.user})
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q: got %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestPickChoosesAmongAnswers(t *testing.T) {
	seen := map[string]bool{}
	for i := range 3 {
		b, _ := bot.New(bot.Options{})
		if err := b.Use(&smalltalk.Plugin{Pick: func(int) int { return i }}); err != nil {
			t.Fatal(err)
		}
		rec := bottest.NewAdapter("test", &bot.Message{Adapter: "test", Text: "ty", Direct: true, User: bot.User{ID: "test:a"}})
		b.AddAdapter(rec)
		if err := b.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(rec.Sent()) != 1 {
			t.Fatalf("Pick %d: got %d answers, want 1", i, len(rec.Sent()))
		}
		seen[rec.Sent()[0].Text] = true
	}
	if len(seen) != 3 {
		t.Errorf("three picks gave %d different answers, want 3", len(seen))
	}
}
