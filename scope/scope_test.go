package scope

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

// fakeDNS answers from a table, so tests never leave the machine.
type fakeDNS map[string][]string

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if out == nil {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestCheck(t *testing.T) {
	soc, err := Parse([]string{"#soc"}, []string{"127.0.0.0/24", "::1"}, []string{"*.lab.test"})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Parse(nil, []string{"127.0.1.1"}, []string{"Listed.Test"})
	dns := fakeDNS{
		"inside.test":  {"127.0.0.5", "::1"},
		"mixed.test":   {"127.0.0.5", "127.0.2.1"},
		"outside.test": {"127.0.9.9"},
		"listed.test":  {"127.0.9.9"},
		"a.lab.test":   {"127.0.9.8"},
		"mapped.test":  {"::ffff:127.0.0.9"},
	}
	s := New([]Rule{soc, all}, dns)
	tests := []struct {
		room, target string
		want         string // approved target, or the refusal
	}{
		{"#soc", "127.0.0.1", "127.0.0.1"},
		{"#soc", "127.0.0.0/25", "127.0.0.0/25"},
		{"#soc", "127.0.0.0/16", "127.0.0.0/16 is outside the scan scope of this room; only configured ranges and hosts can be scanned."},
		{"#soc", "::1", "::1"},
		{"#soc", "inside.test", "inside.test"},
		{"#soc", "mapped.test", "mapped.test"},
		{"#soc", "mixed.test", "mixed.test resolves to 127.0.2.1, which is outside the scan scope of this room; only configured ranges and hosts can be scanned."},
		{"#soc", "outside.test", "outside.test resolves to 127.0.9.9, which is outside the scan scope of this room; only configured ranges and hosts can be scanned."},
		{"#soc", "listed.test", "listed.test"},
		{"#soc", "a.lab.test", "a.lab.test"},
		{"#soc", "missing.test", "missing.test does not resolve, so it cannot be checked against the scan scope; check the name."},
		{"#dev", "127.0.0.1", "127.0.0.1/32 is outside the scan scope of this room; only configured ranges and hosts can be scanned."},
		{"#dev", "127.0.1.1", "127.0.1.1"},
		{"#dev", "a.lab.test", "a.lab.test resolves to 127.0.9.8, which is outside the scan scope of this room; only configured ranges and hosts can be scanned."},
	}
	for _, tt := range tests {
		got, err := s.CheckHost(context.Background(), tt.room, tt.target)
		if p, perr := netip.ParsePrefix(tt.target); perr == nil {
			got, err = s.Check(context.Background(), tt.room, p, "")
		}
		text := got.String()
		if err != nil {
			text = err.Error()
			if !errors.Is(err, ErrOutOfScope) {
				t.Errorf("%s: error %v does not match ErrOutOfScope", tt.target, err)
			}
		}
		if text != tt.want {
			t.Errorf("%s in %s: got %q, want %q", tt.target, tt.room, text, tt.want)
		}
	}
}

func TestNoScopeRefusesEverything(t *testing.T) {
	_, err := New(nil, fakeDNS{}).CheckHost(context.Background(), "#soc", "127.0.0.1")
	if !errors.Is(err, ErrOutOfScope) || err.Error() != "Nothing can be scanned from here: no scan scope is configured for this room; an admin sets it under scope: in the configuration." {
		t.Errorf("err = %v", err)
	}
}

func TestCheckReturnsResolvedAddresses(t *testing.T) {
	r, _ := Parse(nil, []string{"127.0.0.0/8"}, nil)
	got, err := New([]Rule{r}, fakeDNS{"two.test": {"127.0.0.2", "127.0.0.3", "127.0.0.2"}}).CheckHost(context.Background(), "", "two.test")
	if err != nil || len(got.Prefixes) != 2 || got.Prefixes[1] != netip.MustParsePrefix("127.0.0.3/32") {
		t.Errorf("got %+v, %v", got, err)
	}
}

// TestLocalhost resolves a real name that never leaves the machine.
func TestLocalhost(t *testing.T) {
	r, _ := Parse(nil, []string{"127.0.0.0/8", "::1"}, nil)
	if _, err := New([]Rule{r}, nil).CheckHost(context.Background(), "", "localhost"); err != nil {
		t.Error(err)
	}
}
