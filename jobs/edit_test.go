package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/store/memory"
)

// runJob runs one job that reports three progress lines, through a real
// outbox to a, and returns the job once its report is delivered.
func runJob(t *testing.T, a bot.Adapter) Job {
	t.Helper()
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond})
	o.AddAdapter(a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCtx, stopOutbox := context.WithCancel(ctx)
	defer stopOutbox()
	go o.Run(runCtx)
	m, stop := startManager(t, Options{Store: memory.New(), Out: o})
	defer stop()
	spec := alice
	spec.Adapter = a.Name()
	j, err := m.Start(ctx, o, spec, func(ctx context.Context, progress func(string)) (string, error) {
		for _, line := range []string{"10% done", "50% done", "90% done"} {
			progress(line)
		}
		return "22/tcp open ssh", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if got, err := m.Get(ctx, j.ID); err == nil && got.State != Running {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the job never ended")
		}
		time.Sleep(time.Millisecond)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestProgressEditedInPlace(t *testing.T) {
	a := bottest.NewEditingAdapter("test")
	runJob(t, a)
	msgs := a.Messages()
	if len(msgs) != 2 || msgs[0] != "90% done" || !strings.HasSuffix(msgs[1], "22/tcp open ssh") {
		t.Errorf("the thread reads %q, want one progress message saying 90%% done, then the report", msgs)
	}
	if a.Edits() != 2 {
		t.Errorf("%d edits, want the two later progress lines as edits", a.Edits())
	}
}

func TestProgressPostedWhereNoEdits(t *testing.T) {
	a := bottest.NewAdapter("test")
	runJob(t, a)
	texts := a.Texts()
	if len(texts) != 4 || fmt.Sprint(texts[:3]) != "[10% done 50% done 90% done]" {
		t.Errorf("the thread reads %q, want each progress line, then the report", texts)
	}
}
