// Package jobs is the chat side of long work: "jobs" lists the running and
// recent jobs, "job show <id>" prints one's result and "job cancel <id>"
// stops one. Job results can hold scan findings, so a job is visible only
// to its owner and in the room it ran in.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/jobs"
)

// CancelAny is the permission that lets a user cancel other people's jobs.
const CancelAny = "jobs.cancel.any"

// Plugin is the jobs plugin.
type Plugin struct {
	Jobs *jobs.Manager
	// Authorizer decides whether a user holds CancelAny; nil means no one
	// does, so only owners cancel.
	Authorizer bot.Authorizer
}

// Name returns "jobs".
func (p *Plugin) Name() string { return "jobs" }

// Register declares the commands.
func (p *Plugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{Words: "jobs", Help: "list the running and recent jobs of this room and yours", Permission: "jobs.view", Handler: bot.HandlerFunc(p.list)})
	r.Command(bot.Command{
		Words: "job show", Args: []bot.Arg{{Name: "id", Kind: bot.String}},
		Help: "show a job's state and result", Permission: "jobs.view", Handler: bot.HandlerFunc(p.show),
	})
	r.Command(bot.Command{
		Words: "job cancel", Args: []bot.Arg{{Name: "id", Kind: bot.String}},
		Help: "stop a running job (yours, or anyone's with jobs.cancel.any)", Permission: "jobs.cancel", Handler: bot.HandlerFunc(p.cancel),
	})
	return nil
}

// visible reports whether the sender of m may see j.
func visible(m *bot.Message, j jobs.Job) bool {
	return j.Owner == m.User.ID || (!m.Direct && !j.Direct && j.Adapter == m.Adapter && j.Room == m.Room)
}

// maxListed bounds the finished jobs "jobs" shows.
const maxListed = 10

func (p *Plugin) list(ctx context.Context, w bot.Responder, m *bot.Message) error {
	list, err := p.Jobs.List(ctx, func(j jobs.Job) bool { return visible(m, j) })
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return w.Reply(ctx, "No jobs here.")
	}
	var b strings.Builder
	b.WriteString("Jobs:")
	finished := 0
	for _, j := range list {
		if j.State != jobs.Running {
			if finished++; finished > maxListed {
				break
			}
		}
		fmt.Fprintf(&b, "\n  %s  %-11s %s  %s  %s", j.ID, j.State, j.Started.UTC().Format("01-02 15:04"), j.OwnerName, j.Title)
		if j.State == jobs.Running && j.Progress != "" {
			b.WriteString("  (" + j.Progress + ")")
		}
	}
	return w.Reply(ctx, b.String())
}

// find returns the job named in m, or a user error that reveals nothing
// about a job the user may not see.
func (p *Plugin) find(ctx context.Context, m *bot.Message) (jobs.Job, error) {
	id := m.Args.String("id")
	j, err := p.Jobs.Get(ctx, id)
	if errors.Is(err, jobs.ErrNotFound) || (err == nil && !visible(m, j)) {
		return jobs.Job{}, bot.Userf("There is no job %q here; \"jobs\" lists them.", id)
	}
	return j, err
}

func (p *Plugin) show(ctx context.Context, w bot.Responder, m *bot.Message) error {
	j, err := p.find(ctx, m)
	if err != nil {
		return err
	}
	return w.Reply(ctx, jobs.Report(j))
}

func (p *Plugin) cancel(ctx context.Context, w bot.Responder, m *bot.Message) error {
	id := m.Args.String("id")
	j, err := p.Jobs.Get(ctx, id)
	if errors.Is(err, jobs.ErrNotFound) {
		return bot.Userf("There is no job %q; \"jobs\" lists them.", id)
	}
	if err != nil {
		return err
	}
	if j.Owner != m.User.ID && !p.mayCancelAny(ctx, m) {
		return bot.Denied(fmt.Sprintf("Job %s is %s's; only they or someone with %s can cancel it.", j.ID, j.OwnerName, CancelAny))
	}
	if err := p.Jobs.Cancel(ctx, j.ID); errors.Is(err, jobs.ErrFinished) {
		return bot.Userf("Job %s has already finished (%s).", j.ID, j.State)
	} else if err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Cancelling job %s; its thread will say when it has stopped.", j.ID))
}

// mayCancelAny asks the Authorizer about CancelAny as if the user ran a
// command that needs it, so it follows the same roles and room policy.
func (p *Plugin) mayCancelAny(ctx context.Context, m *bot.Message) bool {
	if p.Authorizer == nil {
		return false
	}
	probe := *m
	probe.Command = &bot.Command{Words: "job cancel", Permission: CancelAny, Sensitive: true, Plugin: p.Name()}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return p.Authorizer.Authorize(ctx, &probe) == nil
}
