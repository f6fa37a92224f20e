package slack_test

import (
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	seipslack "github.com/seipbot/seipbot/adapter/slack"
	"github.com/seipbot/seipbot/adapter/slack/slackfake"
	"github.com/seipbot/seipbot/bot"
)

// markupRendered is MarkupSample as mrkdwn.
const markupRendered = "*Scan done*: see <https://example.com/r/1|the report>\n" +
	"```\nopen 22/tcp ssh\nopen 443/tcp https\n```\n" +
	"Run `scan ports` again."

// newAdapter returns an adapter on f in Socket Mode.
func newAdapter(t *testing.T, f *slackfake.Server, change func(*seipslack.Options)) *seipslack.Adapter {
	t.Helper()
	// Posts are paced ten times faster than Slack asks, to keep the suite
	// quick; TestPacing checks the pacing itself.
	opts := seipslack.Options{BotToken: slackfake.BotToken, AppToken: slackfake.AppToken, APIURL: f.APIURL(), PostInterval: 100 * time.Millisecond}
	if change != nil {
		change(&opts)
	}
	a, err := seipslack.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestConformance(t *testing.T) {
	f := slackfake.New(t)
	adaptertest.Run(t, adaptertest.Harness{
		NewAdapter: func(t *testing.T) bot.Adapter { return newAdapter(t, f, nil) },
		User:       f.Person(slackfake.Human),
		OtherBot:   f.OtherBot(),
		Room:       slackfake.Room,
		BotName:    "seipbot",
		MaxLen:     3000,
		Render: func(markup string) string {
			if markup != adaptertest.MarkupSample {
				t.Fatalf("asked to render %q", markup)
			}
			return markupRendered
		},
		Drop: f.Drop,
	})
}
