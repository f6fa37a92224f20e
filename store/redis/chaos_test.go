package redis_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/plugins/remind"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store/redis"
	"github.com/seipbot/seipbot/store/redis/redistest"
)

// TestChaosOutageUnderTraffic runs a bot whose reminders live in a Redis of
// its own while three users keep setting them, kills that Redis a third of
// the way through and starts it again on the same port a third later, and
// checks what each user was told against what Redis holds afterwards:
//
//   - every command is answered once, either "OK, I'll remind you" or the
//     bot's "storage unavailable" answer (never silence, never another
//     error), and the outage is seen;
//   - every reminder the bot confirmed is listed exactly once once Redis is
//     back, and none is listed twice. Redis runs with appendfsync always, so
//     a write it acknowledged survives the kill; a reminder whose write
//     reached Redis but whose acknowledgement was cut off was not confirmed,
//     and may be listed (once) or not;
//   - the same bot, store and client serve again after the outage, without
//     being restarted or reopened.
func TestChaosOutageUnderTraffic(t *testing.T) {
	redistest.URL(t) // the same switch as the other Redis tests
	srv := redistest.Start(t)

	c, err := redis.NewClient(redis.ClientOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := redis.New(c, "chaos:")
	sched, err := schedule.New(st, schedule.Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	out := bot.NewOutbox(st, nil, bot.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond})
	b, err := bot.New(bot.Options{Outbox: out, CommandTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Use(remind.New(sched, out, st, time.UTC, nil)); err != nil {
		t.Fatal(err)
	}
	a := newLine()
	b.AddAdapter(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot stopped with an error: %v", err)
		}
		if err := <-schedDone; err != nil {
			t.Errorf("scheduler stopped with an error: %v", err)
		}
	}()

	users := []string{"alice", "bob", "carol"}
	const total = 60
	for n := 1; n <= total; n++ {
		switch n {
		case total / 3:
			srv.Kill()
		case 2 * total / 3:
			srv.Restart(t)
		}
		a.say(users[n%len(users)], strconv.Itoa(n), fmt.Sprintf("remind me in 1h to item-%d", n))
		time.Sleep(50 * time.Millisecond)
	}

	answers := a.await(t, total)
	confirmed := map[int]bool{}
	unavailable := 0
	for n := 1; n <= total; n++ {
		got := answers[strconv.Itoa(n)]
		switch {
		case len(got) != 1:
			t.Errorf("command %d was answered %d times: %q", n, len(got), got)
		case strings.HasPrefix(got[0], "OK, I'll remind you"):
			confirmed[n] = true
		case strings.HasPrefix(got[0], "Storage is unavailable"):
			unavailable++
		default:
			t.Errorf("command %d was answered %q; want a confirmation or \"storage unavailable\"", n, got[0])
		}
	}
	if unavailable == 0 {
		t.Errorf("no command was answered \"storage unavailable\": the outage went unnoticed")
	}

	// Once Redis is back, every user's list must hold every reminder the
	// bot confirmed to them, once.
	listed := map[int]int{}
	item := regexp.MustCompile(`\bitem-(\d+)$`)
	for _, u := range users {
		text := a.list(t, u)
		for _, l := range strings.Split(text, "\n")[1:] {
			if m := item.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				listed[n]++
			}
		}
	}
	for n := 1; n <= total; n++ {
		if confirmed[n] && listed[n] != 1 {
			t.Errorf("reminder item-%d was confirmed but is listed %d times", n, listed[n])
		}
		if listed[n] > 1 {
			t.Errorf("reminder item-%d is listed %d times", n, listed[n])
		}
	}
	after := 0
	for n := 2*total/3 + 1; n <= total; n++ {
		if confirmed[n] {
			after++
		}
	}
	if after == 0 {
		t.Errorf("no reminder was confirmed after Redis came back: the bot did not recover")
	}
	t.Logf("%d commands: %d confirmed (%d after the restart), %d answered \"storage unavailable\"", total, len(confirmed), after, unavailable)
	select {
	case err := <-done:
		t.Fatalf("the bot stopped during the test: %v", err)
	default:
	}
}

// line is an in-process chat platform: the test says things into it, and
// it keeps the bot's answers by the thread of the message they answer.
type line struct {
	in chan *bot.Message

	mu      sync.Mutex
	answers map[string][]string // thread → answers
	changed chan struct{}       // closed and replaced on every answer
}

func newLine() *line {
	return &line{in: make(chan *bot.Message, 256), answers: map[string][]string{}, changed: make(chan struct{})}
}

func (l *line) Name() string { return "line" }

func (l *line) Run(ctx context.Context, in bot.Inbox) error {
	for {
		select {
		case m := <-l.in:
			in.Receive(ctx, m)
		case <-ctx.Done():
			return nil
		}
	}
}

func (l *line) Send(_ context.Context, r bot.Response) error {
	l.mu.Lock()
	l.answers[r.Thread] = append(l.answers[r.Thread], r.Text)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// say sends text from user directly to the bot, in thread.
func (l *line) say(user, thread, text string) {
	l.in <- &bot.Message{Adapter: "line", Text: text, User: bot.User{ID: "line:" + user, Name: user},
		Room: "dm:" + user, Direct: true, Thread: thread}
}

// await returns the answers once threads "1" to "n" have one each, or
// after a bounded wait; an extra answer would still be counted, since the
// bot answers each user's messages in order and the lists come later.
func (l *line) await(t *testing.T, n int) map[string][]string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		l.mu.Lock()
		missing := 0
		for i := 1; i <= n; i++ {
			if len(l.answers[strconv.Itoa(i)]) == 0 {
				missing++
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if missing == 0 {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Errorf("%d of %d commands were never answered", missing, n)
			return l.snapshot()
		}
	}
	return l.snapshot()
}

func (l *line) snapshot() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]string{}
	for k, v := range l.answers {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// list asks for user's reminders until the answer is a list rather than
// "storage unavailable" (the client may still be reconnecting), and
// returns it.
func (l *line) list(t *testing.T, user string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		thread := "list-" + user + "-" + strconv.Itoa(i)
		l.say(user, thread, "remind list")
		for {
			l.mu.Lock()
			got, changed := l.answers[thread], l.changed
			l.mu.Unlock()
			if len(got) > 0 {
				if strings.HasPrefix(got[0], "Your reminders") || strings.HasPrefix(got[0], "You have no reminders") {
					return got[0]
				}
				break
			}
			select {
			case <-changed:
			case <-time.After(time.Until(deadline)):
				t.Fatalf("%s's reminders could not be listed", user)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's reminders could not be listed after the outage", user)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
