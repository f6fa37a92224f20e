package metrics

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The runtime collectors read everything when scraped and nothing before:
// runtime.ReadMemStats and debug.ReadGCStats rather than runtime/metrics,
// whose package initialisation alone costs more than the rest of this
// package. The families keep the names operators' dashboards know from
// the Prometheus Go client; the help texts are seipbot's own.

// NewGoCollector returns the Go runtime's metrics (go_goroutines,
// go_memstats_*, go_gc_duration_seconds, ...).
func NewGoCollector() Collector { return goCollector{} }

type goCollector struct{}

func (c goCollector) names() []string { return familyNames(c.collect(nil)) }

func (goCollector) collect(fs []family) []family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	threads, _ := runtime.ThreadCreateProfile(nil)

	pauses := family{name: "go_gc_duration_seconds", kind: summaryKind,
		help: "Stop-the-world pauses of the garbage collector, in seconds: quantiles of the recent ones, their total and count."}
	for i, q := range [...]string{"0", "0.25", "0.5", "0.75", "1"} {
		pauses.samples = append(pauses.samples, sample{extra: "quantile", extraValue: q, value: gc.PauseQuantiles[i].Seconds()})
	}
	pauses.samples = append(pauses.samples,
		sample{suffix: "_sum", value: gc.PauseTotal.Seconds()},
		sample{suffix: "_count", value: float64(gc.NumGC)})

	mem := func(name string, k kind, help string, v uint64) family {
		return one("go_memstats_"+name, k, help, float64(v), true)
	}
	return append(fs, pauses,
		one("go_gc_gogc_percent", gaugeKind, "Heap growth, in percent of the live heap, that starts the next collection (GOGC); -1 when collection is off.",
			float64(startGOGC), true),
		one("go_gc_gomemlimit_bytes", gaugeKind, "Soft memory limit of the Go runtime in bytes (GOMEMLIMIT); the largest 64-bit integer when none is set.",
			float64(debug.SetMemoryLimit(-1)), true), // a negative limit only reads it
		one("go_goroutines", gaugeKind, "Goroutines alive now.", float64(runtime.NumGoroutine()), true),
		family{name: "go_info", kind: gaugeKind, help: "The Go version seipbot was built with, as a label; always 1.",
			samples: []sample{{labels: []string{"version"}, values: []string{runtime.Version()}, value: 1}}},
		mem("alloc_bytes", gaugeKind, "Bytes of heap objects allocated and not yet freed.", ms.Alloc),
		mem("alloc_bytes_total", counterKind, "Bytes of heap objects allocated since the start, freed or not.", ms.TotalAlloc),
		mem("buck_hash_sys_bytes", gaugeKind, "Bytes of the profiler's bucket hash table.", ms.BuckHashSys),
		mem("frees_total", counterKind, "Heap objects freed since the start.", ms.Frees),
		mem("gc_sys_bytes", gaugeKind, "Bytes of the garbage collector's metadata.", ms.GCSys),
		mem("heap_alloc_bytes", gaugeKind, "Bytes of heap objects allocated and not yet freed (as go_memstats_alloc_bytes).", ms.HeapAlloc),
		mem("heap_idle_bytes", gaugeKind, "Bytes of heap spans holding no objects, returned to the system or not.", ms.HeapIdle),
		mem("heap_inuse_bytes", gaugeKind, "Bytes of heap spans holding at least one object.", ms.HeapInuse),
		mem("heap_objects", gaugeKind, "Heap objects allocated and not yet freed.", ms.HeapObjects),
		mem("heap_released_bytes", gaugeKind, "Bytes of heap memory returned to the system.", ms.HeapReleased),
		mem("heap_sys_bytes", gaugeKind, "Bytes of address space the heap has taken from the system.", ms.HeapSys),
		one("go_memstats_last_gc_time_seconds", gaugeKind, "When the last collection ended, in seconds since the Unix epoch.", float64(ms.LastGC)/1e9, true),
		mem("mallocs_total", counterKind, "Heap objects allocated since the start.", ms.Mallocs),
		mem("mcache_inuse_bytes", gaugeKind, "Bytes of the per-processor allocation caches in use.", ms.MCacheInuse),
		mem("mcache_sys_bytes", gaugeKind, "Bytes taken from the system for the per-processor allocation caches.", ms.MCacheSys),
		mem("mspan_inuse_bytes", gaugeKind, "Bytes of span descriptors in use.", ms.MSpanInuse),
		mem("mspan_sys_bytes", gaugeKind, "Bytes taken from the system for span descriptors.", ms.MSpanSys),
		mem("next_gc_bytes", gaugeKind, "Heap size in bytes at which the next collection starts.", ms.NextGC),
		mem("other_sys_bytes", gaugeKind, "Bytes of other runtime bookkeeping taken from the system.", ms.OtherSys),
		mem("stack_inuse_bytes", gaugeKind, "Bytes of goroutine stacks in use.", ms.StackInuse),
		mem("stack_sys_bytes", gaugeKind, "Bytes taken from the system for stacks.", ms.StackSys),
		mem("sys_bytes", gaugeKind, "Bytes the Go runtime has taken from the system in all.", ms.Sys),
		one("go_sched_gomaxprocs_threads", gaugeKind, "Threads that may run Go code at once (GOMAXPROCS).",
			float64(runtime.GOMAXPROCS(0)), true),
		one("go_threads", gaugeKind, "Operating system threads the runtime has created.", float64(threads), true),
	)
}

// startGOGC is GOGC as the runtime read it at start. seipbot never changes
// it while running, and debug.SetGCPercent, the one other way to read it,
// would set it.
var startGOGC = parseGOGC(os.Getenv("GOGC"))

// parseGOGC reads a GOGC value as the runtime does: "off" is -1, a number
// is itself, anything else 100.
func parseGOGC(v string) int {
	if v == "off" {
		return -1
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	return 100
}

// NewProcessCollector returns the process's CPU time, memory, file
// descriptors, network traffic and start time, read from /proc/self. What
// cannot be read (no /proc, as on macOS) is left out of the scrape.
func NewProcessCollector() Collector { return &processCollector{} }

type processCollector struct {
	mu    sync.Mutex
	start float64 // unix seconds; 0 until read
}

func (c *processCollector) names() []string { return familyNames(c.collect(nil)) }

func (c *processCollector) collect(fs []family) []family {
	// /proc/self/stat after the command name, which may hold spaces and
	// parentheses: field 3 (state) onwards, so field n is at n-3.
	var stat []string
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
			stat = strings.Fields(string(b[i+1:]))
		}
	}
	field := func(n int) float64 {
		v, _ := strconv.ParseFloat(stat[n-3], 64)
		return v
	}
	haveStat := len(stat) > 24-3
	var cpu, vsize, rss float64
	if haveStat {
		// Clock ticks are USER_HZ, which Linux fixes at 100 in /proc.
		cpu = (field(14) + field(15)) / 100
		vsize = field(23)
		rss = field(24) * float64(os.Getpagesize())
	}
	openFDs, haveFDs := countFDs()
	maxFDs, haveMaxFDs := readLimit("Max open files")
	maxVM, haveMaxVM := readLimit("Max address space")
	in, out, haveNet := readNetstat()
	start := c.startTime(stat)
	return append(fs,
		one("process_cpu_seconds_total", counterKind, "CPU time the process has used, user and system, in seconds.", cpu, haveStat),
		one("process_max_fds", gaugeKind, "The most file descriptors the process may have open (its soft limit).", maxFDs, haveMaxFDs),
		one("process_network_receive_bytes_total", counterKind, "Bytes of IP traffic received in the process's network namespace.", in, haveNet),
		one("process_network_transmit_bytes_total", counterKind, "Bytes of IP traffic sent in the process's network namespace.", out, haveNet),
		one("process_open_fds", gaugeKind, "File descriptors the process has open.", openFDs, haveFDs),
		one("process_resident_memory_bytes", gaugeKind, "Bytes of the process's memory resident in RAM.", rss, haveStat),
		one("process_start_time_seconds", gaugeKind, "When the process started, in seconds since the Unix epoch.", start, start > 0),
		one("process_virtual_memory_bytes", gaugeKind, "Bytes of the process's address space.", vsize, haveStat),
		one("process_virtual_memory_max_bytes", gaugeKind, "The largest address space the process may have, in bytes (its soft limit).", maxVM, haveMaxVM),
	)
}

// startTime is the boot time from /proc/stat plus the start, in ticks
// after boot, from /proc/self/stat (field 22); read once, as it stays.
func (c *processCollector) startTime(stat []string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start > 0 || len(stat) <= 22-3 {
		return c.start
	}
	ticks, err := strconv.ParseFloat(stat[22-3], 64)
	b, err2 := os.ReadFile("/proc/stat")
	if err != nil || err2 != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			if boot, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
				c.start = boot + ticks/100
			}
			break
		}
	}
	return c.start
}

func countFDs() (float64, bool) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return float64(len(names)), err == nil
}

// readLimit returns the soft limit of a /proc/self/limits row, an
// unlimited one as the largest 64-bit value, as the kernel keeps it.
func readLimit(row string) (float64, bool) {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, row)
		if f := strings.Fields(rest); ok && len(f) > 0 {
			if f[0] == "unlimited" {
				return math.MaxUint64, true
			}
			v, err := strconv.ParseFloat(f[0], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// readNetstat returns the IP bytes received and sent in the process's
// network namespace: InOctets and OutOctets of the IpExt rows of
// /proc/self/net/netstat, a row of names followed by a row of values.
func readNetstat() (in, out float64, ok bool) {
	b, err := os.ReadFile("/proc/self/net/netstat")
	if err != nil {
		return 0, 0, false
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		rest, isIP := strings.CutPrefix(line, "IpExt:")
		if !isIP {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		var haveIn, haveOut bool
		for i, v := range strings.Fields(rest) {
			if i >= len(names) {
				break
			}
			switch names[i] {
			case "InOctets":
				in, err = strconv.ParseFloat(v, 64)
				haveIn = err == nil
			case "OutOctets":
				out, err = strconv.ParseFloat(v, 64)
				haveOut = err == nil
			}
		}
		return in, out, haveIn && haveOut
	}
	return 0, 0, false
}

// one is a family of a single unlabelled sample, or of none when the
// value could not be read: a family without samples is not written, yet
// its name is known when the collector is registered.
func one(name string, k kind, help string, v float64, ok bool) family {
	f := family{name: name, help: help, kind: k}
	if ok {
		f.samples = []sample{{value: v}}
	}
	return f
}

func familyNames(fs []family) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}
