package jobs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/memory"
)

// dying is a replica's view of the shared store that, once the replica is
// dead, writes nothing: as a process killed with SIGKILL would.
type dying struct {
	store.Store
	dead atomic.Bool
}

var errDead = errors.New("the replica is dead")

func (d *dying) Put(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.Put(ctx, key, v, ttl)
}

func (d *dying) Update(ctx context.Context, key string, fn func([]byte) ([]byte, error)) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Store.Update(ctx, key, fn)
}

// holdings is an in-memory Holdings the replicas of a test share, with the
// idle rule of a Redis consumer group: an entry not kept for minIdle may be
// reclaimed by another replica.
type holdings struct {
	mu      sync.Mutex
	minIdle time.Duration
	seq     int
	entries map[string]*heldEntry
}

type heldEntry struct {
	owner   string
	payload []byte
	kept    time.Time
}

func newHoldings(minIdle time.Duration) *holdings {
	return &holdings{minIdle: minIdle, entries: map[string]*heldEntry{}}
}

// of is the view of replica name, which writes nothing once dead is set.
func (h *holdings) of(name string, dead *atomic.Bool) Holdings {
	return holdingsOf{h: h, name: name, dead: dead}
}

type holdingsOf struct {
	h    *holdings
	name string
	dead *atomic.Bool
}

func (v holdingsOf) Hold(_ context.Context, payload []byte) (string, error) {
	if v.dead.Load() {
		return "", errDead
	}
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	v.h.seq++
	id := strconv.Itoa(v.h.seq)
	v.h.entries[id] = &heldEntry{owner: v.name, payload: payload, kept: time.Now()}
	return id, nil
}

func (v holdingsOf) Keep(_ context.Context, ids []string) error {
	if v.dead.Load() {
		return errDead
	}
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	for _, id := range ids {
		if e, ok := v.h.entries[id]; ok && e.owner == v.name {
			e.kept = time.Now()
		}
	}
	return nil
}

func (v holdingsOf) Reclaim(_ context.Context, n int) ([]bot.Taken, error) {
	if v.dead.Load() {
		return nil, errDead
	}
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	var out []bot.Taken
	for id, e := range v.h.entries {
		if len(out) < n && time.Since(e.kept) >= v.h.minIdle {
			e.owner, e.kept = v.name, time.Now()
			out = append(out, bot.Taken{ID: id, Payload: e.payload, Reclaimed: true})
		}
	}
	return out, nil
}

func (v holdingsOf) Ack(_ context.Context, id string) error {
	if v.dead.Load() {
		return errDead
	}
	v.h.mu.Lock()
	defer v.h.mu.Unlock()
	delete(v.h.entries, id)
	return nil
}

// threeReplicas starts replicas A, B and C sharing a store and a queue,
// with heartbeat beat and rerun; A's view of both is a that a test kills.
// It returns A's manager, a, the store, and what B and C say.
func threeReplicas(t *testing.T, beat time.Duration, rerun func(context.Context, Job)) (ma *Manager, a *dying, shared store.Store, outB, outC *sink) {
	t.Helper()
	shared = memory.New()
	q := newHoldings(3 * beat)
	a = &dying{Store: shared}
	var alive atomic.Bool
	outB, outC = newSink(), newSink()
	ma, stopA := startManager(t, Options{Store: a, Out: newSink(), Shared: q.of("a", &a.dead), Replica: "a", Heartbeat: beat, Rerun: rerun})
	_, stopB := startManager(t, Options{Store: shared, Out: outB, Shared: q.of("b", &alive), Replica: "b", Heartbeat: beat, Rerun: rerun})
	_, stopC := startManager(t, Options{Store: shared, Out: outC, Shared: q.of("c", &alive), Replica: "c", Heartbeat: beat, Rerun: rerun})
	t.Cleanup(func() { stopA(); stopB(); stopC() })
	return ma, a, shared, outB, outC
}

// TestStoppedReplicasJobIsReported runs three replicas on one store and
// one queue. A job runs on A; while A is alive no other replica touches
// it, however long it runs. Once A stops writing (it died), exactly one of
// B and C reports the job as interrupted, naming A, and its record says
// so.
func TestStoppedReplicasJobIsReported(t *testing.T) {
	const beat = 40 * time.Millisecond
	ma, a, shared, outB, outC := threeReplicas(t, beat, nil)

	j, err := ma.Start(t.Context(), newSink(), Spec{Title: "scan ports 10.0.0.0/24", Owner: bot.User{ID: "u1"}, Room: "#sec"}, blocked)
	if err != nil {
		t.Fatal(err)
	}
	reports := func() []string {
		outB.mu.Lock()
		defer outB.mu.Unlock()
		outC.mu.Lock()
		defer outC.mu.Unlock()
		return append(append([]string(nil), outB.lines...), outC.lines...)
	}
	time.Sleep(10 * beat)
	if got := reports(); len(got) != 0 {
		t.Fatalf("B and C said %q about a job of a live replica", got)
	}

	a.dead.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for len(reports()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no replica reported the dead replica's job")
		}
		time.Sleep(beat)
	}
	time.Sleep(5 * beat) // room for a second report
	got := reports()
	if len(got) != 1 || !strings.Contains(got[0], "Job "+j.ID) || !strings.Contains(got[0], "replica a stopped") {
		t.Fatalf("reports = %q, want one saying job %s was interrupted as replica a stopped", got, j.ID)
	}
	rec, err := (&Manager{opts: Options{Store: shared}, running: map[string]*running{}}).Get(t.Context(), j.ID)
	if err != nil || rec.State != Interrupted {
		t.Fatalf("the stored record = %+v, %v; want it interrupted", rec, err)
	}
}

// TestCancelOnAnotherReplica cancels, through replica B, a job running on
// A: A stops it at its next heartbeat and reports it cancelled, and a
// finished job cannot be cancelled from anywhere.
func TestCancelOnAnotherReplica(t *testing.T) {
	shared := memory.New()
	const beat = 40 * time.Millisecond
	q := newHoldings(3 * beat)
	var alive atomic.Bool
	outA, outB := newSink(), newSink()
	ma, stopA := startManager(t, Options{Store: shared, Out: outA, Shared: q.of("a", &alive), Replica: "a", Heartbeat: beat})
	defer stopA()
	mb, stopB := startManager(t, Options{Store: shared, Out: outB, Shared: q.of("b", &alive), Replica: "b", Heartbeat: beat})
	defer stopB()
	j, err := ma.Start(t.Context(), outA, Spec{Title: "scan ports 10.0.0.0/24", Owner: bot.User{ID: "u1"}, Room: "#sec"}, blocked)
	if err != nil {
		t.Fatal(err)
	}
	if got := outA.next(t); got != "50% done" {
		t.Fatalf("progress = %q", got)
	}
	if err := mb.Cancel(t.Context(), j.ID); err != nil {
		t.Fatalf("cancelling through B: %v", err)
	}
	if got := outA.next(t); !strings.Contains(got, "Job "+j.ID) || !strings.Contains(got, "cancelled") {
		t.Fatalf("A reported %q, want the job cancelled", got)
	}
	if err := mb.Cancel(t.Context(), j.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("cancelling the finished job: %v, want ErrFinished", err)
	}
}

// TestStoppedReplicasJobIsRunAgain turns Rerun on: the job of a dead
// replica is reported as being run again and handed, once, to Rerun.
func TestStoppedReplicasJobIsRunAgain(t *testing.T) {
	const beat = 40 * time.Millisecond
	reruns := make(chan Job, 4)
	ma, a, _, _, _ := threeReplicas(t, beat, func(_ context.Context, j Job) { reruns <- j })
	j, err := ma.Start(t.Context(), newSink(), Spec{Title: "scan ports 10.0.0.0/24", Owner: bot.User{ID: "u1"}, Room: "#sec"}, blocked)
	if err != nil {
		t.Fatal(err)
	}
	a.dead.Store(true)
	var got Job
	select {
	case got = <-reruns:
	case <-time.After(10 * time.Second):
		t.Fatal("the dead replica's job was not run again")
	}
	if got.ID != j.ID || got.Title != j.Title || got.Owner != "u1" {
		t.Fatalf("Rerun got %+v, want job %s", got, j.ID)
	}
	time.Sleep(5 * beat)
	if len(reruns) != 0 {
		t.Fatal("the job was run again more than once")
	}
	if report := Report(got); !strings.Contains(report, "running it again") {
		t.Fatalf("the report says %q", report)
	}
}

// TestShutdownLeavesJobToAnother stops replica A gracefully, as a rolling
// deploy does, while its job runs: with Rerun, A neither reports nor
// finishes it, and B takes it over and runs it again.
func TestShutdownLeavesJobToAnother(t *testing.T) {
	shared := memory.New()
	const beat = 40 * time.Millisecond
	q := newHoldings(3 * beat)
	var alive atomic.Bool
	reruns := make(chan Job, 4)
	rerun := func(_ context.Context, j Job) { reruns <- j }
	outA, outB := newSink(), newSink()
	ma, stopA := startManager(t, Options{Store: shared, Out: outA, Shared: q.of("a", &alive), Replica: "a", Heartbeat: beat, Rerun: rerun})
	_, stopB := startManager(t, Options{Store: shared, Out: outB, Shared: q.of("b", &alive), Replica: "b", Heartbeat: beat, Rerun: rerun})
	defer stopB()
	j, err := ma.Start(t.Context(), outA, Spec{Title: "scan ports 10.0.0.0/24", Owner: bot.User{ID: "u1"}, Room: "#sec"}, blocked)
	if err != nil {
		t.Fatal(err)
	}
	outA.next(t) // progress
	stopA()
	select {
	case got := <-reruns:
		if got.ID != j.ID {
			t.Fatalf("B ran %s again, want %s", got.ID, j.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job left by the stopped replica was not run again")
	}
	outA.mu.Lock()
	said := outA.lines
	outA.mu.Unlock()
	if len(said) != 1 {
		t.Fatalf("A said %q; a replica shutting down leaves its job's report to the one that takes it over", said)
	}
}
