// Package deps lists the dependencies a source tree pins (go.mod,
// package-lock.json, requirements.txt) and matches them against an
// offline copy of OSV advisories: a folder of JSON files in the OSV
// schema, as osv.dev publishes them per ecosystem.
package deps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
)

// The ecosystems read, named as OSV names them.
const (
	Go   = "Go"
	NPM  = "npm"
	PyPI = "PyPI"
)

// Package is one pinned dependency.
type Package struct {
	Ecosystem string
	Name      string
	Version   string
	File      string // the manifest it came from, relative to the tree's top
}

// parsers read one kind of manifest, by file name.
var parsers = map[string]func([]byte) ([]Package, error){
	"go.mod":            parseGoMod,
	"package-lock.json": parsePackageLock,
	"requirements.txt":  parseRequirements,
}

// Find reads every manifest in fsys (outside .git and node_modules, whose
// manifests belong to installed copies, not the project), without
// following symbolic links. maxBytes skips larger manifests; zero means
// 16 MiB.
func Find(fsys fs.FS, maxBytes int64) ([]Package, error) {
	if maxBytes <= 0 {
		maxBytes = 16 << 20
	}
	var out []Package
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return fs.SkipDir
			}
			return nil
		}
		parse := parsers[d.Name()]
		if parse == nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxBytes {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		pkgs, err := parse(data)
		if err != nil {
			return fmt.Errorf("deps: %s: %w", p, err)
		}
		for i := range pkgs {
			pkgs[i].File = p
		}
		out = append(out, pkgs...)
		return nil
	})
	return out, err
}

// parseGoMod reads the require directives of a go.mod, in a block or one
// per line; replaced modules keep their required version, which is what
// advisories name.
func parseGoMod(data []byte) ([]Package, error) {
	var out []Package
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inBlock && f[0] == ")":
			inBlock = false
		case inBlock && len(f) >= 2:
			out = append(out, Package{Ecosystem: Go, Name: unquote(f[0]), Version: f[1]})
		case f[0] == "require" && len(f) == 2 && f[1] == "(":
			inBlock = true
		case f[0] == "require" && len(f) >= 3:
			out = append(out, Package{Ecosystem: Go, Name: unquote(f[1]), Version: f[2]})
		}
	}
	return out, sc.Err()
}

func unquote(s string) string { return strings.Trim(s, "\"`") }

// parsePackageLock reads the "packages" map of a lockfile version 2 or 3,
// whose keys are install paths such as "node_modules/a/node_modules/b".
func parsePackageLock(data []byte) ([]Package, error) {
	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Link    bool   `json:"link"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, err
	}
	if lock.LockfileVersion < 2 {
		return nil, fmt.Errorf("lockfile version %d has no packages map; run npm install with npm 7 or later", lock.LockfileVersion)
	}
	var out []Package
	for key, p := range lock.Packages {
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 || p.Link || p.Version == "" {
			continue // the project itself, or a link to a workspace
		}
		name := key[i+len("node_modules/"):]
		if p.Name != "" {
			name = p.Name // an alias installs under another name
		}
		out = append(out, Package{Ecosystem: NPM, Name: name, Version: p.Version})
	}
	slices.SortFunc(out, func(a, b Package) int { return strings.Compare(a.Name+"@"+a.Version, b.Name+"@"+b.Version) })
	return slices.CompactFunc(out, func(a, b Package) bool { return a.Name == b.Name && a.Version == b.Version }), nil
}

// requirement is one "name[extras]==version" line; looser pins say
// nothing certain about the installed version and are left out.
var requirement = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9.!+_-]+)\s*(?:;.*)?$`)

func parseRequirements(data []byte) ([]Package, error) {
	var out []Package
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), " #")
		line = strings.TrimSpace(line)
		if m := requirement.FindStringSubmatch(line); m != nil {
			out = append(out, Package{Ecosystem: PyPI, Name: pypiName(m[1]), Version: m[2]})
		}
	}
	return out, sc.Err()
}

var pypiSeparators = regexp.MustCompile(`[-_.]+`)

// pypiName normalises a Python package name as PEP 503 does, so that
// "Django", "django" and "zope_interface"/"zope.interface" match.
func pypiName(s string) string {
	return pypiSeparators.ReplaceAllString(strings.ToLower(s), "-")
}
