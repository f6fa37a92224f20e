package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/store/memory"
)

// TestScriptJobsRunAsJobs checks the glue that runs a script plugin's long
// command as a job: its replies become progress in the job's thread and the
// job ends done.
func TestScriptJobsRunAsJobs(t *testing.T) {
	out := bottest.NewAdapter("test")
	outbox := bot.NewOutbox(nil, nil, bot.Backoff{})
	outbox.AddAdapter(out)
	jm, err := jobs.New(jobs.Options{Store: memory.New(), Out: outbox, MaxPerUser: 1, MaxRunning: 1, Timeout: time.Minute, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go jm.Run(ctx)
	go outbox.Run(ctx)

	m := &bot.Message{ID: "m1", Adapter: "test", Room: "#soc", User: bot.User{ID: "test:ann", Name: "ann"}, Body: "port check 127.0.0.1"}
	release := make(chan struct{})
	sj := scriptJobs{jobs: jm, out: outbox}
	// Wait until the manager is running before starting a job.
	for {
		err = sj.Start(ctx, m, "port check 127.0.0.1", func(ctx context.Context, w bot.Responder) error {
			<-release
			return w.Reply(ctx, "port 22 is open")
		})
		if err == nil || !strings.Contains(err.Error(), "not running") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	// A second job for the same user is over the per-user limit.
	if err := sj.Start(ctx, m, "again", func(context.Context, bot.Responder) error { return nil }); err == nil {
		t.Error("a second job ran beside the first despite the limit of one")
	}
	close(release)
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := jm.List(ctx, func(j jobs.Job) bool { return j.Title == "port check 127.0.0.1" })
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].State == jobs.Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not finish: %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	flushCtx, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	if err := outbox.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	said := strings.Join(out.Texts(), "\n")
	if !strings.Contains(said, "port 22 is open") {
		t.Errorf("the progress line was not posted: %q", said)
	}
	for _, r := range out.Sent() {
		if r.Thread != "m1" {
			t.Errorf("%q went to thread %q, not the command's", r.Text, r.Thread)
		}
	}
}
