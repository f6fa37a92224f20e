package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/seipbot/seipbot/store"
)

// alivePrefix is where each replica running jobs says it is alive: a key
// per replica that expires three heartbeats after it was last written.
const alivePrefix = "replicas/alive/"

// errNotRunning stops an update of a record another replica has already
// finished or reported.
var errNotRunning = errors.New("jobs: the record is no longer running")

// watch says every heartbeat that this replica is alive and reports the
// jobs of replicas that are not, until ctx ends. Store trouble is logged
// and tried again at the next beat.
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
			if err := m.beat(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("jobs: saying this replica is alive failed; another may report its jobs as interrupted", "err", err)
			}
			m.stopCancelled(ctx)
			if err := m.sweep(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("jobs: looking for jobs of stopped replicas failed", "err", err)
			}
		}
	}()
}

// beat records that this replica is alive.
func (m *Manager) beat(ctx context.Context) error {
	err := m.opts.Store.Put(ctx, alivePrefix+m.opts.Replica, []byte(m.opts.Now().UTC().Format(time.RFC3339)), 3*m.opts.Heartbeat)
	if err != nil {
		return fmt.Errorf("jobs: heartbeat: %w", err)
	}
	return nil
}

// sweep reports as interrupted every running job of another process that
// is not alive: a replica gone quiet, or, for a record naming no replica,
// the single process before this one. Each record is changed atomically,
// so of two replicas sweeping at once only one reports a job.
func (m *Manager) sweep(ctx context.Context) error {
	var stale []Job
	err := m.opts.Store.Scan(ctx, keyPrefix, func(key string, v []byte) error {
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			m.log.Error("jobs: skipping an unreadable record", "key", key, "err", err)
			return nil
		}
		if j.State == Running && (j.Replica == "" || j.Replica != m.opts.Replica) {
			stale = append(stale, j)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("jobs: load: %w", err)
	}
	alive := map[string]bool{}
	for _, j := range stale {
		if j.Replica != "" {
			live, seen := alive[j.Replica]
			if !seen {
				_, err := m.opts.Store.Get(ctx, alivePrefix+j.Replica)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("jobs: heartbeat of %s: %w", j.Replica, err)
				}
				live = err == nil
				alive[j.Replica] = live
			}
			if live {
				continue
			}
		}
		if err := m.takeOver(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// takeOver marks j, left running by a stopped replica, interrupted and
// reports it, unless another replica did so first.
func (m *Manager) takeOver(ctx context.Context, j Job) error {
	j.State, j.Ended = Interrupted, m.opts.Now()
	j.Error = "the bot restarted while it ran"
	if j.Replica != "" {
		j.Error = "replica " + j.Replica + " stopped while it ran"
		j.Rerun = m.opts.Rerun != nil && !j.CancelAsked
	}
	err := m.opts.Store.Update(ctx, keyPrefix+j.ID, func(cur []byte) ([]byte, error) {
		var now Job
		if cur == nil || json.Unmarshal(cur, &now) != nil || now.State != Running {
			return nil, errNotRunning
		}
		return json.Marshal(j)
	})
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jobs: mark %s interrupted: %w", j.ID, err)
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

// stopCancelled stops the jobs running here that someone cancelled on
// another replica.
func (m *Manager) stopCancelled(ctx context.Context) {
	m.mu.Lock()
	ids := slices.Collect(maps.Keys(m.running))
	m.mu.Unlock()
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
