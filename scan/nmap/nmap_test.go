package nmap

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/scan/ports"
)

func TestParse(t *testing.T) {
	data, err := os.ReadFile("testdata/report.xml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	lo, v6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	want := []ports.Open{
		{Addr: lo, Port: 22, Service: "ssh", Banner: "OpenSSH 9.6p1 Ubuntu 3ubuntu13"},
		{Addr: lo, Port: 80, Service: "http", Banner: "nginx 1.25.3"},
		{Addr: v6, Port: 443, Service: "https"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Parse = %+v\nwant %+v", got, want)
	}
	if _, err := Parse([]byte("<nmaprun")); err == nil {
		t.Error("truncated XML parsed")
	}
}

func TestArgs(t *testing.T) {
	got := strings.Join(Args([]netip.Addr{netip.MustParseAddr("::1")}, []int{22, 80, 81}, Options{Versions: true, Rate: 100}), " ")
	if want := "-sT -Pn -n --open -oX - -p 22,80-81 -sV --max-rate 100 -6 -- ::1"; got != want {
		t.Errorf("Args = %q, want %q", got, want)
	}
}

// needNmap skips without nmap, except under CI, where scripts/services.sh has
// installed it and its absence is a failure.
func needNmap(t testing.TB) string {
	bin, err := Lookup("")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nmap is required under CI (scripts/services.sh installs it): %v", err)
		}
		t.Skip(err)
	}
	return bin
}

func TestScanLoopback(t *testing.T) {
	needNmap(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	lo := netip.MustParseAddr("127.0.0.1")
	got, err := Scan(context.Background(), []netip.Addr{lo}, []int{port, port + 1}, Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Addr != lo || got[0].Port != port {
		t.Errorf("nmap found %+v, want only 127.0.0.1:%d", got, port)
	}
}

func TestScanMissingBinary(t *testing.T) {
	_, err := Scan(context.Background(), nil, []int{22}, Options{Path: "/nonexistent/nmap"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("err = %v", err)
	}
}
