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
// package. They report the families, names and help texts that operators'
// dashboards know from the Prometheus Go client, less the GOGC setting,
// which no other API reads without changing it.

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
		help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles."}
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
		one("go_gc_gomemlimit_bytes", gaugeKind, "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.",
			float64(debug.SetMemoryLimit(-1)), true), // a negative limit only reads it
		one("go_goroutines", gaugeKind, "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()), true),
		family{name: "go_info", kind: gaugeKind, help: "Information about the Go environment.",
			samples: []sample{{labels: []string{"version"}, values: []string{runtime.Version()}, value: 1}}},
		mem("alloc_bytes", gaugeKind, "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", ms.Alloc),
		mem("alloc_bytes_total", counterKind, "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", ms.TotalAlloc),
		mem("buck_hash_sys_bytes", gaugeKind, "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", ms.BuckHashSys),
		mem("frees_total", counterKind, "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", ms.Frees),
		mem("gc_sys_bytes", gaugeKind, "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", ms.GCSys),
		mem("heap_alloc_bytes", gaugeKind, "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", ms.HeapAlloc),
		mem("heap_idle_bytes", gaugeKind, "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", ms.HeapIdle),
		mem("heap_inuse_bytes", gaugeKind, "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", ms.HeapInuse),
		mem("heap_objects", gaugeKind, "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", ms.HeapObjects),
		mem("heap_released_bytes", gaugeKind, "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", ms.HeapReleased),
		mem("heap_sys_bytes", gaugeKind, "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", ms.HeapSys),
		one("go_memstats_last_gc_time_seconds", gaugeKind, "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9, true),
		mem("mallocs_total", counterKind, "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", ms.Mallocs),
		mem("mcache_inuse_bytes", gaugeKind, "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", ms.MCacheInuse),
		mem("mcache_sys_bytes", gaugeKind, "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", ms.MCacheSys),
		mem("mspan_inuse_bytes", gaugeKind, "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", ms.MSpanInuse),
		mem("mspan_sys_bytes", gaugeKind, "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", ms.MSpanSys),
		mem("next_gc_bytes", gaugeKind, "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", ms.NextGC),
		mem("other_sys_bytes", gaugeKind, "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", ms.OtherSys),
		mem("stack_inuse_bytes", gaugeKind, "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", ms.StackInuse),
		mem("stack_sys_bytes", gaugeKind, "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", ms.StackSys),
		mem("sys_bytes", gaugeKind, "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", ms.Sys),
		one("go_sched_gomaxprocs_threads", gaugeKind, "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.",
			float64(runtime.GOMAXPROCS(0)), true),
		one("go_threads", gaugeKind, "Number of OS threads created.", float64(threads), true),
	)
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
		one("process_cpu_seconds_total", counterKind, "Total user and system CPU time spent in seconds.", cpu, haveStat),
		one("process_max_fds", gaugeKind, "Maximum number of open file descriptors.", maxFDs, haveMaxFDs),
		one("process_network_receive_bytes_total", counterKind, "Number of bytes received by the process over the network.", in, haveNet),
		one("process_network_transmit_bytes_total", counterKind, "Number of bytes sent by the process over the network.", out, haveNet),
		one("process_open_fds", gaugeKind, "Number of open file descriptors.", openFDs, haveFDs),
		one("process_resident_memory_bytes", gaugeKind, "Resident memory size in bytes.", rss, haveStat),
		one("process_start_time_seconds", gaugeKind, "Start time of the process since unix epoch in seconds.", start, start > 0),
		one("process_virtual_memory_bytes", gaugeKind, "Virtual memory size in bytes.", vsize, haveStat),
		one("process_virtual_memory_max_bytes", gaugeKind, "Maximum amount of virtual memory available in bytes.", maxVM, haveMaxVM),
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
