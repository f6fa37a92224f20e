package replica_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/replica"
	"github.com/seipbot/seipbot/store/redis/redistest"
)

// connection is a chat adapter that counts how many of its copies are
// connected at once, as a server allowing one nick would see them.
type connection struct {
	connected *atomic.Int32
	most      *atomic.Int32
	closed    atomic.Int32
}

func (c *connection) Name() string                             { return "irc" }
func (c *connection) Send(context.Context, bot.Response) error { return nil }
func (c *connection) Close() error                             { c.closed.Add(1); return nil }

func (c *connection) Run(ctx context.Context, _ bot.Inbox) error {
	n := c.connected.Add(1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	<-ctx.Done()
	c.connected.Add(-1)
	return nil
}

// TestSoloConnectsOneReplica runs one adapter on three replicas under a
// lease: one is connected at a time, and when its replica stops, its
// connection is closed and another replica connects.
func TestSoloConnectsOneReplica(t *testing.T) {
	prefix := redistest.Prefix(t, redistest.Client(t))
	var connected, most atomic.Int32
	type rep struct {
		solo *replica.Solo
		conn *connection
		stop context.CancelFunc
		done chan struct{}
	}
	var reps []*rep
	for _, name := range []string{"a", "b", "c"} {
		conn := &connection{connected: &connected, most: &most}
		l := replica.NewLease(redistest.Client(t), prefix, replica.LeaseOptions{Name: "adapter-irc", Holder: name, TTL: leaseTTL})
		r := &rep{solo: replica.NewSolo(conn, l), conn: conn, done: make(chan struct{})}
		ctx, stop := context.WithCancel(t.Context())
		r.stop = stop
		go func() { defer close(r.done); r.solo.Run(ctx, nil) }()
		t.Cleanup(func() { stop(); <-r.done })
		reps = append(reps, r)
	}
	present := func() *rep {
		t.Helper()
		deadline := time.Now().Add(5 * leaseTTL)
		for time.Now().Before(deadline) {
			var here []*rep
			for _, r := range reps {
				if r.solo.Present() {
					here = append(here, r)
				}
			}
			if len(here) > 1 {
				t.Fatalf("%d replicas present at once", len(here))
			}
			if len(here) == 1 {
				return here[0]
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no replica connected")
		return nil
	}
	first := present()
	time.Sleep(3 * leaseTTL)
	if again := present(); again != first {
		t.Fatal("the connection moved while its replica was alive")
	}
	first.stop()
	<-first.done
	if first.conn.closed.Load() == 0 {
		t.Fatal("the stopped replica left its connection open")
	}
	if next := present(); next == first {
		t.Fatal("the stopped replica is still present")
	}
	if m := most.Load(); m != 1 {
		t.Fatalf("%d connections were up at once, want one", m)
	}
}
