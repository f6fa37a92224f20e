package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// ScopeRule puts address ranges and host names in scope for scans. A
// target is scanned only when a rule for the room covers it; with no rules
// nothing can be scanned.
type ScopeRule struct {
	// Rooms are the rooms the rule applies in; empty means every room and
	// direct messages.
	Rooms []string `yaml:"rooms,omitempty"`
	// CIDRs are address ranges such as 10.20.0.0/16 or a single address.
	CIDRs []string `yaml:"cidrs,omitempty"`
	// Hosts are host names, exact ("intranet.example.com") or a subdomain
	// wildcard ("*.corp.example.com"), scanned whatever they resolve to.
	Hosts []string `yaml:"hosts,omitempty"`
}

// Jobs bounds long work such as scans.
type Jobs struct {
	// MaxPerUser and MaxRunning bound the jobs running at once for one
	// user and in all.
	MaxPerUser int `yaml:"max_per_user"`
	MaxRunning int `yaml:"max_running"`
	// Timeout stops a job that runs longer.
	Timeout Duration `yaml:"timeout"`
	// Retention is how long a finished job's result is kept.
	Retention Duration `yaml:"retention"`
}

// Scan configures the scanners.
type Scan struct {
	// Rate is the connection attempts per second a port scan makes unless
	// the user asks for another; MaxRate is the most a user may ask for.
	Rate    int `yaml:"rate"`
	MaxRate int `yaml:"max_rate"`
	// PortTimeout bounds one connection attempt.
	PortTimeout Duration `yaml:"port_timeout"`
	// MaxHosts is the most addresses one scan may cover.
	MaxHosts int `yaml:"max_hosts"`
	// Nmap is the nmap binary; empty looks it up in PATH.
	Nmap string `yaml:"nmap"`
}

// secopsDefaults are the defaults of the security sections.
func secopsDefaults(c *Config) {
	c.Jobs = Jobs{MaxPerUser: 2, MaxRunning: 8, Timeout: Duration(30 * time.Minute), Retention: Duration(30 * 24 * time.Hour)}
	c.Scan = Scan{Rate: 500, MaxRate: 5000, PortTimeout: Duration(time.Second), MaxHosts: 256}
}

// validateSecops reports every problem in the security sections.
func (c *Config) validateSecops(bad func(format string, args ...any)) {
	for i, r := range c.Scope {
		path := fmt.Sprintf("scope[%d]", i)
		if len(r.CIDRs) == 0 && len(r.Hosts) == 0 {
			bad("%s: has neither cidrs nor hosts; list what the rule puts in scope", path)
		}
		for j, cidr := range r.CIDRs {
			if _, err := netip.ParsePrefix(cidr); err != nil {
				if _, err := netip.ParseAddr(cidr); err != nil {
					bad("%s.cidrs[%d]: %q is not a CIDR or an address; write it as 10.0.0.0/8 or 192.0.2.7", path, j, cidr)
				}
			}
		}
		for j, h := range r.Hosts {
			name := strings.TrimPrefix(h, "*.")
			if name == "" || strings.ContainsAny(name, "*/: ") {
				bad("%s.hosts[%d]: %q is not a host name; write it as intranet.example.com or *.corp.example.com", path, j, h)
			}
		}
	}
	positive := func(key string, n int) {
		if n <= 0 {
			bad("%s: %d is not positive; use a number above zero", key, n)
		}
	}
	positiveDuration := func(key string, d Duration) {
		if d <= 0 {
			bad("%s: %s is not positive; use a duration such as 30s", key, d)
		}
	}
	positive("jobs.max_per_user", c.Jobs.MaxPerUser)
	positive("jobs.max_running", c.Jobs.MaxRunning)
	positiveDuration("jobs.timeout", c.Jobs.Timeout)
	positiveDuration("jobs.retention", c.Jobs.Retention)
	positive("scan.rate", c.Scan.Rate)
	positive("scan.max_rate", c.Scan.MaxRate)
	if c.Scan.Rate > c.Scan.MaxRate {
		bad("scan.rate: %d is above scan.max_rate %d; lower it or raise max_rate", c.Scan.Rate, c.Scan.MaxRate)
	}
	positiveDuration("scan.port_timeout", c.Scan.PortTimeout)
	positive("scan.max_hosts", c.Scan.MaxHosts)
}
