package access_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seipbot/seipbot/access"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/memory"
)

// chat is an adapter the test types into while the bot runs.
type chat struct {
	in   chan *bot.Message
	mu   sync.Mutex
	sent []bot.Response
}

func (c *chat) Name() string { return "test" }
func (c *chat) Run(ctx context.Context, in bot.Inbox) error {
	for m := range c.in {
		in.Receive(ctx, m)
	}
	return nil
}
func (c *chat) Send(_ context.Context, r bot.Response) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, r)
	return nil
}

// say types text as user in #soc.
func (c *chat) say(user, text string) {
	c.in <- &bot.Message{Adapter: "test", Room: "#soc", User: bot.User{ID: "test:" + user, Name: user}, Text: "!" + text}
}

// await waits for a response to match re and returns its submatches.
func (c *chat) await(t *testing.T, re string) []string {
	t.Helper()
	pat := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, r := range c.sent {
			if m := pat.FindStringSubmatch(r.Text); m != nil {
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("nothing said matches %q; said: %v", re, c.texts())
	return nil
}

// awaitCount waits until n responses contain text.
func (c *chat) awaitCount(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(strings.Join(c.texts(), "\n"), text) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%q was not said %d times; said: %v", text, n, c.texts())
}

func (c *chat) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.sent {
		out = append(out, r.Room+": "+r.Text)
	}
	return out
}

// scanner counts the scans that really ran.
type scanner struct{ runs atomic.Int32 }

func (s *scanner) Name() string { return "scan" }
func (s *scanner) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "scan ports", Permission: "scan.ports", Sensitive: true,
		Args: []bot.Arg{{Name: "target", Kind: bot.Target}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			s.runs.Add(1)
			return w.Reply(ctx, "scanned "+m.Args.String("target"))
		}),
	})
	return nil
}

// approvalBot runs a bot where analysts may scan with the approval of one
// admin (or two, with needed 2), at the clock now.
func approvalBot(t *testing.T, needed int, now func() time.Time) (*chat, *scanner, func()) {
	t.Helper()
	auth, err := access.New(access.Policy{
		Groups: map[string][]string{"admins": {"test:ada", "test:ali", "test:amy"}, "analysts": {"test:ann"}},
		Roles:  map[string]access.Role{"admin": {Permissions: []string{"*"}}, "analyst": {Permissions: []string{"scan.*"}}},
		Grants: []access.Grant{{Group: "admins", Role: "admin"}, {Group: "analysts", Role: "analyst"}},
		Approvals: []access.ApprovalRule{
			{Permission: "scan.*", Approvals: needed, Approvers: "admin", Expires: 15 * time.Minute},
		},
	}, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ap := access.NewApprovals(auth, memory.New(), []byte("test key"), now)
	b, err := bot.New(bot.Options{Prefix: "!", Authorizer: auth, Approval: ap.Middleware})
	if err != nil {
		t.Fatal(err)
	}
	ap.Inbox = b
	sc := &scanner{}
	if err := b.Use(sc, ap); err != nil {
		t.Fatal(err)
	}
	c := &chat{in: make(chan *bot.Message)}
	b.AddAdapter(c)
	done := make(chan error, 1)
	go func() { done <- b.Run(context.Background()) }()
	return c, sc, func() {
		close(c.in)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

var requestID = `"scan ports %s" needs the approval of .* "approve ([a-z0-9]+)"`

func TestApprovalRunsOnceWithTwoApproversRacing(t *testing.T) {
	for range 20 { // a race shows only sometimes
		c, sc, stop := approvalBot(t, 1, nil)
		c.say("ann", "scan ports 10.0.0.1")
		id := c.await(t, strings.ReplaceAll(requestID, "%s", `10\.0\.0\.1`))[1]
		var wg sync.WaitGroup
		for _, admin := range []string{"ada", "ali", "amy"} {
			wg.Go(func() { c.say(admin, "approve "+id) })
		}
		wg.Wait()
		c.await(t, `scanned 10\.0\.0\.1`)
		c.say("ann", "scan ports 10.0.0.1") // after it ran, the same command asks again
		c.awaitCount(t, "needs the approval", 2)
		stop()
		if n := sc.runs.Load(); n != 1 {
			t.Fatalf("the approved scan ran %d times; said: %v", n, c.texts())
		}
		// The late approvers find the request approved, or already run.
		got := strings.Join(c.texts(), "\n")
		if n := strings.Count(got, "is already approved") + strings.Count(got, "There is no approval request"); n != 2 {
			t.Fatalf("the two late approvers were not told: %s", got)
		}
	}
}

func TestSelfApprovalIsRefused(t *testing.T) {
	c, sc, stop := approvalBot(t, 1, nil)
	c.say("ada", "scan ports 10.0.0.2") // an admin needs approval too
	id := c.await(t, strings.ReplaceAll(requestID, "%s", `10\.0\.0\.2`))[1]
	// The request offers its answers as buttons, for adapters that have them.
	c.mu.Lock()
	var buttons []bot.Button
	for _, r := range c.sent {
		if len(r.Buttons) > 0 {
			buttons = r.Buttons
		}
	}
	c.mu.Unlock()
	if len(buttons) != 2 || buttons[0].Value != "approve "+id || buttons[1].Value != "deny "+id {
		t.Errorf("the request offered buttons %+v", buttons)
	}
	c.say("ada", "approve "+id)
	c.await(t, "You cannot approve your own request; ask someone else holding the role admin.")
	c.say("ann", "approve "+id)
	c.await(t, "Only people holding the role admin may approve request "+id)
	stop()
	if sc.runs.Load() != 0 {
		t.Fatal("the scan ran without another admin's approval")
	}
}

func TestApprovalExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, sc, stop := approvalBot(t, 1, clock)
	c.say("ann", "scan ports 10.0.0.3")
	id := c.await(t, strings.ReplaceAll(requestID, "%s", `10\.0\.0\.3`)+`.* before 09:15 UTC`)[1]
	mu.Lock()
	now = now.Add(15 * time.Minute)
	mu.Unlock()
	c.say("ada", "approve "+id)
	c.await(t, `There is no approval request "`+id+`" waiting`)
	stop()
	if sc.runs.Load() != 0 {
		t.Fatal("an expired request ran")
	}
}

func TestChangedArgumentIsANewRequest(t *testing.T) {
	c, sc, stop := approvalBot(t, 2, nil)
	c.say("ann", "scan ports 10.0.0.4")
	first := c.await(t, strings.ReplaceAll(requestID, "%s", `10\.0\.0\.4`))[1]
	c.say("ann", "scan ports 10.0.0.5")
	second := c.await(t, strings.ReplaceAll(requestID, "%s", `10\.0\.0\.5`))[1]
	if first == second {
		t.Fatal("a changed argument reused the request")
	}
	c.say("ann", "scan ports 10.0.0.4") // the same again is the same request
	c.awaitCount(t, `"approve `+first+`"`, 2)
	c.say("ada", "approve "+first)
	c.await(t, `Approved \(1 of 2\) test:ann's "scan ports 10.0.0.4"`)
	c.say("ada", "approve "+first)
	c.await(t, "You have already approved request "+first)
	c.say("amy", "deny "+second)
	c.await(t, `test:amy denied "scan ports 10.0.0.5"`)
	c.say("ali", "approve "+first)
	c.await(t, `scanned 10\.0\.0\.4`)
	c.say("ali", "approve "+second)
	c.await(t, `There is no approval request "`+second+`" waiting`)
	stop()
	if n := sc.runs.Load(); n != 1 {
		t.Fatalf("%d scans ran, want 1; said: %v", n, c.texts())
	}
}
