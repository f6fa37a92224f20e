package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/template"
)

// scheduleMessages registers cfg's scheduled messages with sched: each
// tick says its text, durably, in its room, under an id naming the tick.
// With replicas, the shared outbox adds an id once, so a leader that lost
// its lease without noticing (paused, cut off) and the one that took over
// cannot both say the same tick.
func scheduleMessages(cfg *config.Config, sched *schedule.Scheduler, out *bot.Outbox) error {
	for _, s := range cfg.Schedules {
		say, err := template.New(s.Name).Parse(s.Say)
		if err != nil {
			return fmt.Errorf("schedules: %s: %w", s.Name, err)
		}
		err = sched.Every("say/"+s.Name, s.Cron, func(ctx context.Context, run schedule.Run) error {
			var text strings.Builder
			if err := say.Execute(&text, run); err != nil {
				return fmt.Errorf("schedules: %s: %w", s.Name, err)
			}
			id := "schedule-" + s.Name + "-" + strconv.FormatInt(run.Due.Unix(), 10)
			r := bot.Response{Adapter: s.Adapter, Room: s.Room, Text: text.String()}
			// The store may be unreachable for a while: keep trying until
			// this replica stops leading, which ends ctx and leaves the
			// tick to the next leader, late rather than lost.
			for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
				err := out.SendDurable(ctx, id, r)
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
