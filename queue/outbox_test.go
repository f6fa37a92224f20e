package queue_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/queue"
	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/redis/redistest"
	"github.com/seipbot/seipbot/store/sealed"
)

// TestOutboxDeliveriesOutliveAReplica runs two replicas' outboxes on one
// queue. Replica A sends three durable responses but its chat connection
// is down, so it holds them, keeping them well past the queue's idle limit:
// B must not deliver them meanwhile. Then A dies without delivering; B
// takes them over and delivers each once, in order.
func TestOutboxDeliveriesOutliveAReplica(t *testing.T) {
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	const idle, keepEvery = 600 * time.Millisecond, 150 * time.Millisecond
	replica := func(name string, a bot.Adapter) *bot.Outbox {
		o := bot.NewOutbox(memory.New(), nil, bot.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond})
		o.AddAdapter(a)
		o.ShareThrough(func(adapter string) bot.WorkQueue {
			return queue.New(c, prefix, queue.Options{Name: "outbox:" + adapter, Consumer: name, MinIdle: idle, Keyring: kr})
		}, keepEvery)
		return o
	}
	down := bottest.NewAdapter("chat")
	down.Fail = func(bot.Response) error { return errors.New("connection refused") }
	up := bottest.NewAdapter("chat")
	a, b := replica("a", down), replica("b", up)

	ctxA, killA := context.WithCancel(t.Context())
	doneA := make(chan struct{})
	go func() { a.Run(ctxA); close(doneA) }()
	for _, text := range []string{"alert 1", "alert 2", "alert 3"} {
		if err := a.SendDurable(t.Context(), "", bot.Response{Room: "#sec", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Pending() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("A holds %d responses, want 3", a.Pending())
		}
		time.Sleep(10 * time.Millisecond)
	}
	go b.Run(t.Context())
	time.Sleep(3 * idle)
	if got := up.Texts(); len(got) != 0 {
		t.Fatalf("B delivered %q while A still held them", got)
	}

	killA()
	<-doneA
	for len(up.Texts()) < 3 {
		if time.Now().After(deadline.Add(3 * idle)) {
			t.Fatalf("B delivered %q after A died, want all three", up.Texts())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * keepEvery) // room for a duplicate to show
	if got := up.Texts(); !slices.Equal(got, []string{"alert 1", "alert 2", "alert 3"}) {
		t.Fatalf("B delivered %q, want each alert once, in order", got)
	}
	if n, err := c.XLen(t.Context(), prefix+"queue:{outbox:chat}").Result(); err != nil || n != 0 {
		t.Fatalf("the queue holds %d entries (%v) after delivery, want none", n, err)
	}
}

// standby is a chat connection held by one replica at a time.
type standby struct {
	*bottest.Adapter
	present atomic.Bool
}

func (s *standby) Present() bool { return s.present.Load() }

// TestOutboxTakesOnlyWhereTheAdapterIsPresent has two replicas whose
// adapter is connected on one at a time, as IRC's one nick is: the shared
// responses go to whichever holds the connection, never wait on the other.
func TestOutboxTakesOnlyWhereTheAdapterIsPresent(t *testing.T) {
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	replica := func(name string) (*bot.Outbox, *standby) {
		a := &standby{Adapter: bottest.NewAdapter("irc")}
		o := bot.NewOutbox(memory.New(), nil, bot.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond})
		o.AddAdapter(a)
		o.ShareThrough(func(adapter string) bot.WorkQueue {
			return queue.New(c, prefix, queue.Options{Name: "outbox:" + adapter, Consumer: name, MinIdle: time.Minute, Keyring: kr})
		}, 100*time.Millisecond)
		go o.Run(t.Context())
		return o, a
	}
	oa, a := replica("a")
	_, b := replica("b")
	b.present.Store(true)
	await := func(who *standby, want []string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Equal(who.Texts(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("delivered %q, want %q", who.Texts(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, text := range []string{"one", "two"} {
		if err := oa.SendDurable(t.Context(), "", bot.Response{Room: "#sec", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	await(b, []string{"one", "two"})
	b.present.Store(false)
	a.present.Store(true)
	time.Sleep(300 * time.Millisecond) // B's loop sees it is no longer present
	if err := oa.SendDurable(t.Context(), "", bot.Response{Room: "#sec", Text: "three"}); err != nil {
		t.Fatal(err)
	}
	await(a, []string{"three"})
	if got := b.Texts(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("the replica without the connection delivered %q", got[2:])
	}
}

// TestOutboxMovesStoredItems upgrades a bot that kept its durable
// responses in the store to shared queues: two replicas start on the
// store at once, and the responses left there are delivered, each once,
// and leave the store. (Both replicas take from the queue, so the order
// across them is not kept.)
func TestOutboxMovesStoredItems(t *testing.T) {
	kr, err := sealed.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	st := memory.New()
	backoff := bot.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond}

	// The bot before: it stored three responses and stopped before
	// delivering them.
	before := bot.NewOutbox(st, nil, backoff)
	before.AddAdapter(bottest.NewAdapter("chat"))
	for _, text := range []string{"alert 1", "alert 2", "alert 3"} {
		if err := before.SendDurable(t.Context(), "", bot.Response{Room: "#sec", Text: text}); err != nil {
			t.Fatal(err)
		}
	}

	chat := bottest.NewAdapter("chat")
	for _, name := range []string{"a", "b"} {
		o := bot.NewOutbox(st, nil, backoff)
		o.AddAdapter(chat)
		o.ShareThrough(func(adapter string) bot.WorkQueue {
			return queue.New(c, prefix, queue.Options{Name: "outbox:" + adapter, Consumer: name, MinIdle: time.Minute, Keyring: kr})
		}, 100*time.Millisecond)
		go o.Run(t.Context())
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(chat.Texts()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %q, want the three stored responses", chat.Texts())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show
	if got := slices.Sorted(slices.Values(chat.Texts())); !slices.Equal(got, []string{"alert 1", "alert 2", "alert 3"}) {
		t.Fatalf("delivered %q, want each stored response once", got)
	}
	var left []string
	if err := st.Scan(t.Context(), "outbox/", func(key string, _ []byte) error {
		left = append(left, key)
		return nil
	}); err != nil || len(left) > 0 {
		t.Fatalf("the store still holds %q (%v)", left, err)
	}
}
