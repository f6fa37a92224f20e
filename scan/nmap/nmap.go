// Package nmap runs the nmap binary for a TCP connect scan and reads its
// XML report. nmap runs with an argv, never a shell, with a clean
// environment and a timeout; targets are addresses the caller has already
// approved, placed after "--" so none can be read as an option.
package nmap

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/seipbot/seipbot/scan/ports"
)

// ErrNotInstalled is returned when nmap cannot be found.
var ErrNotInstalled = errors.New("nmap: not installed")

// Options tune an nmap run.
type Options struct {
	// Path is the nmap binary; empty looks it up in PATH.
	Path string
	// Versions adds -sV: nmap asks each open port what it runs.
	Versions bool
	// Rate is nmap's --max-rate; zero leaves nmap's own pacing.
	Rate int
	// Timeout bounds the run; zero means 30 minutes.
	Timeout time.Duration
}

// Lookup returns the nmap binary to run.
func Lookup(path string) (string, error) {
	if path == "" {
		path = "nmap"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	return p, nil
}

// Args returns nmap's arguments for a scan of addrs on portList.
func Args(addrs []netip.Addr, portList []int, opts Options) []string {
	// -sT: connect scan, no raw sockets or root; -Pn: the scope check has
	// decided the hosts, so skip discovery; -n: no reverse DNS; --open:
	// report only open ports; -oX -: XML on stdout.
	args := []string{"-sT", "-Pn", "-n", "--open", "-oX", "-", "-p", ports.Ranges(portList)}
	if opts.Versions {
		args = append(args, "-sV")
	}
	if opts.Rate > 0 {
		args = append(args, "--max-rate", fmt.Sprint(opts.Rate))
	}
	if slices.ContainsFunc(addrs, netip.Addr.Is6) {
		args = append(args, "-6")
	}
	args = append(args, "--")
	for _, a := range addrs {
		args = append(args, a.String())
	}
	return args
}

// Scan runs nmap and returns the open ports it reports, sorted. nmap scans
// one address family per run, so a mixed list makes two runs.
func Scan(ctx context.Context, addrs []netip.Addr, portList []int, opts Options) ([]ports.Open, error) {
	bin, err := Lookup(opts.Path)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	var out []ports.Open
	for _, group := range [][]netip.Addr{v4, v6} {
		if len(group) == 0 {
			continue
		}
		found, err := run(ctx, bin, Args(group, portList, opts))
		if err != nil {
			return out, err
		}
		out = append(out, found...)
	}
	slices.SortFunc(out, func(x, y ports.Open) int {
		if c := x.Addr.Compare(y.Addr); c != 0 {
			return c
		}
		return x.Port - y.Port
	})
	return out, nil
}

func run(ctx context.Context, bin string, args []string) ([]ports.Open, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	// A clean environment: nothing of the bot's (keys, tokens) reaches
	// nmap, and its output is not localised.
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("nmap: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return Parse(stdout.Bytes())
}

// report is the part of nmap's XML output read here.
type report struct {
	Hosts []struct {
		Addresses []struct {
			Addr string `xml:"addr,attr"`
			Type string `xml:"addrtype,attr"`
		} `xml:"address"`
		Ports []struct {
			Protocol string `xml:"protocol,attr"`
			ID       int    `xml:"portid,attr"`
			State    struct {
				State string `xml:"state,attr"`
			} `xml:"state"`
			Service struct {
				Name      string `xml:"name,attr"`
				Product   string `xml:"product,attr"`
				Version   string `xml:"version,attr"`
				ExtraInfo string `xml:"extrainfo,attr"`
			} `xml:"service"`
		} `xml:"ports>port"`
	} `xml:"host"`
}

// Parse reads nmap's XML report (-oX) into the open TCP ports.
func Parse(data []byte) ([]ports.Open, error) {
	var r report
	if err := xml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("nmap: reading its XML report: %w", err)
	}
	var out []ports.Open
	for _, h := range r.Hosts {
		var addr netip.Addr
		for _, a := range h.Addresses {
			if a.Type == "ipv4" || a.Type == "ipv6" {
				addr, _ = netip.ParseAddr(a.Addr)
			}
		}
		if !addr.IsValid() {
			continue
		}
		for _, p := range h.Ports {
			if p.Protocol != "tcp" || p.State.State != "open" {
				continue
			}
			s := p.Service
			out = append(out, ports.Open{
				Addr: addr, Port: p.ID, Service: s.Name,
				Banner: strings.Join(strings.Fields(s.Product+" "+s.Version+" "+s.ExtraInfo), " "),
			})
		}
	}
	return out, nil
}
