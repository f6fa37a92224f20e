package deps

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Advisory is the part of an OSV record read here.
type Advisory struct {
	ID       string     `json:"id"`
	Aliases  []string   `json:"aliases"`
	Summary  string     `json:"summary"`
	Details  string     `json:"details"`
	Affected []Affected `json:"affected"`
}

// Affected is one package an advisory names, with the versions affected.
type Affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges   []Range  `json:"ranges"`
	Versions []string `json:"versions"`
}

// Range is a list of events: a version is affected from an "introduced"
// up to the next "fixed" (excluded) or "last_affected" (included).
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one entry of a Range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
}

// DB is an OSV folder loaded into memory.
type DB struct {
	advisories []*Advisory
	byPackage  map[string][]*Advisory // key: ecosystem + "/" + name
}

// ErrNoDB is returned by Load for an empty or missing folder.
var ErrNoDB = errors.New("deps: no OSV advisories")

// Load reads every *.json file below dir as one OSV advisory.
func Load(dir string) (*DB, error) {
	db := &DB{byPackage: map[string][]*Advisory{}}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		a := new(Advisory)
		if err := json.Unmarshal(data, a); err != nil {
			return fmt.Errorf("deps: %s: %w", p, err)
		}
		if a.ID == "" {
			return fmt.Errorf("deps: %s: the advisory has no id", p)
		}
		db.advisories = append(db.advisories, a)
		seen := map[string]bool{}
		for _, af := range a.Affected {
			k := packageKey(af.Package.Ecosystem, af.Package.Name)
			if !seen[k] {
				seen[k] = true
				db.byPackage[k] = append(db.byPackage[k], a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(db.advisories) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoDB, dir)
	}
	return db, nil
}

// Len returns the number of advisories.
func (db *DB) Len() int { return len(db.advisories) }

// packageKey normalises names the way each ecosystem compares them; OSV
// ecosystems may carry a suffix (":Debian 12"), which the base name keeps.
func packageKey(eco, name string) string {
	eco, _, _ = strings.Cut(eco, ":")
	if eco == PyPI {
		name = pypiName(name)
	}
	return eco + "/" + name
}

// Lookup returns the advisory whose id or one of whose aliases is id,
// ignoring case.
func (db *DB) Lookup(id string) (*Advisory, bool) {
	for _, a := range db.advisories {
		if strings.EqualFold(a.ID, id) || slices.ContainsFunc(a.Aliases, func(s string) bool { return strings.EqualFold(s, id) }) {
			return a, true
		}
	}
	return nil, false
}

// Vuln is a package version an advisory affects.
type Vuln struct {
	Package  Package
	Advisory *Advisory
	// Fixed lists the versions that fix it, lowest first; empty when no
	// fix is known.
	Fixed []string
}

// Match returns the advisories affecting pkgs, in the packages' order.
func (db *DB) Match(pkgs []Package) []Vuln {
	var out []Vuln
	for _, p := range pkgs {
		for _, a := range db.byPackage[packageKey(p.Ecosystem, p.Name)] {
			for _, af := range a.Affected {
				if packageKey(af.Package.Ecosystem, af.Package.Name) == packageKey(p.Ecosystem, p.Name) && af.affects(p.Version) {
					out = append(out, Vuln{Package: p, Advisory: a, Fixed: af.fixed()})
					break
				}
			}
		}
	}
	return out
}

// affects reports whether version v is listed or falls in a range. GIT
// ranges name commits, which a manifest does not pin, and are skipped.
func (af Affected) affects(v string) bool {
	if slices.ContainsFunc(af.Versions, func(s string) bool { return Compare(s, v) == 0 }) {
		return true
	}
	for _, r := range af.Ranges {
		if (r.Type == "SEMVER" || r.Type == "ECOSYSTEM") && r.affects(v) {
			return true
		}
	}
	return false
}

// affects walks the events in version order, as the OSV schema describes:
// each introduced at or below v opens the range, each fixed at or below v
// (or last_affected below it) closes it.
func (r Range) affects(v string) bool {
	events := slices.Clone(r.Events)
	slices.SortStableFunc(events, func(a, b Event) int { return Compare(a.version(), b.version()) })
	in := false
	for _, e := range events {
		switch {
		case e.Introduced != "":
			if e.Introduced == "0" || Compare(e.Introduced, v) <= 0 {
				in = true
			}
		case e.Fixed != "":
			if Compare(e.Fixed, v) <= 0 {
				in = false
			}
		case e.LastAffected != "":
			if Compare(e.LastAffected, v) < 0 {
				in = false
			}
		}
	}
	return in
}

func (e Event) version() string { return cmp.Or(e.Introduced, e.Fixed, e.LastAffected) }

func (af Affected) fixed() []string {
	var out []string
	for _, r := range af.Ranges {
		if r.Type == "GIT" {
			continue // commits mean nothing to someone choosing a version
		}
		for _, e := range r.Events {
			if e.Fixed != "" && !slices.Contains(out, e.Fixed) {
				out = append(out, e.Fixed)
			}
		}
	}
	slices.SortFunc(out, Compare)
	return out
}
