package metrics_test

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/metrics"
	"github.com/seipbot/seipbot/metrics/metricstest"
)

// TestExposition checks the text a registry serves line by line: families
// sorted by name whatever the order they were registered in, series by
// label values, HELP and label values escaped, cumulative buckets.
func TestExposition(t *testing.T) {
	reg := metrics.NewRegistry()
	sent := metrics.NewCounterVec("x_sent_total", "Sent, by \\ adapter\nand result.", "adapter", "result")
	up := metrics.NewGaugeVec("x_up", "Up or not.", "adapter")
	took := metrics.NewHistogramVec("x_seconds", "How long.", []float64{0.5, 1, 2.5}, "command")
	pending := metrics.NewGaugeFunc("x_pending", "Pending.", func() float64 { return 7 })
	unused := metrics.NewCounterVec("x_unused_total", "Never counted.", "why")
	reg.MustRegister(up, sent, unused, took, pending)

	sent.WithLabelValues("slack", "ok").Add(3)
	sent.WithLabelValues("irc", "retry").Inc()
	sent.WithLabelValues("irc", "ok").Add(0.25)
	sent.WithLabelValues(`we"ird\`, "a\nb").Inc()
	up.WithLabelValues("slack").Set(1)
	up.WithLabelValues("irc").Set(0)
	for _, v := range []float64{0.1, 0.5, 0.7, 3, 100} {
		took.WithLabelValues("ping").Observe(v)
	}
	took.WithLabelValues("deploy").Observe(2.5)

	want := `# HELP x_pending Pending.
# TYPE x_pending gauge
x_pending 7
# HELP x_seconds How long.
# TYPE x_seconds histogram
x_seconds_bucket{command="deploy",le="0.5"} 0
x_seconds_bucket{command="deploy",le="1"} 0
x_seconds_bucket{command="deploy",le="2.5"} 1
x_seconds_bucket{command="deploy",le="+Inf"} 1
x_seconds_sum{command="deploy"} 2.5
x_seconds_count{command="deploy"} 1
x_seconds_bucket{command="ping",le="0.5"} 2
x_seconds_bucket{command="ping",le="1"} 3
x_seconds_bucket{command="ping",le="2.5"} 3
x_seconds_bucket{command="ping",le="+Inf"} 5
x_seconds_sum{command="ping"} 104.3
x_seconds_count{command="ping"} 5
# HELP x_sent_total Sent, by \\ adapter\nand result.
# TYPE x_sent_total counter
x_sent_total{adapter="irc",result="ok"} 0.25
x_sent_total{adapter="irc",result="retry"} 1
x_sent_total{adapter="slack",result="ok"} 3
x_sent_total{adapter="we\"ird\\",result="a\nb"} 1
# HELP x_up Up or not.
# TYPE x_up gauge
x_up{adapter="irc"} 0
x_up{adapter="slack"} 1
`
	if got := metricstest.Scrape(t, reg); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	if v, ok := metricstest.Value(t, reg, "x_sent_total", map[string]string{"adapter": `we"ird\`, "result": "a\nb"}); !ok || v != 1 {
		t.Errorf("the escaped series reads back as %v, %v; want 1", v, ok)
	}
	if v, _ := metricstest.Value(t, reg, "x_seconds", map[string]string{"command": "ping"}); v != 5 {
		t.Errorf("ping observed %v times, want 5", v)
	}
}

func TestDuplicateName(t *testing.T) {
	reg := metrics.NewRegistry()
	if err := reg.Register(metrics.NewCounterVec("x_total", "One.", "a")); err != nil {
		t.Fatal(err)
	}
	err := reg.Register(metrics.NewGaugeFunc("x_total", "Two.", func() float64 { return 0 }))
	if err == nil || !strings.Contains(err.Error(), "x_total is already registered") {
		t.Errorf("second x_total: %v, want it refused as already registered", err)
	}
	if err := reg.Register(metrics.NewGoCollector()); err != nil {
		t.Fatal(err)
	}
	// A collector of several families is refused whole when one is taken.
	if err := reg.Register(metrics.NewGoCollector()); err == nil {
		t.Error("the Go collector registered twice")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRegister of a taken name did not panic")
		}
	}()
	reg.MustRegister(metrics.NewGaugeVec("x_total", "Three."))
}

func TestBadDefinitionsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"metric name":        func() { metrics.NewCounterVec("x-total", "") },
		"label name":         func() { metrics.NewCounterVec("x_total", "", "a b") },
		"reserved label":     func() { metrics.NewGaugeVec("x", "", "__name") },
		"label twice":        func() { metrics.NewGaugeVec("x", "", "a", "a") },
		"le on a histogram":  func() { metrics.NewHistogramVec("x", "", nil, "le") },
		"descending buckets": func() { metrics.NewHistogramVec("x", "", []float64{1, 0.5}) },
		"label count":        func() { metrics.NewCounterVec("x_total", "", "a", "b").WithLabelValues("a") },
		"bucket factor":      func() { metrics.ExponentialBuckets(1, 1, 3) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestExponentialBuckets(t *testing.T) {
	got := fmt.Sprint(metrics.ExponentialBuckets(0.0005, 4, 10))
	if want := "[0.0005 0.002 0.008 0.032 0.128 0.512 2.048 8.192 32.768 131.072]"; got != want {
		t.Errorf("buckets %s, want %s", got, want)
	}
}

func TestCounterOnlyGoesUp(t *testing.T) {
	reg := metrics.NewRegistry()
	c := metrics.NewCounterVec("x_total", "X.", "a")
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(2)
	c.WithLabelValues("a").Add(-1)
	c.WithLabelValues("a").Add(math.NaN())
	c.WithLabelValues("a").Add(0.5)
	if v, _ := metricstest.Value(t, reg, "x_total", nil); v != 2.5 {
		t.Errorf("counter %v, want 2.5", v)
	}
}

// TestConcurrentUse counts from many goroutines, making new series while
// scrapes run (the race detector checks the rest), and checks that
// nothing was lost.
func TestConcurrentUse(t *testing.T) {
	reg := metrics.NewRegistry()
	c := metrics.NewCounterVec("x_total", "X.", "worker", "kind")
	h := metrics.NewHistogramVec("x_seconds", "X.", metrics.ExponentialBuckets(1, 2, 4), "worker")
	g := metrics.NewGaugeVec("x_level", "X.", "worker")
	reg.MustRegister(c, h, g)
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprint("w", w%4) // pairs of workers share series
			for i := range rounds {
				c.WithLabelValues(name, "inc").Inc()
				c.WithLabelValues("all", "add").Add(0.5)
				h.WithLabelValues(name).Observe(float64(i % 20))
				g.WithLabelValues(name).Set(float64(i))
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			metricstest.Scrape(t, reg)
		}
	})
	wg.Wait()
	if v, _ := metricstest.Value(t, reg, "x_total", map[string]string{"worker": "w1"}); v != 2*rounds {
		t.Errorf("w1 counted %v, want %d", v, 2*rounds)
	}
	if v, _ := metricstest.Value(t, reg, "x_total", map[string]string{"worker": "all"}); v != workers*rounds/2 {
		t.Errorf("all counted %v, want %d", v, workers*rounds/2)
	}
	if v, _ := metricstest.Value(t, reg, "x_seconds", map[string]string{"worker": "w3"}); v != 2*rounds {
		t.Errorf("w3 observed %v times, want %d", v, 2*rounds)
	}
}

// TestNoAllocations checks the hot path: a series seen before costs a map
// lookup and atomics, no garbage, for every message the bot receives.
func TestNoAllocations(t *testing.T) {
	c := metrics.NewCounterVec("x_total", "X.", "adapter")
	h := metrics.NewHistogramVec("x_seconds", "X.", metrics.ExponentialBuckets(0.0005, 4, 10), "command", "result")
	adapter, command := "slack", "deploy"
	c.WithLabelValues(adapter).Inc()
	h.WithLabelValues(command, "ok").Observe(1)
	if n := testing.AllocsPerRun(100, func() {
		c.WithLabelValues(adapter).Inc()
		h.WithLabelValues(command, "ok").Observe(0.01)
	}); n != 0 {
		t.Errorf("%v allocations per count of a known series, want 0", n)
	}
}

// TestRuntimeMetrics checks the families dashboards read, on Linux from
// /proc; elsewhere the process's are left out.
func TestRuntimeMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewGoCollector(), metrics.NewProcessCollector())
	runtime.GC() // so go_gc_duration_seconds has a pause
	for _, name := range []string{"go_goroutines", "go_threads", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes", "go_gc_duration_seconds", "go_sched_gomaxprocs_threads"} {
		if v, ok := metricstest.Value(t, reg, name, nil); !ok || v <= 0 {
			t.Errorf("%s = %v, %v; want a positive value", name, v, ok)
		}
	}
	if v, ok := metricstest.Value(t, reg, "go_info", map[string]string{"version": runtime.Version()}); !ok || v != 1 {
		t.Errorf("go_info{version=%q} = %v, %v", runtime.Version(), v, ok)
	}
	// The test runs with the GOGC it was started with, which the runtime
	// also read: SetGCPercent returns it, and here sets it back.
	want := debug.SetGCPercent(100)
	debug.SetGCPercent(want)
	if v, ok := metricstest.Value(t, reg, "go_gc_gogc_percent", nil); !ok || v != float64(want) {
		t.Errorf("go_gc_gogc_percent = %v, %v; want %d", v, ok, want)
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		if v, ok := metricstest.Value(t, reg, "process_resident_memory_bytes", nil); ok {
			t.Errorf("process_resident_memory_bytes = %v without /proc", v)
		}
		// Without /proc the process metrics are left out, as just checked.
		return
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds", "process_max_fds", "process_virtual_memory_max_bytes"} {
		if v, ok := metricstest.Value(t, reg, name, nil); !ok || v <= 0 && name != "process_cpu_seconds_total" {
			t.Errorf("%s = %v, %v; want a positive value", name, v, ok)
		}
	}
	start, _ := metricstest.Value(t, reg, "process_start_time_seconds", nil)
	if now := float64(time.Now().Unix()); start > now+1 || start < now-3600 {
		t.Errorf("process_start_time_seconds = %v, now is %v", start, now)
	}
}

// BenchmarkReceived is the bot's hottest count, once per message, from
// many goroutines at once.
func BenchmarkReceived(b *testing.B) {
	c := metrics.NewCounterVec("x_total", "X.", "adapter")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.WithLabelValues("slack").Inc()
		}
	})
}

// BenchmarkHandled is the count of a command's run.
func BenchmarkHandled(b *testing.B) {
	h := metrics.NewHistogramVec("x_seconds", "X.", metrics.ExponentialBuckets(0.0005, 4, 10), "command", "result")
	for i := 0; b.Loop(); i++ {
		h.WithLabelValues("deploy", "ok").Observe(float64(i%1000) / 1000)
	}
}
