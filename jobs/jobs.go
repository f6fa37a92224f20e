// Package jobs runs long work (scans, clones) outside the command that
// asked for it. A job has an id, an owner, and the room and thread it
// reports to; it runs under per-user and global concurrency limits and a
// timeout, can be cancelled, and leaves its result in the store for a
// retention period. The store is the bot's sealed store, so results are
// encrypted at rest like all other state.
//
// A job reports to its room only when the access policy lets the room
// receive "jobs.results" (TopicResults); otherwise it reports to its owner
// directly.
//
// A job record is written before the work starts and again when it ends,
// so a record still marked running when Run starts belongs to a process
// that died: Run marks it interrupted and says so in the job's room. When
// replicas share the store, each running job also has an entry in a
// shared work queue (a Redis stream), held by the replica running it,
// which says every heartbeat that it still holds it; when a replica dies,
// another takes its entries over (XAUTOCLAIM), reports the jobs as
// interrupted and, with Rerun, runs them again.
package jobs

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store"
)

// keyPrefix is where job records live in the store.
const keyPrefix = "jobs/"

// State is where a job is in its life.
type State string

// The states of a job. Every state but Running is final.
const (
	Running     State = "running"
	Done        State = "done"
	Failed      State = "failed"
	Cancelled   State = "cancelled"
	TimedOut    State = "timed out"
	Interrupted State = "interrupted"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound   = errors.New("jobs: no such job")
	ErrBusy       = errors.New("jobs: concurrency limit reached")
	ErrNotRunning = errors.New("jobs: the job manager is not running")
	ErrFinished   = errors.New("jobs: the job has already finished")
)

// Job is the stored record of one job.
type Job struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"` // the command line, such as "scan ports 10.0.0.0/24"
	Owner     string    `json:"owner"` // user id
	OwnerName string    `json:"owner_name"`
	Adapter   string    `json:"adapter"`
	Room      string    `json:"room"`
	Direct    bool      `json:"direct"`
	Thread    string    `json:"thread"`
	Replica   string    `json:"replica,omitempty"` // the replica running it, when several share the store
	State     State     `json:"state"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	Progress  string    `json:"progress,omitempty"` // the last progress line
	Result    string    `json:"result,omitempty"`
	Error     string    `json:"error,omitempty"` // what the user is told about a failure
	// Rerun is set on an interrupted job that is being run again as a
	// new job.
	Rerun bool `json:"rerun,omitempty"`
	// CancelAsked is set when someone cancelled the job on a replica
	// other than the one running it, which stops it at its next
	// heartbeat.
	CancelAsked bool `json:"cancel_asked,omitempty"`
}

// Work is what a job does. It reports progress through progress, which
// posts a line to the job's thread, or, where the adapter can edit, makes
// the job's one progress message say it; either way it should report a
// handful of times rather than per item. It returns the result as chat
// text; an error made with bot.Userf is shown as it is, any other only as
// "failed".
type Work func(ctx context.Context, progress func(string)) (string, error)

// DurableSender is the part of the outbox final reports go through, so a
// result is not lost to a chat outage or a restart.
type DurableSender interface {
	SendDurable(ctx context.Context, id string, r bot.Response) error
}

// Options configure a Manager.
type Options struct {
	Store store.Store
	Out   DurableSender
	// MaxPerUser and MaxRunning bound the jobs running at once for one
	// user and in all; zero means 2 and 8.
	MaxPerUser, MaxRunning int
	// Timeout bounds one job; zero means 30 minutes.
	Timeout time.Duration
	// Retention is how long a finished job's record is kept; zero means
	// 30 days.
	Retention time.Duration
	// MayNotify, when set, says whether a room may receive a topic (the
	// access policy's MayNotify); jobs ask it about TopicResults. Nil
	// allows every room.
	MayNotify func(room, topic string) bool
	// Shared, when set, makes this process one of several replicas
	// sharing the store: each running job's entry is held in it by the
	// replica running the job. Its idle limit must be several
	// heartbeats.
	Shared Holdings
	// Replica names this process among the replicas (unique per
	// process): its jobs' records carry it.
	Replica string
	// Rerun, when set, runs again a job whose replica died, once another
	// replica has reported it interrupted: typically by dispatching its
	// command line again as its owner, which starts a new job. A job cut
	// short because its replica is shutting down is then left to another
	// replica to run again, rather than reported interrupted.
	Rerun func(ctx context.Context, j Job)
	// Heartbeat is how often the replica says it still holds its jobs
	// and takes over those of replicas that stopped saying so; zero means
	// 5 seconds.
	Heartbeat time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Holdings is a work queue shared by the replicas (queue.Queue) in which
// each running job has an entry held by its replica.
type Holdings interface {
	// Hold adds payload as an entry this replica holds from the start.
	Hold(ctx context.Context, payload []byte) (string, error)
	// Keep says this replica still holds the entries ids.
	Keep(ctx context.Context, ids []string) error
	// Reclaim takes over up to n entries other replicas stopped keeping.
	Reclaim(ctx context.Context, n int) ([]bot.Taken, error)
	// Ack removes the entry id.
	Ack(ctx context.Context, id string) error
}

// TopicResults is the notification topic of what jobs report.
const TopicResults = "jobs.results"

// Manager starts, tracks and cancels jobs.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu   sync.Mutex
	base context.Context // set by Run; nil while not running
	// ready is closed once Run first accepts jobs: a command that arrives
	// while the bot is still starting waits for it instead of failing.
	ready     chan struct{}
	readyOnce sync.Once
	running   map[string]*running
	wg        sync.WaitGroup
}

// running is a job in progress in this process.
type running struct {
	job    Job
	cancel context.CancelCauseFunc
	qid    string // its entry in Options.Shared, if any
}

// Causes of a job's context ending, which decide its final state.
var (
	errCancelled = errors.New("cancelled")
	errStopped   = errors.New("the bot stopped")
)

// New returns a Manager. It does no I/O and starts nothing.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Out == nil {
		return nil, errors.New("jobs: a store and an outbox are required")
	}
	if opts.MaxPerUser < 0 || opts.MaxRunning < 0 || opts.Timeout < 0 || opts.Retention < 0 {
		return nil, errors.New("jobs: limits must not be negative")
	}
	if opts.MaxPerUser == 0 {
		opts.MaxPerUser = 2
	}
	if opts.MaxRunning == 0 {
		opts.MaxRunning = 8
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Minute
	}
	if opts.Retention == 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{opts: opts, log: opts.Logger, running: map[string]*running{}, ready: make(chan struct{})}, nil
}

// Run reports the jobs an earlier process left running as interrupted,
// then accepts jobs until ctx ends. It then cancels the jobs still running,
// waits for them, and records them as interrupted.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.recover(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	if m.base != nil {
		m.mu.Unlock()
		return errors.New("jobs: Run is already running")
	}
	// Jobs end through their own cancel functions, with a cause, not
	// through ctx; their final record must be written even during
	// shutdown.
	m.base = context.WithoutCancel(ctx)
	m.mu.Unlock()
	m.readyOnce.Do(func() { close(m.ready) })
	if m.opts.Shared != nil {
		m.watch(ctx)
	}
	<-ctx.Done()
	m.mu.Lock()
	m.base = nil
	for _, r := range m.running {
		r.cancel(errStopped)
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// recover marks the records left running by an earlier process. With
// replicas, those of a dead replica are found through the queue instead.
func (m *Manager) recover(ctx context.Context) error {
	if m.opts.Shared != nil {
		return nil
	}
	var stale []Job
	err := m.opts.Store.Scan(ctx, keyPrefix, func(key string, v []byte) error {
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			m.log.Error("jobs: skipping an unreadable record", "key", key, "err", err)
			return nil
		}
		if j.State == Running {
			stale = append(stale, j)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("jobs: load: %w", err)
	}
	for _, j := range stale {
		if err := m.takeOver(ctx, j.ID); err != nil {
			return err
		}
	}
	return nil
}

// Spec says who runs a job and where it reports.
type Spec struct {
	Title   string
	Owner   bot.User
	Adapter string
	Room    string
	Direct  bool
	// Thread is the thread progress and the result go to; empty puts them
	// in the room.
	Thread string
}

// SpecFor returns the Spec of a job started by m: titled with its command
// line, reporting in a thread under m (or m's own thread).
func SpecFor(m *bot.Message) Spec {
	thread := m.Thread
	if thread == "" && !m.Direct {
		thread = m.ID
	}
	return Spec{Title: m.Body, Owner: m.User, Adapter: m.Adapter, Room: m.Room, Direct: m.Direct, Thread: thread}
}

// Start records a job and runs work in the background. Progress goes to
// the job's thread through w (the command's Responder). It returns ErrBusy
// (as a bot.UserError) when a limit is reached.
func (m *Manager) Start(ctx context.Context, w bot.Sender, spec Spec, work Work) (Job, error) {
	j := Job{
		ID: newID(), Title: spec.Title, Owner: spec.Owner.ID, OwnerName: spec.Owner.Name,
		Adapter: spec.Adapter, Room: spec.Room, Direct: spec.Direct, Thread: spec.Thread,
		Replica: m.opts.Replica, State: Running, Started: m.opts.Now(),
	}
	select {
	case <-m.ready:
	case <-ctx.Done():
		return Job{}, ErrNotRunning
	}
	m.mu.Lock()
	if m.base == nil {
		m.mu.Unlock()
		return Job{}, ErrNotRunning
	}
	mine := 0
	for _, r := range m.running {
		if r.job.Owner == j.Owner {
			mine++
		}
	}
	switch {
	case mine >= m.opts.MaxPerUser:
		m.mu.Unlock()
		return Job{}, &bot.UserError{Msg: fmt.Sprintf("You already have %d jobs running, the most allowed; wait for one to finish or cancel one (\"jobs\" lists them).", mine), Err: ErrBusy}
	case len(m.running) >= m.opts.MaxRunning:
		m.mu.Unlock()
		return Job{}, &bot.UserError{Msg: fmt.Sprintf("The bot is running %d jobs, the most allowed; try again when one has finished.", len(m.running)), Err: ErrBusy}
	}
	jctx, cancel := context.WithCancelCause(m.base)
	r := &running{job: j, cancel: cancel}
	m.running[j.ID] = r
	m.wg.Add(1)
	m.mu.Unlock()

	err := m.hold(ctx, r)
	if err == nil {
		err = m.save(ctx, j, 0)
	}
	if err != nil {
		m.mu.Lock()
		delete(m.running, j.ID)
		m.mu.Unlock()
		m.release(context.WithoutCancel(ctx), r.qid)
		cancel(nil)
		m.wg.Done()
		return Job{}, err
	}
	go m.run(jctx, w, r, work)
	return j, nil
}

// run does one job's work under its timeout and records how it ended.
func (m *Manager) run(ctx context.Context, w bot.Sender, r *running, work Work) {
	defer m.wg.Done()
	ctx, stop := context.WithTimeoutCause(ctx, m.opts.Timeout, context.DeadlineExceeded)
	defer stop()
	progress := func(line string) {
		m.mu.Lock()
		r.job.Progress = line
		m.mu.Unlock()
		// One message per job, edited to the latest line where the
		// adapter can edit, so progress does not flood the thread; the
		// outbox posts each line where it cannot.
		resp := m.response(r.job, line)
		resp.Key, resp.Replace = "job-"+r.job.ID+"-progress", true
		if err := w.Send(ctx, resp); err != nil {
			m.log.Warn("jobs: progress not sent", "job", r.job.ID, "err", err)
		}
	}
	result, err := m.safely(ctx, work, progress)

	m.mu.Lock()
	delete(m.running, r.job.ID)
	j := r.job
	m.mu.Unlock()
	j.Ended = m.opts.Now()
	cause := context.Cause(ctx)
	switch {
	case err == nil:
		j.State, j.Result = Done, result
	case errors.Is(cause, errCancelled):
		j.State, j.Error = Cancelled, "cancelled"
	case errors.Is(cause, errStopped) && r.qid != "" && m.opts.Rerun != nil:
		// Left held and running: another replica takes it over and runs
		// it again once this one has gone.
		m.log.Info("jobs: leaving a job to another replica", "job", j.ID)
		return
	case errors.Is(cause, errStopped):
		j.State, j.Error = Interrupted, "the bot stopped while it ran"
	case errors.Is(cause, context.DeadlineExceeded):
		j.State, j.Error = TimedOut, fmt.Sprintf("stopped after the %s time limit", m.opts.Timeout)
	default:
		j.State = Failed
		var ue *bot.UserError
		if errors.As(err, &ue) {
			j.Error = ue.Msg
		} else {
			j.Error = "it failed; the bot's log has the details"
			m.log.Error("jobs: job failed", "job", j.ID, "title", j.Title, "err", err)
		}
	}
	if err := m.finish(context.WithoutCancel(ctx), j); err != nil {
		m.log.Error("jobs: final state not recorded", "job", j.ID, "err", err)
		return // still held: another replica reports it if this one dies
	}
	m.release(context.WithoutCancel(ctx), r.qid)
}

// safely runs work, turning a panic into an error so one bad job cannot
// take the bot down.
func (m *Manager) safely(ctx context.Context, work Work, progress func(string)) (result string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("jobs: work panicked: %v", p)
		}
	}()
	result, err = work(ctx, progress)
	if err == nil && ctx.Err() != nil {
		// Work that ignores its context still ends as cancelled or timed
		// out, not as done with a partial result.
		err = ctx.Err()
	}
	return result, err
}

// finish stores j's final record, kept for the retention period, and
// reports it durably in its room.
func (m *Manager) finish(ctx context.Context, j Job) error {
	if err := m.save(ctx, j, m.opts.Retention); err != nil {
		return err
	}
	if err := m.opts.Out.SendDurable(ctx, "job-"+j.ID, m.response(j, Report(j))); err != nil {
		return fmt.Errorf("jobs: report %s: %w", j.ID, err)
	}
	return nil
}

// Report is the message that says how j ended, with its result.
func Report(j Job) string {
	head := fmt.Sprintf("Job %s (%s) ", j.ID, j.Title)
	switch j.State {
	case Done:
		return head + "finished in " + j.Ended.Sub(j.Started).Round(time.Millisecond).String() + ":\n" + j.Result
	case Running:
		line := head + "is running, started " + j.Started.UTC().Format(time.DateTime) + " UTC"
		if j.Progress != "" {
			line += "; " + j.Progress
		}
		return line + "."
	case Interrupted:
		if j.Rerun {
			return head + "was interrupted: " + j.Error + "; running it again."
		}
		return head + "was interrupted: " + j.Error + "; run it again."
	}
	return head + string(j.State) + ": " + strings.TrimSuffix(j.Error, ".") + "."
}

// response addresses text about j: to the job's room and thread, or to its
// owner directly when the job was started in a direct conversation or when
// the policy keeps job results out of its room. The owner is told rather
// than nobody because whoever asked for the work must still learn how it
// went, and a direct message reaches only them, who saw the command anyway.
func (m *Manager) response(j Job, text string) bot.Response {
	switch {
	case j.Direct:
		return bot.Response{Adapter: j.Adapter, Room: j.Room, Thread: j.Thread, Text: text, Direct: true, User: j.Owner}
	case m.opts.MayNotify != nil && !m.opts.MayNotify(j.Room, TopicResults):
		return bot.Response{Adapter: j.Adapter, Text: text, Direct: true, User: j.Owner}
	}
	return bot.Response{Adapter: j.Adapter, Room: j.Room, Thread: j.Thread, Text: text}
}

func (m *Manager) save(ctx context.Context, j Job, ttl time.Duration) error {
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("jobs: encode: %w", err)
	}
	if err := m.opts.Store.Put(ctx, keyPrefix+j.ID, b, ttl); err != nil {
		return fmt.Errorf("jobs: store %s: %w", j.ID, err)
	}
	return nil
}

// Get returns a job: a running one with its latest progress, or a stored
// one within its retention.
func (m *Manager) Get(ctx context.Context, id string) (Job, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	m.mu.Lock()
	if r, ok := m.running[id]; ok {
		j := r.job
		m.mu.Unlock()
		return j, nil
	}
	m.mu.Unlock()
	b, err := m.opts.Store.Get(ctx, keyPrefix+id)
	if errors.Is(err, store.ErrNotFound) {
		return Job{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("jobs: load %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return Job{}, fmt.Errorf("jobs: decode %s: %w", id, err)
	}
	return j, nil
}

// List returns the running and retained jobs for which keep returns true,
// running first, then the most recent.
func (m *Manager) List(ctx context.Context, keep func(Job) bool) ([]Job, error) {
	var out []Job
	err := m.opts.Store.Scan(ctx, keyPrefix, func(key string, v []byte) error {
		var j Job
		if json.Unmarshal(v, &j) == nil && keep(j) {
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	m.mu.Lock()
	for i, j := range out {
		if r, ok := m.running[j.ID]; ok {
			out[i] = r.job
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Job) int {
		ra, rb := a.State == Running, b.State == Running
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Or(b.Started.Compare(a.Started), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Cancel stops a running job. Its final state is recorded and reported by
// the job itself once its work returns. A job running on another replica
// is marked in the store, and its replica stops it at its next heartbeat.
func (m *Manager) Cancel(ctx context.Context, id string) error {
	id = strings.ToLower(strings.TrimSpace(id))
	m.mu.Lock()
	r, ok := m.running[id]
	if ok {
		r.cancel(errCancelled)
	}
	m.mu.Unlock()
	if ok {
		return nil
	}
	if m.opts.Shared == nil {
		return fmt.Errorf("%w: %s", ErrFinished, id)
	}
	err := m.opts.Store.Update(ctx, keyPrefix+id, func(cur []byte) ([]byte, error) {
		var j Job
		if cur == nil || json.Unmarshal(cur, &j) != nil || j.State != Running {
			return nil, errNotRunning
		}
		j.CancelAsked = true
		return json.Marshal(j)
	})
	if errors.Is(err, errNotRunning) {
		return fmt.Errorf("%w: %s", ErrFinished, id)
	}
	if err != nil {
		return fmt.Errorf("jobs: cancel %s: %w", id, err)
	}
	return nil
}

// newID returns eight lower-case base32 characters: short enough to type
// back into "job cancel", and with 40 random bits unlikely to repeat within
// a retention period.
func newID() string {
	return strings.ToLower(rand.Text()[:8])
}
