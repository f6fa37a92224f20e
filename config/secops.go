package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
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
	Nmap string   `yaml:"nmap"`
	Repo ScanRepo `yaml:"repo"`
}

// ScanRepo says which repositories "scan repo" may read.
type ScanRepo struct {
	// Git is the git binary; empty looks it up in PATH.
	Git string `yaml:"git"`
	// AllowedHosts are the hosts git URLs may name, such as github.com.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowedPaths are the folders local paths and file:// URLs must be
	// under.
	AllowedPaths []string `yaml:"allowed_paths"`
	// Repos are repositories users name instead of giving a URL, set only
	// in the file.
	Repos []Repo `yaml:"repos"`
}

// Repo is a configured repository.
type Repo struct {
	Name string `yaml:"name"`
	// Source is a git URL or a local path.
	Source string `yaml:"source"`
}

// Monitors configures health monitors.
type Monitors struct {
	// Failures is how many checks in a row must fail before a monitor is
	// reported down.
	Failures int `yaml:"failures"`
	// Timeout bounds one check.
	Timeout Duration `yaml:"timeout"`
	// MinEvery is the shortest interval a user may give a monitor.
	MinEvery Duration `yaml:"min_every"`
}

// OSV locates vulnerability data in the OSV format.
type OSV struct {
	// Dir is a folder of OSV JSON records (one vulnerability per file,
	// any folder depth), as the OSV project exports them.
	Dir string `yaml:"dir"`
}

// secopsDefaults are the defaults of the security sections.
func secopsDefaults(c *Config) {
	c.Jobs = Jobs{MaxPerUser: 2, MaxRunning: 8, Timeout: Duration(30 * time.Minute), Retention: Duration(30 * 24 * time.Hour)}
	c.Scan = Scan{Rate: 500, MaxRate: 5000, PortTimeout: Duration(time.Second), MaxHosts: 256}
	c.Monitors = Monitors{Failures: 3, Timeout: Duration(10 * time.Second), MinEvery: Duration(30 * time.Second)}
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
	for i, p := range c.Scan.Repo.AllowedPaths {
		if !filepath.IsAbs(p) {
			bad("scan.repo.allowed_paths[%d]: %q is not an absolute path; write it from the root, such as /srv/repos", i, p)
		}
	}
	names := map[string]int{}
	for i, r := range c.Scan.Repo.Repos {
		path := fmt.Sprintf("scan.repo.repos[%d]", i)
		if r.Name == "" || strings.ContainsAny(r.Name, "/: ") {
			bad("%s.name: %q is not a name; use one word such as payments-api", path, r.Name)
		} else if first, ok := names[r.Name]; ok {
			bad("%s.name: %q is already used by scan.repo.repos[%d]; rename one", path, r.Name, first)
		} else {
			names[r.Name] = i
		}
		if r.Source == "" {
			bad("%s.source: is empty; set a git URL or a path", path)
		}
	}
	positive("monitors.failures", c.Monitors.Failures)
	positiveDuration("monitors.timeout", c.Monitors.Timeout)
	positiveDuration("monitors.min_every", c.Monitors.MinEvery)
	if c.OSV.Dir != "" && !filepath.IsAbs(c.OSV.Dir) {
		bad("osv.dir: %q is not an absolute path; write it from the root, such as /var/lib/osv", c.OSV.Dir)
	}
}
