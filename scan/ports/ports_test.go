package ports

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"testing"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// listen opens a loopback listener whose connections get greeting (none if
// empty) and returns its port.
func listen(t *testing.T, greeting string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if greeting != "" {
				c.Write([]byte(greeting))
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	p := listen(t, "")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	q := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if q == p {
		t.Fatal("port reused")
	}
	return q
}

func TestScanFindsOpenPortsAndBanners(t *testing.T) {
	ssh := listen(t, "SSH-2.0-OpenSSH_9.6\r\n")
	smtp := listen(t, "220 mail.test ESMTP\r\n\x1b[31m")
	silent := listen(t, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.25.3")
	}))
	defer srv.Close()
	web := netip.MustParseAddrPort(srv.Listener.Addr().String()).Port()
	httpPorts[int(web)] = true
	defer delete(httpPorts, int(web))
	closed := closedPort(t)

	var progress []int
	got, err := Scan(context.Background(), []netip.Addr{loopback}, []int{ssh, smtp, silent, int(web), closed},
		Options{Rate: 1000, Timeout: 300e6, Progress: func(done, _ int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]Open{
		ssh:      {Addr: loopback, Port: ssh, Service: "ssh", Banner: "SSH-2.0-OpenSSH_9.6"},
		smtp:     {Addr: loopback, Port: smtp, Service: "smtp", Banner: "220 mail.test ESMTP"},
		silent:   {Addr: loopback, Port: silent},
		int(web): {Addr: loopback, Port: int(web), Service: "http", Banner: "HTTP/1.0 200 OK nginx/1.25.3"},
	}
	if len(got) != len(want) {
		t.Fatalf("found %+v, want %d ports", got, len(want))
	}
	for _, o := range got {
		if w := want[o.Port]; o != w {
			t.Errorf("port %d: got %+v, want %+v", o.Port, o, w)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b Open) int { return a.Port - b.Port }) {
		t.Error("not sorted")
	}
	if len(progress) == 0 {
		t.Error("no progress reported")
	}
}

func TestScanStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Scan(ctx, []netip.Addr{loopback}, portRange(1, 1000), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		n       int
		first   int
		wantErr bool
	}{
		{"1-1024", 1024, 1, false},
		{"top100", 100, 7, false},
		{"all", 65535, 1, false},
		{"443, 22,22,8000-8002", 5, 22, false},
		{"0", 0, 0, true},
		{"70000", 0, 0, true},
		{"90-80", 0, 0, true},
		{"ssh", 0, 0, true},
	}
	for _, tt := range tests {
		got, err := ParsePorts(tt.in)
		if (err != nil) != tt.wantErr || len(got) != tt.n || (tt.n > 0 && got[0] != tt.first) {
			t.Errorf("ParsePorts(%q) = %d ports from %v, %v", tt.in, len(got), got[:min(len(got), 3)], err)
		}
	}
	if got := Ranges([]int{22, 80, 81, 82, 443, 8000, 8001}); got != "22,80-82,443,8000-8001" {
		t.Errorf("Ranges = %q", got)
	}
}

func TestHosts(t *testing.T) {
	got, err := Hosts([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/30"), netip.MustParsePrefix("::1/128")}, 8)
	if err != nil || len(got) != 5 || got[4].String() != "::1" {
		t.Errorf("Hosts = %v, %v", got, err)
	}
	if _, err := Hosts([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/24")}, 100); !errors.Is(err, ErrTooManyHosts) {
		t.Errorf("a /24 with max 100: %v", err)
	}
	if _, err := Hosts([]netip.Prefix{netip.MustParsePrefix("::/0")}, 100); !errors.Is(err, ErrTooManyHosts) {
		t.Errorf("::/0: %v", err)
	}
}

func TestPrintable(t *testing.T) {
	long := ""
	for i := range 100 {
		long += strconv.Itoa(i % 10)
	}
	if got := printable(long); len([]rune(got)) != 81 {
		t.Errorf("long banner kept %d runes", len([]rune(got)))
	}
}
