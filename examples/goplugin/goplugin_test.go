package goplugin

import (
	"context"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
)

// analysts may run everything, as a policy granting ioc.refang would.
type analysts struct{}

func (analysts) Authorize(context.Context, *bot.Message) error { return nil }

// TestTranscript plays testdata/ioc.txt; run with -bottest.update after a
// deliberate change to rewrite it.
func TestTranscript(t *testing.T) {
	bottest.Transcript(t, bot.Options{Authorizer: analysts{}}, []bot.Plugin{&Plugin{}}, "testdata/ioc.txt")
}

// TestRefangNeedsAPolicy shows the default: a sensitive command is refused
// when nothing grants it.
func TestRefangNeedsAPolicy(t *testing.T) {
	got := bottest.Run(t, bot.Options{}, []bot.Plugin{&Plugin{}}, bottest.DM("mallory", "refang evil[.]com"))
	if len(got) != 1 || !strings.Contains(got[0].Text, "restricted") {
		t.Errorf("refang without a policy answered %+v", got)
	}
}

func TestBadConfiguration(t *testing.T) {
	b, err := bot.New(bot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(&Plugin{CVEURL: "https://cve.example/"}); err == nil || !strings.Contains(err.Error(), `plugin "ioc"`) {
		t.Errorf("Use = %v, want an error naming the plugin", err)
	}
}
