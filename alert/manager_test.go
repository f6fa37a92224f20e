package alert_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/metrics"
	"github.com/seipbot/seipbot/metrics/metricstest"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/storetest"
)

// recorder keeps what the manager hands to the outbox.
type recorder struct {
	mu   sync.Mutex
	msgs []bot.Response
}

func (r *recorder) SendDurable(_ context.Context, _ string, resp bot.Response) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, resp)
	return nil
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, m.Room+": "+m.Text)
	}
	return out
}

// harness runs a manager and its scheduler inside a synctest bubble, so
// windows and escalations pass without waiting.
func harness(t *testing.T, opts alert.Options) (*alert.Manager, *recorder, *schedule.Scheduler) {
	t.Helper()
	st := memory.New()
	sched, err := schedule.New(st, schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	opts.Store, opts.Outbox, opts.Scheduler = st, rec, sched
	if opts.Rules == nil {
		opts.Rules = []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}
	}
	m, err := alert.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { sched.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return m, rec, sched
}

func falcoLike(host string) alert.Alert {
	return alert.Alert{Source: "falco", Severity: alert.High, Title: "Terminal shell in container", GroupKey: "shell",
		Labels: map[string]string{"hostname": host}}
}

// TestBurst sends a storm of 500 alerts of one group, and each of them
// again: the room hears GroupMax of them, then one summary with the count.
func TestBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, rec, _ := harness(t, alert.Options{DedupWindow: time.Hour, GroupWindow: time.Minute, GroupMax: 3})
		var wg sync.WaitGroup
		for round := range 2 {
			for i := range 500 {
				wg.Go(func() {
					if err := m.Accept(t.Context(), falcoLike(fmt.Sprintf("node-%d", i))); err != nil {
						t.Error(round, err)
					}
				})
			}
			wg.Wait()
		}
		if got := len(rec.texts()); got != 3 {
			t.Fatalf("during the storm the room heard %d messages, want 3:\n%s", got, strings.Join(rec.texts(), "\n"))
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		got := rec.texts()
		if len(got) != 4 || !strings.Contains(got[3], "**[STORM] 497 more alerts like \"Terminal shell in container\"**") {
			t.Fatalf("after the window: %d messages, last %q; want a 4th summing up 497", len(got), got[len(got)-1])
		}
		if n := len(m.Open()); n != 500 {
			t.Errorf("%d open alerts, want 500 (repeats are one alert each)", n)
		}
		for _, r := range m.Open() {
			if r.Count != 2 {
				t.Fatalf("alert %s seen %d times, want 2", r.ID, r.Count)
			}
		}
	})
}

// TestRepeatAfterWindow checks that a repeat within the dedup window is
// quiet and one after it says the alert is still firing.
func TestRepeatAfterWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, rec, _ := harness(t, alert.Options{DedupWindow: 10 * time.Minute})
		a := falcoLike("node-1")
		for range 3 {
			m.Accept(t.Context(), a)
		}
		time.Sleep(11 * time.Minute)
		m.Accept(t.Context(), a)
		got := rec.texts()
		if len(got) != 2 || !strings.Contains(got[1], "is still firing (seen 4 times since") {
			t.Fatalf("messages %q; want the alert, then one still-firing after the window", got)
		}
	})
}

func TestResolvedFollowUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, rec, _ := harness(t, alert.Options{DedupWindow: time.Hour})
		a := alert.Alert{Source: "alertmanager", Severity: alert.Critical, Title: "Disk full on db-2", Fingerprint: "f1"}
		m.Accept(t.Context(), a)
		time.Sleep(12 * time.Minute)
		a.Status = alert.Resolved
		m.Accept(t.Context(), a)
		m.Accept(t.Context(), a) // a second resolution has nothing to follow
		got := rec.texts()
		id := m.Open()
		if len(id) != 0 {
			t.Errorf("%d alerts still open after the resolution", len(id))
		}
		if len(got) != 2 || !strings.HasPrefix(got[1], "#sec: **[RESOLVED] Disk full on db-2** · alert ") || !strings.HasSuffix(got[1], "fired for 12m0s") {
			t.Fatalf("messages %q; want the alert and one resolved follow-up naming it", got)
		}
		if !strings.Contains(got[0], strings.TrimSuffix(strings.Fields(strings.SplitAfter(got[1], "· alert ")[1])[0], ",")) {
			t.Errorf("the follow-up does not name the original's id:\n%s\n%s", got[0], got[1])
		}
		// The alert offers an acknowledgement button; its follow-up, with
		// nothing left to acknowledge, does not.
		rec.mu.Lock()
		first, follow := rec.msgs[0].Buttons, rec.msgs[1].Buttons
		rec.mu.Unlock()
		if len(first) != 1 || !strings.HasPrefix(first[0].Value, "ack ") || !strings.Contains(got[0], strings.TrimPrefix(first[0].Value, "ack ")) {
			t.Errorf("the alert offered buttons %+v", first)
		}
		if len(follow) != 0 {
			t.Errorf("the resolved follow-up offered buttons %+v", follow)
		}
		// On adapters that edit, the resolution replaces the alert's message.
		rec.mu.Lock()
		alertMsg, resolved := rec.msgs[0], rec.msgs[1]
		rec.mu.Unlock()
		if alertMsg.Key == "" || resolved.Key != alertMsg.Key || alertMsg.Replace || !resolved.Replace {
			t.Errorf("keys %q/%q, replace %v/%v: want one key, and only the resolution replacing", alertMsg.Key, resolved.Key, alertMsg.Replace, resolved.Replace)
		}
	})
}

func TestEscalation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rules := []alert.Rule{{
			Rooms:    []alert.Destination{{Room: "#sec"}},
			Escalate: &alert.Escalation{After: 15 * time.Minute, To: alert.Destination{Room: "#oncall"}},
		}}
		m, rec, _ := harness(t, alert.Options{Rules: rules, DedupWindow: time.Hour})
		m.Accept(t.Context(), falcoLike("node-1"), falcoLike("node-2"))
		var acked string
		for _, r := range m.Open() {
			if r.Alert.Labels["hostname"] == "node-1" {
				acked = r.ID
			}
		}
		if _, err := m.Ack(t.Context(), acked, "alice", "on it"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Ack(t.Context(), "nope99", "alice", ""); !errors.Is(err, alert.ErrNoAlert) {
			t.Errorf("ack of an unknown id: %v, want ErrNoAlert", err)
		}
		time.Sleep(16 * time.Minute)
		synctest.Wait()
		got := rec.texts()
		if len(got) != 3 || !strings.HasPrefix(got[2], "#oncall: **[ESCALATED] [HIGH] Terminal shell in container** has not been acknowledged for 15m0s in #sec.") {
			t.Fatalf("messages %q; want one escalation, of the alert nobody acknowledged", got)
		}
	})
}

func TestSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, rec, _ := harness(t, alert.Options{DedupWindow: time.Hour})
		if _, err := m.Silence(t.Context(), "hostname=~node-[12]", time.Hour, "alice"); err != nil {
			t.Fatal(err)
		}
		var bad *alert.MatcherError
		if _, err := m.Silence(t.Context(), "hostname", time.Hour, "alice"); !errors.As(err, &bad) {
			t.Errorf("a malformed matcher: %v, want a MatcherError", err)
		}
		m.Accept(t.Context(), falcoLike("node-1"), falcoLike("node-2"), falcoLike("node-3"))
		if got := rec.texts(); len(got) != 1 || !strings.Contains(got[0], "Terminal shell") {
			t.Fatalf("messages %q; want only node-3's", got)
		}
		time.Sleep(time.Hour)
		m.Accept(t.Context(), falcoLike("node-1"))
		if got := rec.texts(); len(got) != 2 {
			t.Errorf("after the silence ended the room heard %d messages, want 2", len(got))
		}
	})
}

func TestRouting(t *testing.T) {
	ms, err := alert.ParseMatchers("team=sec,env!=dev")
	if err != nil {
		t.Fatal(err)
	}
	rules := []alert.Rule{
		{Sources: []string{"github"}, Repositories: []string{"acme/*"}, Rooms: []alert.Destination{{Room: "#dev-sec"}}, Continue: true},
		{MinSeverity: alert.High, Match: ms, Rooms: []alert.Destination{{Room: "#soc"}}},
		{Rooms: []alert.Destination{{Room: "#misc"}}},
	}
	tests := []struct {
		a    alert.Alert
		want string
	}{
		{alert.Alert{Source: "github", Repository: "acme/api", Severity: alert.High, Labels: map[string]string{"team": "sec"}}, "#dev-sec #soc"},
		{alert.Alert{Source: "github", Repository: "other/api", Severity: alert.Low}, "#misc"},
		{alert.Alert{Source: "falco", Severity: alert.Critical, Labels: map[string]string{"team": "sec", "env": "dev"}}, "#misc"},
		{alert.Alert{Source: "falco", Severity: alert.Medium, Labels: map[string]string{"team": "sec"}}, "#misc"},
	}
	for i, tt := range tests {
		rec := &recorder{}
		m, err := alert.New(alert.Options{Rules: rules, Store: memory.New(), Outbox: rec})
		if err != nil {
			t.Fatal(err)
		}
		tt.a.Title = fmt.Sprint("case ", i)
		m.Accept(context.Background(), tt.a)
		var rooms []string
		for _, r := range rec.msgs {
			rooms = append(rooms, r.Room)
		}
		if got := strings.Join(rooms, " "); got != tt.want {
			t.Errorf("case %d went to %q, want %q", i, got, tt.want)
		}
	}
}

// TestDisconnectedAdapter accepts 1,000 alerts while the chat server is
// down: every one is delivered once it is back, in order, and none twice.
func TestDisconnectedAdapter(t *testing.T) {
	st := memory.New()
	out := bot.NewOutbox(st, nil, bot.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond})
	a := bottest.NewAdapter("chat")
	var down atomic.Bool
	down.Store(true)
	a.Fail = func(bot.Response) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}
	out.AddAdapter(a)
	m, err := alert.New(alert.Options{Rules: []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}, Store: st, Outbox: out})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- out.Run(ctx) }()
	for i := range 1000 {
		if err := m.Accept(ctx, alert.Alert{Source: "generic", Title: fmt.Sprintf("alert %04d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(a.Sent()); n != 0 {
		t.Fatalf("%d delivered while the adapter was down", n)
	}
	down.Store(false)
	flushCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := out.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	texts := a.Texts()
	if len(texts) != 1000 {
		t.Fatalf("%d delivered, want 1000", len(texts))
	}
	for i, text := range texts {
		if want := fmt.Sprintf("**[INFO] alert %04d**", i); !strings.HasPrefix(text, want) {
			t.Fatalf("message %d is %q, want it to start %q (in order, once each)", i, text, want)
		}
	}
}

// TestOneCommitPerAlert checks that a new alert and the message about it
// are stored in one write when the outbox shares the manager's store, and
// in their own stores when it does not.
func TestOneCommitPerAlert(t *testing.T) {
	ctx := t.Context()
	rules := []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}
	st := &storetest.Counter{Store: memory.New()}
	m, err := alert.New(alert.Options{Rules: rules, DedupWindow: time.Hour, Store: st, Outbox: bot.NewOutbox(st, nil, bot.Backoff{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Accept(ctx, alert.Alert{Source: "generic", Title: "disk full"}); err != nil {
		t.Fatal(err)
	}
	if puts, batches := st.Writes(); puts != 0 || batches != 1 {
		t.Errorf("a new alert took %d Puts and %d PutBatches, want one PutBatch", puts, batches)
	}
	var keys []string
	st.Scan(ctx, "", func(k string, _ []byte) error { keys = append(keys, strings.Split(k, "/")[0]); return nil })
	if got := strings.Join(keys, " "); got != "alerts outbox" {
		t.Errorf("stored %q, want the alert and its message", got)
	}

	mine, theirs := memory.New(), memory.New()
	m, err = alert.New(alert.Options{Rules: rules, Store: mine, Outbox: bot.NewOutbox(theirs, nil, bot.Backoff{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Accept(ctx, alert.Alert{Source: "generic", Title: "disk full"}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		st     *memory.Store
		prefix string
	}{"manager's": {mine, "alerts/"}, "outbox's": {theirs, "outbox/"}} {
		n := 0
		c.st.Scan(ctx, "", func(k string, _ []byte) error {
			if !strings.HasPrefix(k, c.prefix) {
				t.Errorf("the %s store holds %s", name, k)
			}
			n++
			return nil
		})
		if n != 1 {
			t.Errorf("the %s store holds %d records, want 1", name, n)
		}
	}
}

// TestConcurrentRepeats sends one alert from many goroutines at once: the
// work on one fingerprint is serialised, so it is announced once and
// counted every time.
func TestConcurrentRepeats(t *testing.T) {
	st := memory.New()
	out := &recorder{}
	m, err := alert.New(alert.Options{Rules: []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}, DedupWindow: time.Hour, Store: st, Outbox: out})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := m.Accept(t.Context(), alert.Alert{Source: "generic", Title: "disk full"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(out.texts()); got != 1 {
		t.Errorf("announced %d times, want once", got)
	}
	if open := m.Open(); len(open) != 1 || open[0].Count != n {
		t.Errorf("open alerts %+v, want one counted %d times", open, n)
	}
}

// TestPolicyKeepsAlertsFromRooms routes alerts to rooms the access policy
// refuses: those rooms get nothing, each refused message is counted under
// reason "policy" and each room and topic is logged once, and an alert no
// room may hear is not kept open.
func TestPolicyKeepsAlertsFromRooms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// #dev-sec hears only Git hosts; #soc hears every alert.
		may := func(room, topic string) bool {
			return room == "#soc" || room == "#dev-sec" && topic == "alerts.github"
		}
		var logged strings.Builder
		reg := metrics.NewRegistry()
		rules := []alert.Rule{
			{Sources: []string{"falco"}, Rooms: []alert.Destination{{Room: "#soc"}, {Room: "#dev-sec"}}},
			{Sources: []string{"generic"}, Rooms: []alert.Destination{{Room: "#dev-sec"}}},
		}
		m, rec, _ := harness(t, alert.Options{Rules: rules, DedupWindow: time.Hour, MayNotify: may, Registerer: reg,
			Logger: slog.New(slog.NewTextHandler(&logged, nil))})
		m.Accept(t.Context(), falcoLike("node-1"))
		m.Accept(t.Context(), alert.Alert{Source: "generic", Severity: alert.High, Title: "build secret leaked"})
		m.Accept(t.Context(), alert.Alert{Source: "generic", Severity: alert.High, Title: "another leak"})
		if got := rec.texts(); len(got) != 1 || !strings.HasPrefix(got[0], "#soc: ") {
			t.Fatalf("messages %q; want the falco alert in #soc only", got)
		}
		if open := m.Open(); len(open) != 1 || open[0].Alert.Source != "falco" {
			t.Errorf("open alerts %+v; want only the falco one, which a room heard", open)
		}
		if got := dropped(t, reg, "policy"); got != 3 {
			t.Errorf("dropped{reason=policy} = %v, want 3 (falco in #dev-sec, both generic alerts)", got)
		}
		if n := strings.Count(logged.String(), "room=#dev-sec topic=alerts.generic"); n != 1 {
			t.Errorf("the refused room and topic were logged %d times, want once:\n%s", n, logged.String())
		}
	})
}

// dropped reads seipbot_alerts_dropped_total for reason from reg.
func dropped(t *testing.T, reg *metrics.Registry, reason string) float64 {
	t.Helper()
	v, _ := metricstest.Value(t, reg, "seipbot_alerts_dropped_total", map[string]string{"reason": reason})
	return v
}
