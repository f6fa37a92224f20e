package mattermost_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/seipbot/seipbot/access"
	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/mattermost"
	"github.com/seipbot/seipbot/adapter/mattermost/mattermosttest"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/memory"
)

// newAdapter returns an adapter logged in as s's bot, through p.
func newAdapter(t *testing.T, s *mattermosttest.Server, p *proxy, opts mattermost.Options) *mattermost.Adapter {
	t.Helper()
	opts.URL, opts.Token = p.url(), s.Bot.Token
	opts.BackoffMin, opts.BackoffMax = 100*time.Millisecond, time.Second
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	a, err := mattermost.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestConformance(t *testing.T) {
	s := mattermosttest.Shared(t)
	c := s.Channel(t)
	p := newProxy(t, s.URL)
	adaptertest.Run(t, adaptertest.Harness{
		NewAdapter: func(t *testing.T) bot.Adapter { return newAdapter(t, s, p, mattermost.Options{}) },
		User:       s.Person(t, s.Alice, c.Id),
		OtherBot:   s.Person(t, s.OtherBot, c.Id),
		Room:       c.Id,
		BotName:    "seipbot",
		MaxLen:     mattermost.MaxPost,
		// Markdown is Mattermost's own markup: it goes as it is.
		Render: func(markup string) string { return markup },
		Drop:   p.Drop,
	})
}

// echo is a plugin that says back what it is told, with the thread it
// was told in.
type echo struct{}

func (echo) Name() string { return "echo" }
func (echo) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "echo", Args: []bot.Arg{{Name: "text", Kind: bot.Rest}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, m.Args.String("text"))
		}),
	})
	return nil
}

// runBot runs a bot with a and plugins until the test ends.
func runBot(t *testing.T, a bot.Adapter, opts bot.Options, plugins ...bot.Plugin) *bot.Bot {
	t.Helper()
	opts.Name = "seipbot"
	opts.Outbox = bot.NewOutbox(nil, nil, bot.Backoff{Min: 50 * time.Millisecond, Max: time.Second})
	b, err := bot.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(plugins...); err != nil {
		t.Fatal(err)
	}
	b.AddAdapter(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot: %v", err)
		}
	})
	return b
}

// await reads what the person receives until a post with text, and
// returns it and the texts before it.
func await(t *testing.T, p *mattermosttest.Person, text string) (*model.Post, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	var before []string
	for {
		post, _, err := p.NextPost(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v; received before it: %q", text, err, before)
		}
		if post.Message == text {
			return post, before
		}
		before = append(before, post.Message)
	}
}

// ready asks the bot until it answers, since it connects in the background.
func ready(t *testing.T, p *mattermosttest.Person) {
	t.Helper()
	deadline := time.Now().Add(3 * adaptertest.Timeout)
	for time.Now().Before(deadline) {
		token := "ready-" + rand.Text()
		if err := p.Say(context.Background(), "@seipbot echo "+token); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		answered := false
		for !answered {
			post, _, err := p.NextPost(ctx)
			if err != nil {
				break
			}
			answered = post.Message == token
		}
		cancel()
		if answered {
			return
		}
	}
	t.Fatal("the bot never answered")
}

// TestCommandsWhileCutOff checks that what is said to the bot while it is
// disconnected is answered once it is back, in order, once each, in the
// thread it was said in.
func TestCommandsWhileCutOff(t *testing.T) {
	s := mattermosttest.Shared(t)
	c := s.Channel(t)
	p := newProxy(t, s.URL)
	alice := s.Person(t, s.Alice, c.Id)
	runBot(t, newAdapter(t, s, p, mattermost.Options{}), bot.Options{}, echo{})
	ready(t, alice)

	ctx := context.Background()
	root, err := alice.Post(ctx, c.Id, "", "an incident")
	if err != nil {
		t.Fatal(err)
	}
	restore := p.Drop(t)
	token := rand.Text()
	for _, line := range []string{"@seipbot echo missed 1 " + token, "seipbot: echo missed 2 " + token} {
		if err := alice.Say(ctx, line); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.Post(ctx, c.Id, root.Id, "@seipbot echo in thread "+token); err != nil {
		t.Fatal(err)
	}
	// Long enough for the bot to have noticed and tried again at least once.
	time.Sleep(500 * time.Millisecond)
	restore()

	for i, want := range []string{"missed 1 " + token, "missed 2 " + token, "in thread " + token} {
		post, before := await(t, alice, want)
		if len(before) > 0 {
			t.Errorf("before %q the bot said %q", want, before)
		}
		if wantRoot := map[bool]string{true: root.Id, false: ""}[i == 2]; post.RootId != wantRoot {
			t.Errorf("%q came in thread %q; want %q", want, post.RootId, wantRoot)
		}
	}
	if err := alice.Say(ctx, "@seipbot echo end "+token); err != nil {
		t.Fatal(err)
	}
	if _, before := await(t, alice, "end "+token); len(before) > 0 {
		t.Errorf("the bot repeated itself: %q", before)
	}
}

// restart is a command that needs another admin's approval.
type restart struct{}

func (restart) Name() string { return "ops" }
func (restart) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "restart", Permission: "ops.restart", Sensitive: true,
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, "restarted for "+m.User.ID)
		}),
	})
	return nil
}

// TestApprovalButtons checks that a held command's reply offers Approve
// and Deny, that a click is the clicker's own command under their own
// permissions, and that a click by the requester is refused as typing
// would be.
func TestApprovalButtons(t *testing.T) {
	s := mattermosttest.Shared(t)
	c := s.Channel(t)
	p := newProxy(t, s.URL)
	listen := fmt.Sprintf("127.0.0.1:%d", adaptertest.FreePort(t))
	a := newAdapter(t, s, p, mattermost.Options{ActionListen: listen, ActionURL: "http://" + listen + "/mattermost/actions"})
	alice, carol := "mattermost:"+s.Alice.User.Id, "mattermost:"+s.Carol.User.Id
	auth, err := access.New(access.Policy{
		Roles:     map[string]access.Role{"ops": {Permissions: []string{"ops.*"}}},
		Grants:    []access.Grant{{Identity: alice, Role: "ops"}, {Identity: carol, Role: "ops"}},
		Approvals: []access.ApprovalRule{{Permission: "ops.*", Approvals: 1, Approvers: "ops"}},
	}, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ap := access.NewApprovals(auth, memory.New(), []byte("test key"), nil)
	b := runBot(t, a, bot.Options{Authorizer: auth, Approval: ap.Middleware}, echo{}, restart{}, ap)
	ap.Inbox = b
	alicePerson := s.Person(t, s.Alice, c.Id)
	ready(t, alicePerson)

	ctx := context.Background()
	if err := alicePerson.Say(ctx, "@seipbot restart"); err != nil {
		t.Fatal(err)
	}
	held, _, err := alicePerson.NextPost(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(held.Message, "needs the approval") {
		t.Fatalf("the bot answered %q; want an approval request", held.Message)
	}
	actions := map[string]bool{}
	for _, at := range held.Attachments() {
		for _, ac := range at.Actions {
			actions[ac.Id] = true
			if ac.Integration != nil {
				t.Errorf("a client sees the action's integration (its URL and signed context): %+v", ac.Integration)
			}
		}
	}
	if !actions["Approve"] || !actions["Deny"] {
		t.Fatalf("the request offers the actions %v; want Approve and Deny", actions)
	}

	// Alice may not approve her own request, whether she types or clicks.
	if _, err := s.Alice.API.DoPostAction(ctx, held.Id, "Approve"); err != nil {
		t.Fatalf("alice's click: %v", err)
	}
	post, _ := await(t, alicePerson, "You cannot approve your own request; ask someone else holding the role ops.")
	if post.ChannelId != c.Id {
		t.Errorf("the refusal went to channel %s; want %s", post.ChannelId, c.Id)
	}
	// Carol's click approves, and the command runs as Alice's.
	if _, err := s.Carol.API.DoPostAction(ctx, held.Id, "Approve"); err != nil {
		t.Fatalf("carol's click: %v", err)
	}
	await(t, alicePerson, "restarted for "+alice)
}

// TestLongReplyAsFile checks that a reply longer than MaxParts posts comes
// as a file holding all of it.
func TestLongReplyAsFile(t *testing.T) {
	s := mattermosttest.Shared(t)
	c := s.Channel(t)
	p := newProxy(t, s.URL)
	a := newAdapter(t, s, p, mattermost.Options{MaxParts: 1})
	alice := s.Person(t, s.Alice, c.Id)
	text := "scan report\n" + strings.Repeat("open 443/tcp https é€😀\n", 1000)
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	if err := a.Send(ctx, bot.Response{Room: c.Id, Text: text}); err != nil {
		t.Fatal(err)
	}
	post, _, err := alice.NextPost(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(post.Message, "scan report\n") || len(post.FileIds) != 1 {
		t.Fatalf("the long reply came as %q with files %v; want its first line and one file", post.Message, post.FileIds)
	}
	data, _, err := s.Alice.API.GetFile(ctx, post.FileIds[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != text {
		t.Errorf("the file holds %d bytes that differ from the %d-byte reply", len(data), len(text))
	}
}
