// Command alerts is the webhook load benchmark. It starts the real ingest
// server, alert manager and outbox on a sealed bolt store in a temporary
// folder, on loopback, with a chat adapter that is down the whole time,
// and posts signed generic alerts to it:
//
//  1. sustained: -workers clients post as fast as they are answered for
//     -duration; it reports accepted alerts per second;
//  2. latency: one request every 1/-rate seconds, each on its own, for
//     -duration; it reports the accept latency percentiles;
//  3. backlog: it posts until -backlog alerts wait for the adapter, then
//     reports the heap and the process's resident memory.
//
// Usage: go run ./bench/alerts [-workers 64] [-duration 10s] [-rate 1000] [-backlog 100000]
//
// -cpuprofile and -blockprofile (with the mutex profile beside it, .mutex)
// cover the sustained phase; -memprofile is the heap with the backlog.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seipbot/seipbot/alert"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/ingest"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/sealed"
)

const secret = "bench-secret"

func main() {
	workers := flag.Int("workers", 64, "concurrent clients in the sustained phase")
	duration := flag.Duration("duration", 10*time.Second, "length of the sustained and latency phases")
	rate := flag.Int("rate", 1000, "requests per second in the latency phase")
	backlog := flag.Int("backlog", 100000, "alerts waiting for the adapter when memory is measured")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the sustained phase to this file")
	blockprofile := flag.String("blockprofile", "", "write a profile of where goroutines waited (channels, locks, I/O batching) in the sustained phase to this file")
	memprofile := flag.String("memprofile", "", "write a heap profile to this file once the backlog waits")
	flag.Parse()

	dir, err := os.MkdirTemp("", "seipbot-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	raw, err := bolt.Open(dir+"/bot.db", bolt.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer raw.Close()
	key, _ := sealed.NewKey()
	kr, err := sealed.ParseKeyring(key)
	if err != nil {
		log.Fatal(err)
	}
	st := sealed.New(raw, kr)

	out := bot.NewOutbox(st, nil, bot.Backoff{Min: time.Second, Max: time.Second})
	down := bottest.NewAdapter("chat")
	down.Fail = func(bot.Response) error { return errors.New("chat server unreachable") }
	out.AddAdapter(down)
	m, err := alert.New(alert.Options{
		Rules: []alert.Rule{{Rooms: []alert.Destination{{Room: "#sec"}}}}, DedupWindow: time.Hour,
		Store: st, Outbox: out,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := ingest.New(ingest.Options{Sources: []ingest.Source{&ingest.Generic{Secret: secret}}, Sink: m,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go out.Run(ctx)
	go srv.Serve(ctx, ln)
	url := "http://" + ln.Addr().String() + "/hooks/generic"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	post := func() (time.Duration, error) {
		n := seq.Add(1)
		body := fmt.Appendf(nil, `{"title": "bench alert %d", "severity": "high", "labels": {"host": "node-%d"}}`, n, n%100)
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		ts, sig := ingest.Sign(secret, time.Now(), body)
		req.Header.Set("X-Seipbot-Timestamp", ts)
		req.Header.Set("X-Seipbot-Signature", sig)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}

	fmt.Printf("seipbot webhook benchmark: %s, %d CPUs, sealed bolt store, adapter down\n", runtime.Version(), runtime.NumCPU())
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	if *blockprofile != "" {
		runtime.SetBlockProfileRate(1)
		runtime.SetMutexProfileFraction(1)
	}
	cpuBefore := cpuTime()
	accepted, failed := sustained(post, *workers, *duration)
	cpuUsed := cpuTime() - cpuBefore
	pprof.StopCPUProfile()
	if *blockprofile != "" {
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
		writeProfile("block", *blockprofile)
		writeProfile("mutex", *blockprofile+".mutex")
	}
	// CPU time per alert, the load generator's included, varies far less
	// than the rate on a machine shared with other work.
	fmt.Printf("sustained: %d workers, %s: %d accepted (%.0f alerts/s), %d failed; CPU %.0f µs per alert\n",
		*workers, *duration, accepted, float64(accepted)/duration.Seconds(), failed,
		float64(cpuUsed.Microseconds())/float64(max(accepted, 1)))

	lat := paced(post, *rate, *duration)
	fmt.Printf("latency at %d/s for %s: %d requests, p50 %s, p90 %s, p99 %s, max %s\n", *rate, *duration, len(lat),
		pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100))

	for out.Pending() < *backlog {
		sustained(post, *workers, time.Second)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if *memprofile != "" {
		writeProfile("heap", *memprofile)
	}
	fmt.Printf("backlog: %d alerts waiting for the adapter (%d open): heap in use %.0f MiB, RSS %s, store file %s\n",
		out.Pending(), len(m.Open()), float64(ms.HeapInuse)/(1<<20), rss(), fileSize(dir+"/bot.db"))
}

// writeProfile writes the named runtime profile to path.
func writeProfile(name, path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}

// sustained runs workers that post back to back for d.
func sustained(post func() (time.Duration, error), workers int, d time.Duration) (ok, failed int64) {
	var okN, failN atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := post(); err != nil {
					failN.Add(1)
				} else {
					okN.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return okN.Load(), failN.Load()
}

// paced starts one request every 1/rate seconds whatever the others do,
// so a slow answer cannot hide the ones queued behind it.
func paced(post func() (time.Duration, error), rate int, d time.Duration) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	deadline := time.Now().Add(d)
	for now := range tick.C {
		if now.After(deadline) {
			break
		}
		wg.Go(func() {
			l, err := post()
			if err != nil {
				l = time.Hour // a failure counts as the worst latency
			}
			mu.Lock()
			lat = append(lat, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, len(sorted)*p/100)
	return sorted[i].Round(10 * time.Microsecond)
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MiB", float64(fi.Size())/(1<<20))
}
