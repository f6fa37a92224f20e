package slack_test

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seipbot/seipbot/access"
	"github.com/seipbot/seipbot/adapter/slack/slackfake"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/memory"
)

// scanner is a sensitive command that counts the scans that really ran.
type scanner struct{ runs atomic.Int32 }

func (s *scanner) Name() string { return "scan" }

func (s *scanner) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "scan ports", Permission: "scan.ports", Sensitive: true,
		Args: []bot.Arg{{Name: "target", Kind: bot.Rest}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			s.runs.Add(1)
			return w.Reply(ctx, "scanned "+m.Args.String("target"))
		}),
	})
	return nil
}

// TestApprovalButtonRunsAsTheClicker asks for an approval, offers its
// answers as buttons, and clicks them: first as someone without the
// approver role, who is refused, then as an admin, whose click runs the
// scan. The clicks pass the same policy as typed commands.
func TestApprovalButtonRunsAsTheClicker(t *testing.T) {
	const (
		analyst = "U0ANN"
		admin   = "U0ADA"
		mallory = "U0MAL"
	)
	f := slackfake.New(t)
	auth, err := access.New(access.Policy{
		Groups: map[string][]string{"admins": {"slack:" + admin}, "analysts": {"slack:" + analyst, "slack:" + mallory}},
		Roles:  map[string]access.Role{"admin": {Permissions: []string{"*"}}, "analyst": {Permissions: []string{"scan.*"}}},
		Grants: []access.Grant{{Group: "admins", Role: "admin"}, {Group: "analysts", Role: "analyst"}},
		Approvals: []access.ApprovalRule{
			{Permission: "scan.*", Approvals: 1, Approvers: "admin", Expires: 15 * time.Minute},
		},
	}, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	approvals := access.NewApprovals(auth, memory.New(), []byte("test key"), nil)
	b, err := bot.New(bot.Options{
		Authorizer: auth, Approval: approvals.Middleware,
		Outbox: bot.NewOutbox(nil, nil, bot.Backoff{Min: 50 * time.Millisecond, Max: time.Second}),
	})
	if err != nil {
		t.Fatal(err)
	}
	approvals.Inbox = b
	scans := &scanner{}
	if err := b.Use(scans, approvals); err != nil {
		t.Fatal(err)
	}
	runOn(t, f, b)
	ctx := context.Background()

	f.Say(analyst, slackfake.Room, "seipbot: scan ports 10.0.0.1")
	request := f.NextPost(t)
	id := regexp.MustCompile(`approve (\w+)`).FindStringSubmatch(strings.Join(request.Sections, "\n"))
	if id == nil {
		t.Fatalf("no approval request; the bot said %q", request.Sections)
	}

	// What a plugin offering the request's answers as buttons sends.
	offer := bot.Response{Room: slackfake.Room, Thread: request.Thread, Text: "Approve the scan?", Buttons: []bot.Button{
		{Label: "Approve", Value: "approve " + id[1]}, {Label: "Deny", Value: "deny " + id[1]},
	}}
	if err := b.Outbox().Send(ctx, offer); err != nil {
		t.Fatal(err)
	}
	offered := f.NextPost(t)
	want := []slackfake.Button{
		{ActionID: "seipbot-0", Label: "Approve", Value: "approve " + id[1]},
		{ActionID: "seipbot-1", Label: "Deny", Value: "deny " + id[1]},
	}
	if len(offered.Buttons) != 2 || offered.Buttons[0] != want[0] || offered.Buttons[1] != want[1] {
		t.Fatalf("buttons rendered as %+v, want %+v", offered.Buttons, want)
	}

	env := f.Click(t, mallory, slackfake.Room, offered.Buttons[0].Value)
	if refused := f.NextPost(t); !strings.Contains(strings.Join(refused.Sections, ""), "Only people holding the role admin may approve") {
		t.Errorf("a click by someone who may not approve was answered %q", refused.Sections)
	}
	if !f.AwaitAck(env) {
		t.Error("the click's envelope was not acknowledged")
	}
	if n := scans.runs.Load(); n != 0 {
		t.Fatalf("the scan ran %d times before an approver clicked", n)
	}

	f.Click(t, admin, slackfake.Room, offered.Buttons[0].Value)
	var said []string
	for !strings.Contains(strings.Join(said, "\n"), "scanned 10.0.0.1") {
		p := f.NextPost(t)
		said = append(said, p.Sections...)
	}
	if !strings.Contains(said[0], "Approved: running slack:"+analyst) {
		t.Errorf("the admin's click was answered %q", said)
	}
	if n := scans.runs.Load(); n != 1 {
		t.Errorf("the scan ran %d times, want once", n)
	}
}
