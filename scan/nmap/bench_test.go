package nmap

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/seipbot/seipbot/scan/ports"
)

// ephemeralLow is where Linux's default ephemeral port range starts. Other
// processes on the machine (test servers, clients' listeners) open and close
// ports above it while the benchmark runs, so the engines are compared
// exactly below it and on the benchmark's own listeners.
const ephemeralLow = 32768

// BenchmarkLoopbackFullRange scans every TCP port of 127.0.0.1 with the
// built-in engine and with nmap -sT, in the same run, and fails if they
// disagree on the open ports. bench/portscan.sh runs it.
func BenchmarkLoopbackFullRange(b *testing.B) {
	needNmap(b)
	var own []int
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		own = append(own, l.Addr().(*net.TCPAddr).Port)
	}
	stable := func(found []ports.Open) []int {
		var out []int
		for _, o := range found {
			if o.Port < ephemeralLow || slices.Contains(own, o.Port) {
				out = append(out, o.Port)
			}
		}
		return out
	}
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	all, _ := ports.ParsePorts("all")
	var builtin, viaNmap []ports.Open
	b.Run("builtin", func(b *testing.B) {
		for b.Loop() {
			var err error
			builtin, err = ports.Scan(context.Background(), lo, all, ports.Options{Timeout: 3 * time.Second, NoBanner: true})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(builtin)), "open")
	})
	b.Run("nmap", func(b *testing.B) {
		for b.Loop() {
			var err error
			viaNmap, err = Scan(context.Background(), lo, all, Options{Timeout: 5 * time.Minute})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(viaNmap)), "open")
	})
	sb, sn := stable(builtin), stable(viaNmap)
	if !slices.Equal(sb, sn) {
		b.Fatalf("open ports differ: built-in %v, nmap %v", sb, sn)
	}
	for _, p := range own {
		if !slices.Contains(sb, p) {
			b.Fatalf("the benchmark's listener on %d was not found", p)
		}
	}
	b.Logf("open ports found by both engines: %v (all: built-in %d, nmap %d, the rest transient listeners above %d)", sb, len(builtin), len(viaNmap), ephemeralLow)
}
