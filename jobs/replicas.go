package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// errNotRunning stops an update of a record another replica has already
// finished or reported.
var errNotRunning = errors.New("jobs: the record is no longer running")

// reclaimBatch bounds the entries taken over at one heartbeat.
const reclaimBatch = 16

// hold puts r's entry in the shared queue, held by this replica, when
// there are replicas. Its payload is the job's id.
func (m *Manager) hold(ctx context.Context, r *running) error {
	if m.opts.Shared == nil {
		return nil
	}
	qid, err := m.opts.Shared.Hold(ctx, []byte(r.job.ID))
	if err != nil {
		return fmt.Errorf("jobs: hold %s: %w", r.job.ID, err)
	}
	m.mu.Lock()
	r.qid = qid
	m.mu.Unlock()
	return nil
}

// release removes a finished job's entry from the shared queue.
func (m *Manager) release(ctx context.Context, qid string) {
	if qid == "" {
		return
	}
	if err := m.opts.Shared.Ack(ctx, qid); err != nil {
		m.log.Warn("jobs: a finished job's queue entry was not removed; another replica will find it finished", "entry", qid, "err", err)
	}
}

// watch, every heartbeat until ctx ends, says this replica still holds its
// jobs' entries, stops the jobs cancelled on other replicas, and takes over
// the entries of replicas that stopped keeping theirs. Store trouble is
// logged and tried again at the next beat.
func (m *Manager) watch(ctx context.Context) {
	t := time.NewTicker(m.opts.Heartbeat)
	go func() {
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			m.mu.Lock()
			var held, ids []string
			for id, r := range m.running {
				ids = append(ids, id)
				if r.qid != "" {
					held = append(held, r.qid)
				}
			}
			m.mu.Unlock()
			if err := m.opts.Shared.Keep(ctx, held); err != nil && ctx.Err() == nil {
				m.log.Warn("jobs: saying this replica still runs its jobs failed; another may take them over", "err", err)
			}
			m.stopCancelled(ctx, ids)
			if err := m.reclaim(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("jobs: looking for jobs of stopped replicas failed", "err", err)
			}
		}
	}()
}

// reclaim takes over the entries of replicas that stopped keeping them:
// their jobs are reported interrupted (and run again, with Rerun), and the
// entries removed.
func (m *Manager) reclaim(ctx context.Context) error {
	taken, err := m.opts.Shared.Reclaim(ctx, reclaimBatch)
	if err != nil {
		return err
	}
	for _, t := range taken {
		id := string(t.Payload)
		m.mu.Lock()
		r, mine := m.running[id]
		if mine {
			r.qid = t.ID // this replica's own, back after it failed to keep it
		}
		m.mu.Unlock()
		if mine {
			continue
		}
		if err := m.takeOver(ctx, id); err != nil {
			return err
		}
		m.release(ctx, t.ID)
	}
	return nil
}

// stopCancelled stops the jobs ids, running here, that someone cancelled
// on another replica.
func (m *Manager) stopCancelled(ctx context.Context, ids []string) {
	for _, id := range ids {
		raw, err := m.opts.Store.Get(ctx, keyPrefix+id)
		if err != nil {
			continue // gone, or the store is down: asked again next beat
		}
		var j Job
		if json.Unmarshal(raw, &j) == nil && j.CancelAsked {
			m.mu.Lock()
			if r, ok := m.running[id]; ok {
				r.cancel(errCancelled)
			}
			m.mu.Unlock()
		}
	}
}

// takeOver marks the job id, left running by a process that stopped,
// interrupted and reports it, and runs it again when a replica stopped
// and Rerun is set; nothing if it is no longer running (another replica
// did it first, or it finished).
func (m *Manager) takeOver(ctx context.Context, id string) error {
	var j Job
	err := m.opts.Store.Update(ctx, keyPrefix+id, func(cur []byte) ([]byte, error) {
		if cur == nil || json.Unmarshal(cur, &j) != nil || j.State != Running {
			return nil, errNotRunning
		}
		j.State, j.Ended = Interrupted, m.opts.Now()
		j.Error = "the bot restarted while it ran"
		if j.Replica != "" {
			j.Error = "replica " + j.Replica + " stopped while it ran"
			j.Rerun = m.opts.Rerun != nil && !j.CancelAsked
		}
		return json.Marshal(j)
	})
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jobs: mark %s interrupted: %w", id, err)
	}
	m.log.Info("jobs: reporting a job its replica left running", "job", j.ID, "replica", j.Replica, "rerun", j.Rerun)
	if err := m.finish(ctx, j); err != nil {
		return err
	}
	if j.Rerun {
		m.opts.Rerun(ctx, j)
	}
	return nil
}
