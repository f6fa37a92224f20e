package secops

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/seipbot/seipbot/bot"
)

// Resolver answers DNS questions; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupNS(ctx context.Context, name string) ([]*net.NS, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
}

func (p *Plugin) registerLookups(r *bot.Registry) {
	r.Command(bot.Command{
		Words: "dns",
		Args: []bot.Arg{{Name: "name", Kind: bot.Target, Help: "a host name"},
			{Name: "type", Kind: bot.Enum, Optional: true, Default: "A", Values: []string{"A", "AAAA", "MX", "TXT", "NS", "CNAME"}}},
		Help: "look up a name's DNS records", Examples: []string{"dns example.com MX"},
		Permission: "lookup.dns", Handler: bot.HandlerFunc(p.dns),
	})
}

func (p *Plugin) dns(ctx context.Context, w bot.Responder, m *bot.Message) error {
	_, name := m.Args.Target("name")
	if name == "" {
		return bot.Userf("Give a host name, not an address.")
	}
	typ := m.Args.String("type")
	var lines []string
	var err error
	r := p.o.Resolver
	switch typ {
	case "A", "AAAA":
		var addrs []netip.Addr
		network := map[string]string{"A": "ip4", "AAAA": "ip6"}[typ]
		addrs, err = r.LookupNetIP(ctx, network, name)
		for _, a := range addrs {
			lines = append(lines, a.Unmap().String())
		}
	case "MX":
		var mxs []*net.MX
		mxs, err = r.LookupMX(ctx, name)
		for _, mx := range mxs {
			lines = append(lines, fmt.Sprintf("%d %s", mx.Pref, mx.Host))
		}
	case "TXT":
		lines, err = r.LookupTXT(ctx, name)
	case "NS":
		var nss []*net.NS
		nss, err = r.LookupNS(ctx, name)
		for _, ns := range nss {
			lines = append(lines, ns.Host)
		}
	case "CNAME":
		var c string
		c, err = r.LookupCNAME(ctx, name)
		lines = append(lines, c)
	}
	if err != nil || len(lines) == 0 {
		return bot.Userf("%s has no %s records, or the lookup failed.", name, typ)
	}
	return w.Reply(ctx, fmt.Sprintf("%s %s:\n%s", name, typ, strings.Join(lines, "\n")))
}
