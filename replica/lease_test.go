package replica_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/seipbot/seipbot/replica"
	"github.com/seipbot/seipbot/store/redis/redistest"
)

// holder is one replica campaigning for a lease on its own connection.
type holder struct {
	name   string
	c      goredis.UniversalClient
	lease  *replica.Lease
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	ending []time.Time // when each term's context was cancelled
}

const leaseTTL = time.Second

func campaign(t *testing.T, prefix, name string) *holder {
	h := &holder{name: name, c: redistest.Client(t), done: make(chan struct{})}
	h.lease = replica.NewLease(h.c, prefix, replica.LeaseOptions{Name: "scheduler", Holder: name, TTL: leaseTTL})
	ctx, stop := context.WithCancel(t.Context())
	h.stop = stop
	go func() {
		defer close(h.done)
		h.lease.Run(ctx, func(ctx context.Context) {
			<-ctx.Done()
			h.mu.Lock()
			h.ending = append(h.ending, time.Now())
			h.mu.Unlock()
		})
	}()
	t.Cleanup(func() { stop(); <-h.done })
	return h
}

// leader waits until one of hs leads and returns it with its token.
func leader(t *testing.T, within time.Duration, hs ...*holder) (*holder, uint64) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, h := range hs {
			if token, ok := h.lease.Token(); ok {
				return h, token
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no leader within %s", within)
	return nil, 0
}

// watchOverlap fails the test if two holders ever believe they lead at once.
func watchOverlap(t *testing.T, hs ...*holder) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			n := 0
			for _, h := range hs {
				if _, ok := h.lease.Token(); ok {
					n++
				}
			}
			if n > 1 {
				t.Error("two replicas lead at once")
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { stop(); <-done })
}

// elect starts two replicas campaigning for one lease, watched for
// overlapping terms, and returns the one that won, the other, and the
// winner's token.
func elect(t *testing.T) (won, lost *holder, token uint64) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	a, b := campaign(t, prefix, "a"), campaign(t, prefix, "b")
	watchOverlap(t, a, b)
	won, token = leader(t, 5*time.Second, a, b)
	lost = b
	if won == b {
		lost = a
	}
	return won, lost, token
}

func TestLeaseFailsOverWhenTheLeaderDies(t *testing.T) {
	old, other, oldToken := elect(t)
	if err := old.lease.Check(t.Context()); err != nil {
		t.Fatalf("the leader's Check = %v", err)
	}
	if err := other.lease.Check(t.Context()); !errors.Is(err, replica.ErrNotLeader) {
		t.Fatalf("the follower's Check = %v, want ErrNotLeader", err)
	}
	// Let a few renewals pass, then the leader dies: its connection goes,
	// so it neither renews nor releases.
	time.Sleep(leaseTTL)
	if _, ok := old.lease.Token(); !ok {
		t.Fatal("the leader lost the lease while renewing it")
	}
	died := time.Now()
	old.c.Close()

	next, token := leader(t, 3*leaseTTL, other)
	took := time.Since(died)
	if next != other || token <= oldToken {
		t.Fatalf("new leader %s with token %d after %s with %d", next.name, token, old.name, oldToken)
	}
	// The lease expires a TTL after the last renewal, which was up to a
	// third of a TTL before the death; the follower polls every tenth.
	if took > leaseTTL+leaseTTL/10+200*time.Millisecond {
		t.Fatalf("the new leader took %s to take over, more than the lease time", took)
	}
	old.mu.Lock()
	ended := old.ending
	old.mu.Unlock()
	if len(ended) != 1 || ended[0].After(died.Add(leaseTTL)) {
		t.Fatalf("the old leader's term ended at %v, want within the TTL of its death at %v", ended, died)
	}
	if err := old.lease.Check(t.Context()); err == nil {
		t.Fatal("the dead leader's Check passed")
	}
	t.Logf("took over after %s", took)
}

func TestLeaseHandsOverOnStop(t *testing.T) {
	old, other, oldToken := elect(t)
	stopped := time.Now()
	old.stop()
	<-old.done
	_, token := leader(t, 3*leaseTTL, other)
	if took := time.Since(stopped); took > leaseTTL/2 {
		t.Fatalf("took %s to hand over after a clean stop; the lease was not released", took)
	}
	if token != oldToken+1 {
		t.Fatalf("token %d after %d, want the next", token, oldToken)
	}
}
