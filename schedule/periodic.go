package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seipbot/seipbot/store"
)

// periodicPrefix starts the store key of each periodic job's last run.
const periodicPrefix = "schedule/periodic/"

// Run describes one run of a periodic job.
type Run struct {
	// Name is the job's name as given to Every.
	Name string
	// Due is the tick the run is for, in the Scheduler's location; for a
	// late run, the first tick it stands for.
	Due time.Time
	// Late is true when the run was due before it could start: it was
	// missed while the bot was down, or while the previous run of the job
	// was still going. Missed ticks are folded into this one run.
	Late bool
}

// JobFunc is the work of a periodic job.
type JobFunc func(ctx context.Context, run Run) error

type job struct {
	name string
	spec Spec
	fn   JobFunc
}

// lastRun is what the store keeps per periodic job.
type lastRun struct {
	// Last is the time the job's schedule last advanced from: the due time
	// of an on-time run, the start of a late run, or the first start of
	// the bot with this job.
	Last time.Time `json:"last"`
}

// Every registers fn to run on spec (see ParseSpec) under name, which must
// be unique. Runs of one job never overlap. Register jobs before calling Run.
func (s *Scheduler) Every(name, spec string, fn JobFunc) error {
	if name == "" || fn == nil {
		return errors.New("schedule: Every needs a name and a function")
	}
	parsed, err := ParseSpec(spec)
	if err != nil {
		return fmt.Errorf("schedule: job %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return fmt.Errorf("schedule: job %q registered after Run started", name)
	}
	if prev, ok := s.jobs[name]; ok {
		return fmt.Errorf("schedule: job %q (%s) is already registered (%s)", name, spec, prev.spec)
	}
	s.jobs[name] = &job{name: name, spec: parsed, fn: fn}
	return nil
}

// loadLast returns when the job's schedule last advanced. A job seen for the
// first time starts from now, recorded at once so that a tick missed during
// the bot's first downtime is still noticed.
func (s *Scheduler) loadLast(ctx context.Context, name string, now time.Time) (time.Time, error) {
	raw, err := s.st.Get(ctx, periodicPrefix+name)
	if errors.Is(err, store.ErrNotFound) {
		return now, s.saveLast(ctx, name, now)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule: loading job %q: %w", name, err)
	}
	var rec lastRun
	if err := json.Unmarshal(raw, &rec); err != nil {
		return time.Time{}, fmt.Errorf("schedule: loading job %q: %w", name, err)
	}
	return rec.Last, nil
}

func (s *Scheduler) saveLast(ctx context.Context, name string, last time.Time) error {
	raw, err := json.Marshal(lastRun{Last: last})
	if err != nil {
		return fmt.Errorf("schedule: saving job %q: %w", name, err)
	}
	if err := s.st.Put(ctx, periodicPrefix+name, raw, 0); err != nil {
		return fmt.Errorf("schedule: saving job %q: %w", name, err)
	}
	return nil
}

// runJob runs one periodic job until ctx is cancelled. Running the job in
// its own loop is what keeps its runs from overlapping.
func (s *Scheduler) runJob(ctx context.Context, j *job, last time.Time) {
	for ctx.Err() == nil {
		now := s.now()
		due := j.spec.Next(last.In(s.loc))
		late := !due.After(now)
		if !late && !sleep(ctx, due.Sub(now)) {
			return
		}
		if !s.leads(ctx) {
			return
		}
		err := j.fn(ctx, Run{Name: j.name, Due: due, Late: late})
		if err != nil && ctx.Err() != nil {
			// Cut short by shutdown: leave the schedule where it was so the
			// run happens again, late, on the next start.
			return
		}
		if err != nil {
			s.log.Error("periodic job failed", "job", j.name, "due", due, "err", err)
		}
		// A late run stands for every tick missed up to its start, so the
		// schedule resumes from then.
		last = due
		if late {
			last = now
		}
		// The run happened; record it even if shutdown has begun.
		if err := s.saveLast(context.WithoutCancel(ctx), j.name, last); err != nil {
			s.log.Error("recording periodic run failed", "job", j.name, "err", err)
		}
	}
}

// sleep waits for d and reports whether it did, rather than ctx being
// cancelled first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
