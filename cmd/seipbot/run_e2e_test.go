package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/irc/irctest"
	"github.com/seipbot/seipbot/adapter/matrix/matrixtest"
	"github.com/seipbot/seipbot/adapter/mattermost/mattermosttest"
	"github.com/seipbot/seipbot/adapter/slack/slackfake"
	"github.com/seipbot/seipbot/adapter/xmpp"
	"github.com/seipbot/seipbot/adapter/xmpp/xmpptest"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/sealed"
)

// These tests are the adapters' "done when": "seipbot run" with only one
// adapter's section in its configuration connects to that platform's real
// server (or, for Slack, the test server built from its documented
// payloads) and answers ping in a room. The adapters' own tests check the
// adapters in depth; these check that the configuration reaches them.

// e2e is one platform's side of a run: the configuration section, and the
// human who asks.
type e2e struct {
	// section is the YAML under "adapters:", indented by two spaces.
	section string
	// human is in room with the bot.
	human adaptertest.Client
	// ask is what the human says to address the bot: the platform's
	// mention form followed by "ping".
	ask string
}

// runPing runs "seipbot run" in-process with p's section alone, has the
// human ask for ping until the bot answers pong (the adapter joins in the
// background, and a platform without history drops what is said before the
// bot is in the room), then stops it and expects a clean exit.
func runPing(t *testing.T, p e2e) {
	t.Helper()
	dir := t.TempDir()
	key, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "seipbot.yaml")
	conf := fmt.Sprintf("data_dir: %s\nadapters:\n%s", filepath.Join(dir, "data"), p.section)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{} // stdout and stderr, for the failure message
	c := &cli{stdin: strings.NewReader(""), stdout: out, stderr: out, env: []string{"HOME=" + dir, "SEIPBOT_SECRET_KEY=" + key}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- c.main(ctx, []string{"run", "--config", file}) }()

	wait, stop := context.WithTimeout(ctx, 3*adaptertest.Timeout)
	defer stop()
	answered := false
	for !answered {
		select {
		case code := <-done:
			t.Fatalf("seipbot run exited %d before answering; it printed:\n%s", code, out)
		default:
		}
		// A human whose client is still joining cannot speak yet; that
		// is retried like an unanswered ping.
		if err := p.human.Say(wait, p.ask); err != nil {
			t.Logf("the human could not speak yet: %v", err)
			select {
			case <-wait.Done():
			case <-time.After(200 * time.Millisecond):
			}
		} else {
			answered = awaitText(wait, p.human, "pong", 2*time.Second)
		}
		if !answered && wait.Err() != nil {
			t.Fatalf("no pong within %s of starting seipbot run; it printed:\n%s", 3*adaptertest.Timeout, out)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("seipbot run exited %d after its context was cancelled; it printed:\n%s", code, out)
		}
	case <-time.After(adaptertest.Timeout):
		t.Fatalf("seipbot run did not stop within %s of its context being cancelled", adaptertest.Timeout)
	}
}

// awaitText reads what the human receives until text arrives in a room
// (not directly), for at most d; anything else is skipped. A late answer to
// an earlier ping is also "pong", which is as good.
func awaitText(ctx context.Context, h adaptertest.Client, text string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		r, err := h.Next(ctx)
		if err != nil {
			return false
		}
		if r.Text == text && !r.Direct {
			return true
		}
	}
}

// adapterHuman is a human whose client is the platform's own adapter,
// logged in as the human, for a platform whose test-server package has no
// client (the XMPP adapter's tests build theirs on the adapter's
// internals). It hands over what the user botID says, in room or directly.
type adapterHuman struct {
	a     bot.Adapter
	id    string
	room  string
	botID string
	got   chan adaptertest.Received
}

var _ adaptertest.Client = (*adapterHuman)(nil)

// newAdapterHuman runs a until the test ends.
func newAdapterHuman(t *testing.T, a bot.Adapter, id, room, botID string) *adapterHuman {
	h := &adapterHuman{a: a, id: id, room: room, botID: botID, got: make(chan adaptertest.Received, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the human's client stopped with an error: %v", err)
		}
	})
	return h
}

func (h *adapterHuman) Receive(_ context.Context, m *bot.Message) {
	if m.User.ID != h.botID {
		return
	}
	r := adaptertest.Received{Room: m.Room, Text: m.Text}
	if m.Direct {
		r = adaptertest.Received{Direct: true, Text: m.Text}
	}
	h.got <- r
}

func (h *adapterHuman) ID() string { return h.id }

func (h *adapterHuman) Say(ctx context.Context, text string) error {
	return h.a.Send(ctx, bot.Response{Room: h.room, Text: text})
}

func (h *adapterHuman) SayDirect(ctx context.Context, text string) error {
	return h.a.Send(ctx, bot.Response{Direct: true, User: h.botID, Text: text})
}

func (h *adapterHuman) Next(ctx context.Context) (adaptertest.Received, error) {
	select {
	case r := <-h.got:
		return r, nil
	case <-ctx.Done():
		return adaptertest.Received{}, ctx.Err()
	}
}

func TestRunIRC(t *testing.T) {
	srv := irctest.Start(t, irctest.Options{})
	human := irctest.NewClient(t, srv.Addr, "alice", "seipbot")
	runPing(t, e2e{
		section: fmt.Sprintf("  irc:\n    server: %s\n    insecure: true\n    channels: [%q]\n", srv.Addr, irctest.Room),
		human:   human,
		ask:     "seipbot: ping",
	})
}

func TestRunXMPP(t *testing.T) {
	srv := xmpptest.Start(t)
	room := "soc@" + xmpptest.MUCDomain
	client, err := xmpp.New(xmpp.Options{
		JID: xmpptest.AliceJID, Password: xmpptest.AlicePassword, Address: srv.Addr(), CAFile: srv.CAFile,
		Nick: "alice", Rooms: []xmpp.Room{{JID: room}},
	})
	if err != nil {
		t.Fatal(err)
	}
	human := newAdapterHuman(t, client, "xmpp:"+xmpptest.AliceJID, room, "xmpp:"+xmpptest.BotJID)
	runPing(t, e2e{
		section: fmt.Sprintf("  xmpp:\n    jid: %s\n    password: %s\n    address: %s\n    ca_file: %s\n    rooms:\n      - jid: %s\n",
			xmpptest.BotJID, xmpptest.BotPassword, srv.Addr(), srv.CAFile, room),
		human: human,
		ask:   "seipbot: ping",
	})
}

func TestRunMatrix(t *testing.T) {
	w := matrixtest.NewWorld(t)
	runPing(t, e2e{
		section: fmt.Sprintf("  matrix:\n    homeserver: %s\n    user_id: %q\n    password: %s\n    rooms: [%q]\n",
			w.Server.URL, w.Bot.UserID, matrixtest.BotPassword, matrixtest.RoomAlias),
		human: w.Alice,
		// Alice's client puts the bot in m.mentions for a line that
		// starts with its name, as current clients do.
		ask: "seipbot: ping",
	})
}

func TestRunMattermost(t *testing.T) {
	// A server of this test's own: the package's other tests need none.
	srv := mattermosttest.Start(t)
	c := srv.Channel(t)
	runPing(t, e2e{
		section: fmt.Sprintf("  mattermost:\n    url: %s\n    token: %s\n", srv.URL, srv.Bot.Token),
		human:   srv.Person(t, srv.Alice, c.Id),
		ask:     "@seipbot ping",
	})
}

func TestRunSlack(t *testing.T) {
	f := slackfake.New(t)
	runPing(t, e2e{
		section: fmt.Sprintf("  slack:\n    bot_token: %s\n    app_token: %s\n    api_url: %s\n",
			slackfake.BotToken, slackfake.AppToken, f.APIURL()),
		human: f.Person(slackfake.Human),
		// The fake turns a leading "seipbot: " into the mention <@U0BOT>,
		// as Slack's client does when one picks the bot by name.
		ask: "seipbot: ping",
	})
}
