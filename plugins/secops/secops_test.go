package secops

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/scope"
	"github.com/seipbot/seipbot/store/memory"
)

// fakeDNS answers from a table; nothing leaves the machine.
type fakeDNS map[string][]string

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if out == nil {
		return nil, errors.New("no such host")
	}
	return out, nil
}
func (f fakeDNS) LookupMX(context.Context, string) ([]*net.MX, error) {
	return []*net.MX{{Host: "mx.lab.test.", Pref: 10}}, nil
}
func (f fakeDNS) LookupTXT(context.Context, string) ([]string, error) { return nil, errors.New("none") }
func (f fakeDNS) LookupNS(context.Context, string) ([]*net.NS, error) { return nil, errors.New("none") }
func (f fakeDNS) LookupCNAME(context.Context, string) (string, error) { return "", errors.New("none") }

// allowAll grants every command.
type allowAll struct{}

func (allowAll) Authorize(context.Context, *bot.Message) error { return nil }

type fixture struct {
	p    *Plugin
	jm   *jobs.Manager
	said *said
	opts bot.Options
}

// said records what the plugin sends on its own account.
type said struct {
	mu sync.Mutex
	rs []bot.Response
}

func (s *said) SendDurable(_ context.Context, _ string, r bot.Response) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rs = append(s.rs, r)
	return nil
}

func (s *said) get() []bot.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rs)
}

func newFixture(t *testing.T) *fixture {
	st := memory.New()
	rec := &said{}
	jm, err := jobs.New(jobs.Options{Store: st, Out: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go jm.Run(ctx)
	sched, _ := schedule.New(st, schedule.Options{})
	rule, _ := scope.Parse([]string{"#soc"}, []string{"127.0.0.1"}, nil)
	dns := fakeDNS{"lab.test": {"127.0.0.1"}, "evil.test": {"127.0.0.2"}}
	p, err := New(Options{
		Scope: scope.New([]scope.Rule{rule}, dns), Jobs: jm, Store: st, Sched: sched, Out: rec, Resolver: dns,
		Rate: 1000, MaxRate: 5000, PortTimeout: time.Second, MaxHosts: 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{p: p, jm: jm, said: rec, opts: bot.Options{Prefix: "!", Authorizer: allowAll{}}}
}

// say runs one line in #soc and returns the answer in the room, not the
// job's progress in the thread.
func (f *fixture) say(t *testing.T, line string) string {
	t.Helper()
	m := bottest.InRoom("#soc", "alice", "!"+line)
	m.ID = "m1"
	for _, r := range bottest.Run(t, f.opts, []bot.Plugin{f.p}, m) {
		if r.Thread == "" {
			return r.Text
		}
	}
	t.Fatalf("%q: no answer", line)
	return ""
}

var jobID = regexp.MustCompile(`^Job (\w+):`)

// result waits for the job a reply started and returns its report.
func (f *fixture) result(t *testing.T, reply string) string {
	t.Helper()
	m := jobID.FindStringSubmatch(reply)
	if m == nil {
		t.Fatalf("no job started: %q", reply)
	}
	for range 500 {
		j, err := f.jm.Get(context.Background(), m[1])
		if err == nil && j.State != jobs.Running {
			return jobs.Report(j)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", m[1])
	return ""
}

func listener(t *testing.T) (net.Listener, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-test\r\n"))
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l, l.Addr().(*net.TCPAddr).Port
}

// answers checks that each line's answer holds the text it maps to.
func (f *fixture) answers(t *testing.T, want map[string]string) {
	t.Helper()
	for line, w := range want {
		if got := f.say(t, line); !strings.Contains(got, w) {
			t.Errorf("%q answered %q, want %q", line, got, w)
		}
	}
}

func TestOutOfScopeRefused(t *testing.T) {
	f := newFixture(t)
	f.answers(t, map[string]string{
		"scan ports 127.0.0.2":             "127.0.0.2/32 is outside the scan scope of this room",
		"scan ports 127.0.0.0/24":          "127.0.0.0/24 is outside the scan scope",
		"scan ports evil.test":             "evil.test resolves to 127.0.0.2, which is outside the scan scope",
		"scan web https://evil.test/":      "evil.test resolves to 127.0.0.2",
		"cert 127.0.0.3:443":               "127.0.0.3/32 is outside",
		"watch cert evil.test:443":         "evil.test resolves to 127.0.0.2",
		"scan schedule evil.test every 1h": "evil.test resolves to 127.0.0.2",
	})
	// Another room has no scope at all.
	got := bottest.Run(t, f.opts, []bot.Plugin{f.p}, bottest.InRoom("#dev", "alice", "!scan ports 127.0.0.1"))
	if !strings.HasPrefix(got[0].Text, "Nothing can be scanned from here") {
		t.Errorf("#dev: %q", got[0].Text)
	}
}

func TestScanPortsBaselineAndDiff(t *testing.T) {
	f := newFixture(t)
	_, p1 := listener(t)
	l2, p2 := listener(t)
	spec := fmt.Sprintf("%d,%d", p1, p2)
	report := f.result(t, f.say(t, "scan ports lab.test --ports "+spec))
	for _, want := range []string{fmt.Sprintf("127.0.0.1  %d/tcp  ssh      SSH-2.0-test", p1), fmt.Sprintf("%d/tcp", p2)} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	l2.Close()
	diff := f.result(t, f.say(t, "scan diff lab.test"))
	if !strings.Contains(diff, fmt.Sprintf("- 127.0.0.1:%d closed (was ssh SSH-2.0-test)", p2)) || strings.Contains(diff, fmt.Sprint(p1)+" ") {
		t.Errorf("diff:\n%s", diff)
	}
	if got := f.result(t, f.say(t, "scan diff lab.test")); !strings.Contains(got, "No change on lab.test") {
		t.Errorf("second diff: %s", got)
	}
	if got := f.say(t, "scan diff 127.0.0.1"); !strings.Contains(got, "127.0.0.1 has no baseline yet") {
		t.Errorf("diff without baseline: %q", got)
	}
	if got := f.say(t, "scan ports lab.test --versions"); got != "--versions needs --engine nmap." {
		t.Errorf("--versions: %q", got)
	}
	if got := f.say(t, "scan ports lab.test --ports 99999"); !strings.HasPrefix(got, `"99999" is not a port list`) {
		t.Errorf("bad ports: %q", got)
	}
}

// TestScheduledScanReportsOnlyChanges runs a scheduled scan's entries by
// hand: the first makes the baseline quietly, the next reports a change.
func TestScheduledScanReportsOnlyChanges(t *testing.T) {
	f := newFixture(t)
	_, p1 := listener(t)
	l2, p2 := listener(t)
	got := f.say(t, fmt.Sprintf("scan schedule lab.test every 1h --ports %d,%d", p1, p2))
	m := regexp.MustCompile(`^Scan (\w+) of lab.test every 1h0m0s scheduled`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("schedule answered %q", got)
	}
	if got := f.say(t, "scan schedules"); !strings.Contains(got, m[1]+"  lab.test every 1h0m0s") {
		t.Errorf("schedules: %q", got)
	}
	ctx := context.Background()
	entry := schedule.Entry{ID: "e1", Kind: scheduledKind, At: time.Now(), Payload: []byte(m[1])}
	if err := f.p.scheduled(ctx, entry, false); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	entry.ID = "e2"
	if err := f.p.scheduled(ctx, entry, false); err != nil {
		t.Fatal(err)
	}
	var reports []bot.Response
	for _, r := range f.said.get() {
		if strings.HasPrefix(r.Text, "Scheduled scan") {
			reports = append(reports, r)
		}
	}
	if len(reports) != 1 || !strings.Contains(reports[0].Text, fmt.Sprintf("- 127.0.0.1:%d closed", p2)) {
		t.Errorf("scheduled scans said %+v, want one change report", reports)
	}
	if got := f.say(t, "scan unschedule "+m[1]); !strings.Contains(got, "stopped") {
		t.Errorf("unschedule: %q", got)
	}
	if err := f.p.scheduled(ctx, entry, false); err != nil {
		t.Error(err)
	}
}

func TestDNS(t *testing.T) {
	f := newFixture(t)
	if got := f.say(t, "dns lab.test"); got != "lab.test A:\n127.0.0.1" {
		t.Errorf("dns: %q", got)
	}
	if got := f.say(t, "dns lab.test mx"); got != "lab.test MX:\n10 mx.lab.test." {
		t.Errorf("dns mx: %q", got)
	}
	if got := f.say(t, "dns lab.test txt"); got != "lab.test has no TXT records, or the lookup failed." {
		t.Errorf("dns txt: %q", got)
	}
}

func TestWarnFor(t *testing.T) {
	for days, want := range map[int]int{90: 0, 30: 30, 20: 30, 14: 14, 8: 14, 7: 7, -1: 7} {
		if got := warnFor(days); got != want {
			t.Errorf("warnFor(%d) = %d, want %d", days, got, want)
		}
	}
}

func TestCertAndWebScan(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	f.p.o.Roots = pool
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	if got := f.say(t, fmt.Sprintf("cert 127.0.0.1:%d", port)); !strings.Contains(got, "; trusted") {
		t.Errorf("cert: %q", got)
	}
	report := f.result(t, f.say(t, fmt.Sprintf("scan web https://lab.test:%d/", port)))
	for _, want := range []string{"grade F", "not trusted: issued for example.com", "no Strict-Transport-Security"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if got := f.say(t, "scan web ftp://lab.test/"); !strings.Contains(got, "is not a web address") {
		t.Errorf("ftp: %q", got)
	}
}
