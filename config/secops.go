package config

import (
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
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
	// Rerun, with replicas, runs a job whose replica died again on a live
	// one, as its owner, rather than only reporting it interrupted. Turn
	// it on when every job command is safe to run twice (scans are).
	Rerun bool `yaml:"rerun"`
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
	// Repo says which repositories "scan repo" may read.
	Repo RepoScan `yaml:"repo"`
}

// RepoScan says which repositories may be scanned and bounds the work.
type RepoScan struct {
	// AllowedHosts are the hosts git URLs may name (github.com); with
	// none, no URL can be cloned.
	AllowedHosts []string `yaml:"allowed_hosts,omitempty"`
	// AllowFileURLs lets file:// URLs be cloned, which reads the bot's own
	// disk.
	AllowFileURLs bool `yaml:"allow_file_urls"`
	// Paths are the absolute folders under which local repositories may
	// be scanned.
	Paths []string `yaml:"paths,omitempty"`
	// Repos name repositories, so people type "scan repo payments"; set
	// only in the file.
	Repos map[string]string `yaml:"repos,omitempty"`
	// Timeout bounds a clone.
	Timeout Duration `yaml:"timeout"`
	// MaxBytes bounds what one scan reads.
	MaxBytes int64 `yaml:"max_bytes"`
}

// OSV is the offline vulnerability database.
type OSV struct {
	// Dir holds OSV advisories, one JSON file each, as osv.dev's per-
	// ecosystem archives unpack; empty turns dependency checks and "cve"
	// off.
	Dir string `yaml:"dir"`
}

// Monitors tune health monitors.
type Monitors struct {
	// Failures is how many failed checks in a row make a monitor down.
	Failures int `yaml:"failures"`
	// History is how many checks each monitor keeps for its statistics.
	History int `yaml:"history"`
	// MinEvery is the shortest interval a monitor may check at.
	MinEvery Duration `yaml:"min_every"`
}

// secopsDefaults are the defaults of the security sections.
func secopsDefaults(c *Config) {
	c.Jobs = Jobs{MaxPerUser: 2, MaxRunning: 8, Timeout: Duration(30 * time.Minute), Retention: Duration(30 * 24 * time.Hour)}
	c.Scan = Scan{Rate: 500, MaxRate: 5000, PortTimeout: Duration(time.Second), MaxHosts: 256,
		Repo: RepoScan{Timeout: Duration(2 * time.Minute), MaxBytes: 100 << 20}}
	c.Monitors = Monitors{Failures: 3, History: 100, MinEvery: Duration(30 * time.Second)}
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
	for i, h := range c.Scan.Repo.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/:@ *") {
			bad("scan.repo.allowed_hosts[%d]: %q is not a host name; write it as github.com", i, h)
		}
	}
	for i, p := range c.Scan.Repo.Paths {
		if !filepath.IsAbs(p) {
			bad("scan.repo.paths[%d]: %q is not an absolute path; write it as /srv/repos", i, p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Scan.Repo.Repos)) {
		if !repoName.MatchString(name) {
			bad("scan.repo.repos: %q is not a repository name; use lower-case letters, digits, '.', '_' and '-'", name)
		}
		if c.Scan.Repo.Repos[name] == "" {
			bad("scan.repo.repos.%s: has no URL; give the git URL to clone", name)
		}
	}
	positiveDuration("scan.repo.timeout", c.Scan.Repo.Timeout)
	if c.Scan.Repo.MaxBytes <= 0 {
		bad("scan.repo.max_bytes: %d is not positive; use a size in bytes such as 104857600", c.Scan.Repo.MaxBytes)
	}
	if c.OSV.Dir != "" && !filepath.IsAbs(c.OSV.Dir) {
		bad("osv.dir: %q is not an absolute path; write it as /var/lib/osv", c.OSV.Dir)
	}
	positive("monitors.failures", c.Monitors.Failures)
	positive("monitors.history", c.Monitors.History)
	positiveDuration("monitors.min_every", c.Monitors.MinEvery)
}

// repoName is a configured repository's name: one word a user can type.
var repoName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
