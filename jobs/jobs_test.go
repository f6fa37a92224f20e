package jobs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store/memory"
)

// sink records what jobs say, durably or not.
type sink struct {
	mu    sync.Mutex
	lines []string
	ids   []string
	sent  []bot.Response // what came with an address: everything but replies
	got   chan string
}

func newSink() *sink { return &sink{got: make(chan string, 100)} }

func (s *sink) add(id, text string) {
	s.mu.Lock()
	s.lines = append(s.lines, text)
	s.ids = append(s.ids, id)
	s.mu.Unlock()
	s.got <- text
}

func (s *sink) SendDurable(_ context.Context, id string, r bot.Response) error {
	s.keep(r)
	s.add(id, r.Text)
	return nil
}
func (s *sink) Reply(_ context.Context, text string) error { s.add("", text); return nil }
func (s *sink) Send(_ context.Context, r bot.Response) error {
	s.keep(r)
	s.add("", r.Text)
	return nil
}

func (s *sink) keep(r bot.Response) {
	s.mu.Lock()
	s.sent = append(s.sent, r)
	s.mu.Unlock()
}

// next waits for the next line said.
func (s *sink) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-s.got:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was said")
		return ""
	}
}

func startManager(t *testing.T, opts Options) (*Manager, func()) {
	t.Helper()
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	// Start refuses until Run has loaded; wait for it.
	for range 1000 {
		m.mu.Lock()
		up := m.base != nil
		m.mu.Unlock()
		if up {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return m, func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

var alice = Spec{Title: "scan ports 127.0.0.1", Owner: bot.User{ID: "u:alice", Name: "alice"}, Room: "#soc", Thread: "t1"}

// blocked is work that reports once and waits for its context.
func blocked(ctx context.Context, progress func(string)) (string, error) {
	progress("50% done")
	<-ctx.Done()
	return "", ctx.Err()
}

func TestJobDoneStoredAndReported(t *testing.T) {
	s := newSink()
	m, stop := startManager(t, Options{Store: memory.New(), Out: s})
	defer stop()
	j, err := m.Start(context.Background(), s, alice, func(ctx context.Context, progress func(string)) (string, error) {
		progress("halfway")
		return "22/tcp open ssh", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.next(t); got != "halfway" {
		t.Errorf("progress = %q", got)
	}
	if got := s.next(t); !strings.Contains(got, "finished in") || !strings.HasSuffix(got, "22/tcp open ssh") {
		t.Errorf("report = %q", got)
	}
	got, err := m.Get(context.Background(), strings.ToUpper(j.ID))
	if err != nil || got.State != Done || got.Result != "22/tcp open ssh" || got.Progress != "halfway" {
		t.Errorf("stored job = %+v, %v", got, err)
	}
	if s.ids[1] != "job-"+j.ID {
		t.Errorf("report sent with id %q, want a durable id", s.ids[1])
	}
}

// TestResultsKeptFromRefusedRoom starts jobs in a room the policy lets hear
// job results and in one it does not: the first reports in its thread, the
// second to its owner directly, progress and result alike.
func TestResultsKeptFromRefusedRoom(t *testing.T) {
	s := newSink()
	may := func(room, topic string) bool { return room == "#soc" && topic == TopicResults }
	m, stop := startManager(t, Options{Store: memory.New(), Out: s, MayNotify: may})
	defer stop()
	work := func(ctx context.Context, progress func(string)) (string, error) {
		progress("halfway")
		return "22/tcp open ssh", nil
	}
	for _, room := range []string{"#soc", "#random"} {
		spec := alice
		spec.Room = room
		if _, err := m.Start(context.Background(), s, spec, work); err != nil {
			t.Fatal(err)
		}
		s.next(t)
		s.next(t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sent) != 4 {
		t.Fatalf("%d messages, want progress and a result for each job: %+v", len(s.sent), s.sent)
	}
	for _, r := range s.sent[:2] {
		if r.Direct || r.Room != "#soc" || r.Thread != "t1" {
			t.Errorf("a job in #soc said %+v; want it in its thread", r)
		}
	}
	for _, r := range s.sent[2:] {
		if !r.Direct || r.User != "u:alice" || r.Room != "" || r.Thread != "" {
			t.Errorf("a job in #random said %+v; want it direct to its owner", r)
		}
	}
	if !strings.HasSuffix(s.sent[3].Text, "22/tcp open ssh") {
		t.Errorf("the owner was told %q, want the result", s.sent[3].Text)
	}
}

func TestJobCancel(t *testing.T) {
	s := newSink()
	m, stop := startManager(t, Options{Store: memory.New(), Out: s})
	defer stop()
	j, err := m.Start(context.Background(), s, alice, blocked)
	if err != nil {
		t.Fatal(err)
	}
	s.next(t) // progress: the work is running
	if got, _ := m.Get(context.Background(), j.ID); got.State != Running || got.Progress != "50% done" {
		t.Errorf("running job = %+v", got)
	}
	if err := m.Cancel(t.Context(), j.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.next(t); !strings.HasSuffix(got, "cancelled: cancelled.") {
		t.Errorf("report = %q", got)
	}
	if err := m.Cancel(t.Context(), j.ID); !errors.Is(err, ErrFinished) {
		t.Errorf("second cancel: %v, want ErrFinished", err)
	}
	if got, _ := m.Get(context.Background(), j.ID); got.State != Cancelled {
		t.Errorf("state = %s", got.State)
	}
}

func TestJobTimeout(t *testing.T) {
	s := newSink()
	m, stop := startManager(t, Options{Store: memory.New(), Out: s, Timeout: 50 * time.Millisecond})
	defer stop()
	j, err := m.Start(context.Background(), s, alice, blocked)
	if err != nil {
		t.Fatal(err)
	}
	s.next(t)
	if got := s.next(t); !strings.Contains(got, "timed out: stopped after the 50ms time limit") {
		t.Errorf("report = %q", got)
	}
	if got, _ := m.Get(context.Background(), j.ID); got.State != TimedOut {
		t.Errorf("state = %s", got.State)
	}
}

func TestJobFailures(t *testing.T) {
	s := newSink()
	m, stop := startManager(t, Options{Store: memory.New(), Out: s})
	defer stop()
	for _, tt := range []struct {
		work Work
		want string
	}{
		{func(context.Context, func(string)) (string, error) { return "", bot.Userf("The repository is empty.") }, "failed: The repository is empty."},
		{func(context.Context, func(string)) (string, error) { return "", errors.New("dial tcp: secret detail") }, "failed: it failed; the bot's log has the details."},
		{func(context.Context, func(string)) (string, error) { panic("boom") }, "failed: it failed"},
	} {
		if _, err := m.Start(context.Background(), s, alice, tt.work); err != nil {
			t.Fatal(err)
		}
		if got := s.next(t); !strings.Contains(got, tt.want) || strings.Contains(got, "secret detail") {
			t.Errorf("report = %q, want %q", got, tt.want)
		}
	}
}

func TestJobLimits(t *testing.T) {
	s := newSink()
	m, stop := startManager(t, Options{Store: memory.New(), Out: s, MaxPerUser: 1, MaxRunning: 2})
	defer stop()
	bob := alice
	bob.Owner = bot.User{ID: "u:bob"}
	carol := alice
	carol.Owner = bot.User{ID: "u:carol"}
	if _, err := m.Start(context.Background(), s, alice, blocked); err != nil {
		t.Fatal(err)
	}
	_, err := m.Start(context.Background(), s, alice, blocked)
	if !errors.Is(err, ErrBusy) || !strings.HasPrefix(err.Error(), "You already have 1 jobs running") {
		t.Errorf("second job of one user: %v", err)
	}
	if _, err := m.Start(context.Background(), s, bob, blocked); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background(), s, carol, blocked); !errors.Is(err, ErrBusy) || !strings.HasPrefix(err.Error(), "The bot is running 2 jobs") {
		t.Errorf("third job overall: %v", err)
	}
	list, err := m.List(context.Background(), func(Job) bool { return true })
	if err != nil || len(list) != 2 || list[0].State != Running {
		t.Errorf("List = %+v, %v", list, err)
	}
}

// TestJobInterruptedByRestart stops a manager with a job running, as a
// crash would leave it, and checks the next one reports it.
func TestJobInterruptedByRestart(t *testing.T) {
	st := memory.New()
	s := newSink()
	m, _ := New(Options{Store: st, Out: s})
	// A record left by a process that died mid-job.
	m.base = context.Background()
	j := Job{ID: "deadbeef", Title: "scan ports 127.0.0.1", Owner: "u:alice", Room: "#soc", State: Running, Started: time.Now()}
	if err := m.save(context.Background(), j, 0); err != nil {
		t.Fatal(err)
	}
	m2, stop := startManager(t, Options{Store: st, Out: s})
	if got := s.next(t); got != "Job deadbeef (scan ports 127.0.0.1) was interrupted: the bot restarted while it ran; run it again." {
		t.Errorf("report = %q", got)
	}
	// A job running at shutdown is recorded as interrupted too.
	j2, err := m2.Start(context.Background(), s, alice, blocked)
	if err != nil {
		t.Fatal(err)
	}
	s.next(t)
	stop()
	if got := s.next(t); !strings.Contains(got, "interrupted: the bot stopped while it ran") {
		t.Errorf("report = %q", got)
	}
	if got, _ := m2.Get(context.Background(), j2.ID); got.State != Interrupted {
		t.Errorf("state = %s", got.State)
	}
}

func TestRetention(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := memory.New(memory.WithClock(clock))
	s := newSink()
	m, stop := startManager(t, Options{Store: st, Out: s, Retention: time.Hour, Now: clock})
	defer stop()
	j, err := m.Start(context.Background(), s, alice, func(context.Context, func(string)) (string, error) { return "ok", nil })
	if err != nil {
		t.Fatal(err)
	}
	s.next(t)
	if _, err := m.Get(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if _, err := m.Get(context.Background(), j.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("job kept past its retention: %v", err)
	}
}

func TestStartBeforeRun(t *testing.T) {
	m, _ := New(Options{Store: memory.New(), Out: newSink()})
	// Without Run, Start gives up when its context does.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Start(ctx, newSink(), alice, blocked); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Start before Run: %v", err)
	}
	// A command that arrives while the bot is still starting waits for Run
	// rather than failing.
	started := make(chan error, 1)
	go func() {
		_, err := m.Start(context.Background(), newSink(), alice, blocked)
		started <- err
	}()
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- m.Run(runCtx) }()
	if err := <-started; err != nil {
		t.Errorf("Start waiting for Run: %v", err)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}
