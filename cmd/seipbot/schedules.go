package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/schedule"
)

// tickClaimTTL is how long a replica's claim on one tick of a scheduled
// message lasts: far longer than any handover between leaders, so a tick
// one leader said is never said again by the next.
const tickClaimTTL = 24 * time.Hour

// scheduleMessages registers cfg's scheduled messages with sched: each
// tick says its text, durably, in its room. With replicas (claimer set),
// the leader claims each tick before saying it, so that a leader that
// lost its lease without noticing (paused, cut off) and the one that took
// over cannot both say the same tick.
func scheduleMessages(cfg *config.Config, sched *schedule.Scheduler, out *bot.Outbox, claimer bot.Claimer) error {
	for _, s := range cfg.Schedules {
		say, err := template.New(s.Name).Parse(s.Say)
		if err != nil {
			return fmt.Errorf("schedules: %s: %w", s.Name, err)
		}
		var text strings.Builder
		sayOnce := func(ctx context.Context, run schedule.Run) error {
			tick := strconv.FormatInt(run.Due.Unix(), 10)
			if claimer != nil {
				mine, err := claimer.Claim(ctx, "schedule:"+s.Name+":"+tick, tickClaimTTL)
				if err != nil || !mine {
					return err // said already, or to be tried again
				}
			}
			text.Reset()
			if err := say.Execute(&text, run); err != nil {
				return err
			}
			return out.SendDurable(ctx, "schedule-"+s.Name+"-"+tick, bot.Response{Adapter: s.Adapter, Room: s.Room, Text: text.String()})
		}
		err = sched.Every("say/"+s.Name, s.Cron, func(ctx context.Context, run schedule.Run) error {
			// The store may be unreachable for a while: keep trying until
			// this replica stops leading, which ends ctx and leaves the
			// tick to the next leader, late rather than lost.
			for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
				err := sayOnce(ctx, run)
				if err == nil {
					return nil
				}
				if !bot.Sleep(ctx, wait) {
					return fmt.Errorf("schedules: %s: %w", s.Name, err)
				}
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}
