// Package ports is a TCP connect scanner: it finds the open ports of
// addresses by completing a handshake, which needs no privileges, with a
// rate limit, a per-port timeout, and a banner read from the services that
// announce themselves. It knows nothing of chat or of scope; callers hand
// it addresses they have already approved.
package ports

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Open is one open port.
type Open struct {
	Addr    netip.Addr `json:"addr"`
	Port    int        `json:"port"`
	Service string     `json:"service,omitempty"` // from the banner, or the usual service of the port
	Banner  string     `json:"banner,omitempty"`  // the service's first line, printable and short
}

// Options tune a scan. The zero value scans with defaults.
type Options struct {
	// Rate is the most connection attempts per second; zero means no limit.
	Rate int
	// Timeout bounds one connection attempt; zero means 1s.
	Timeout time.Duration
	// Workers is how many attempts run at once; zero means 256. More is
	// not faster on a fast network: the dials then contend for the CPU.
	Workers int
	// NoBanner skips reading banners from open ports.
	NoBanner bool
	// Progress, when set, is called with the fraction done each time
	// another quarter of the attempts has finished.
	Progress func(done, total int)
	// Dial connects; nil means a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Scan connects to every port of every address and returns the open ones,
// sorted by address and port. It returns what it found so far with the
// context's error if ctx ends first.
func Scan(ctx context.Context, addrs []netip.Addr, ports []int, opts Options) ([]Open, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 256
	}
	if opts.Dial == nil {
		d := &net.Dialer{}
		opts.Dial = d.DialContext
	}
	total := len(addrs) * len(ports)
	pace := newPacer(opts.Rate)
	var (
		mu         sync.Mutex
		progressMu sync.Mutex
		found      []Open
		done       atomic.Int64
		next       atomic.Int64 // the index of the next attempt to hand out
		wg         sync.WaitGroup
	)
	for range min(opts.Workers, total) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total || ctx.Err() != nil || !pace.wait(ctx) {
					return
				}
				a, p := addrs[i/len(ports)], ports[i%len(ports)]
				if o, ok := probe(ctx, a, p, opts); ok {
					mu.Lock()
					found = append(found, o)
					mu.Unlock()
				}
				n := int(done.Add(1))
				if opts.Progress != nil && n < total && n%max(total/4, 1) == 0 {
					// Serialised, so the callback needs no locking of its own.
					progressMu.Lock()
					opts.Progress(n, total)
					progressMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(found, func(x, y Open) int {
		if c := x.Addr.Compare(y.Addr); c != 0 {
			return c
		}
		return x.Port - y.Port
	})
	return found, ctx.Err()
}

// probe tries one port.
func probe(ctx context.Context, a netip.Addr, port int, opts Options) (Open, bool) {
	dctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	conn, err := opts.Dial(dctx, "tcp", netip.AddrPortFrom(a, uint16(port)).String())
	if err != nil {
		return Open{}, false
	}
	defer conn.Close()
	// Connecting from the loopback address to a port in the ephemeral
	// range can be answered by the connection itself (a TCP simultaneous
	// open): nothing listens there, so it is not an open port.
	if conn.LocalAddr().String() == conn.RemoteAddr().String() {
		return Open{}, false
	}
	o := Open{Addr: a, Port: port, Service: wellKnown[port]}
	if !opts.NoBanner {
		o.Banner = banner(conn, port, opts.Timeout)
		if s := serviceOf(o.Banner); s != "" {
			o.Service = s
		}
	}
	return o, true
}

// httpPorts are asked for a response, since HTTP servers wait for the
// client to speak.
var httpPorts = map[int]bool{80: true, 8000: true, 8008: true, 8080: true, 8081: true, 8888: true, 3000: true, 5000: true, 9000: true}

// banner reads the first line a service says: at once for services that
// greet (SSH, SMTP, FTP…), or the status and Server header after a HEAD
// request on HTTP ports.
func banner(conn net.Conn, port int, timeout time.Duration) string {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReaderSize(conn, 512)
	if httpPorts[port] {
		if _, err := conn.Write([]byte("HEAD / HTTP/1.0\r\n\r\n")); err != nil {
			return ""
		}
		status, _ := r.ReadString('\n')
		if !strings.HasPrefix(status, "HTTP/") {
			return printable(status)
		}
		for range 30 {
			line, err := r.ReadString('\n')
			if err != nil || strings.TrimSpace(line) == "" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "server") {
				return printable(strings.TrimSpace(status) + " " + strings.TrimSpace(v))
			}
		}
		return printable(status)
	}
	line, _ := r.ReadString('\n')
	return printable(line)
}

// printable keeps a banner safe to show in chat: printable characters
// only, one line, at most 80 runes.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return s
}

// serviceOf recognises a service from its banner.
func serviceOf(b string) string {
	switch {
	case strings.HasPrefix(b, "SSH-"):
		return "ssh"
	case strings.HasPrefix(b, "HTTP/"):
		return "http"
	case strings.HasPrefix(b, "220") && strings.Contains(strings.ToUpper(b), "FTP"):
		return "ftp"
	case strings.HasPrefix(b, "220"):
		return "smtp"
	case strings.HasPrefix(b, "+OK"):
		return "pop3"
	case strings.HasPrefix(b, "* OK"):
		return "imap"
	}
	return ""
}

// pacer spaces attempts evenly at a rate per second, shared by all
// workers.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newPacer(rate int) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{interval: time.Second / time.Duration(rate)}
}

// wait blocks until the caller's turn, and reports false if ctx ended.
func (p *pacer) wait(ctx context.Context) bool {
	if p == nil {
		return true
	}
	p.mu.Lock()
	now := time.Now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(p.interval)
	p.mu.Unlock()
	if d := slot.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// ParsePorts reads a port list: "top100", "all", or comma-separated ports
// and ranges such as "22,80,8000-8100". The result is sorted without
// repeats.
func ParsePorts(spec string) ([]int, error) {
	switch strings.ToLower(strings.TrimSpace(spec)) {
	case "top100":
		return slices.Sorted(slices.Values(top100[:])), nil
	case "all":
		return portRange(1, 65535), nil
	}
	seen := map[int]bool{}
	var out []int
	for item := range strings.SplitSeq(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(item), "-")
		a, err := portNumber(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = portNumber(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("ports: range %q runs backwards", item)
			}
		}
		for p := a; p <= b; p++ {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("ports: %q is not a port number from 1 to 65535", s)
	}
	return n, nil
}

func portRange(lo, hi int) []int {
	out := make([]int, 0, hi-lo+1)
	for p := lo; p <= hi; p++ {
		out = append(out, p)
	}
	return out
}

// ErrTooManyHosts is returned by Hosts for a range larger than allowed.
var ErrTooManyHosts = errors.New("ports: too many addresses")

// Hosts lists the addresses of prefixes, at most max of them in all.
func Hosts(prefixes []netip.Prefix, max int) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, p := range prefixes {
		p = p.Masked()
		if size := p.Addr().BitLen() - p.Bits(); size >= 31 || len(out)+1<<size > max {
			return nil, fmt.Errorf("%w: %s holds more than %d", ErrTooManyHosts, p, max)
		}
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			out = append(out, a)
		}
	}
	return out, nil
}

// Ranges writes sorted ports compactly, as nmap's -p takes them:
// "22,80,8000-8100".
func Ranges(ports []int) string {
	var b strings.Builder
	for i := 0; i < len(ports); {
		j := i
		for j+1 < len(ports) && ports[j+1] == ports[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ports[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(ports[j]))
		}
		i = j + 1
	}
	return b.String()
}
