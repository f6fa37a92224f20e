package deps

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

const goMod = `module example.com/app

go 1.22

require golang.org/x/text v0.3.7 // indirect

require (
	github.com/pkg/errors v0.9.1
	"golang.org/x/net" v0.20.0
)
`

const packageLock = `{
  "name": "app", "lockfileVersion": 3,
  "packages": {
    "": {"name": "app", "version": "1.0.0"},
    "node_modules/lodash": {"version": "4.17.20"},
    "node_modules/minimist": {"version": "1.2.6"},
    "node_modules/a/node_modules/minimist": {"version": "1.2.5"},
    "node_modules/@scope/merge": {"version": "1.2.0"},
    "node_modules/ws": {"link": true}
  }
}`

const requirements = `# pinned
requests==2.28.1
Zope_Interface[test] == 6.0 ; python_version >= "3.8"
flask>=2.0
django==4.2.7  # fine
`

func TestFind(t *testing.T) {
	fsys := fstest.MapFS{
		"go.mod":                           {Data: []byte(goMod)},
		"web/package-lock.json":            {Data: []byte(packageLock)},
		"requirements.txt":                 {Data: []byte(requirements)},
		"node_modules/x/package-lock.json": {Data: []byte(packageLock)},
	}
	pkgs, err := Find(fsys, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, fmt.Sprintf("%s %s %s %s", p.File, p.Ecosystem, p.Name, p.Version))
	}
	want := []string{
		"go.mod Go golang.org/x/text v0.3.7", "go.mod Go github.com/pkg/errors v0.9.1", "go.mod Go golang.org/x/net v0.20.0",
		"requirements.txt PyPI requests 2.28.1", "requirements.txt PyPI zope-interface 6.0", "requirements.txt PyPI django 4.2.7",
		"web/package-lock.json npm @scope/merge 1.2.0", "web/package-lock.json npm lodash 4.17.20",
		"web/package-lock.json npm minimist 1.2.5", "web/package-lock.json npm minimist 1.2.6",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := parsePackageLock([]byte(`{"lockfileVersion": 1, "dependencies": {}}`)); err == nil {
		t.Error("a version 1 lockfile was read")
	}
}

func TestMatch(t *testing.T) {
	db, err := Load("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		eco, name, version string
		want               string // advisory id, or "" for none
	}{
		{Go, "golang.org/x/text", "v0.3.7", "TEST-2026-0001"},
		{Go, "golang.org/x/text", "v0.3.8", ""},
		{Go, "golang.org/x/text", "v0.14.0", ""},
		{NPM, "lodash", "4.17.20", "TEST-2026-0002"},
		{NPM, "lodash", "4.17.21", ""},
		{NPM, "lodash", "3.10.1", ""},
		{NPM, "@scope/merge", "1.2.0", "TEST-2026-0002"},
		{NPM, "@scope/merge", "1.2.1", ""},
		{NPM, "minimist", "1.2.5", "TEST-2026-0004"},
		{NPM, "minimist", "1.2.6", ""},
		{PyPI, "requests", "2.28.1", "TEST-2026-0003"},
		{PyPI, "requests", "2.31.0", ""},
		{PyPI, "zope-interface", "6.0", "TEST-2026-0004"},
		{PyPI, "zope-interface", "6.0rc1", "TEST-2026-0004"},
		{PyPI, "zope-interface", "5.4.1", ""},
		{PyPI, "zope-interface", "6.0.1", ""},
	} {
		got := db.Match([]Package{{Ecosystem: tt.eco, Name: tt.name, Version: tt.version}})
		var id string
		if len(got) > 0 {
			id = got[0].Advisory.ID
		}
		if id != tt.want || len(got) > 1 {
			t.Errorf("%s %s %s: %v, want %q", tt.eco, tt.name, tt.version, got, tt.want)
		}
	}
	v := db.Match([]Package{{Ecosystem: PyPI, Name: "zope-interface", Version: "5.1"}})
	if len(v) != 1 || !slices.Equal(v[0].Fixed, []string{"5.4.1", "6.0.1"}) {
		t.Errorf("fixed versions: %+v", v)
	}
	if a, ok := db.Lookup("cve-2026-90003"); !ok || a.ID != "TEST-2026-0003" {
		t.Errorf("lookup by alias: %v %v", a, ok)
	}
	if _, ok := db.Lookup("CVE-1999-0001"); ok {
		t.Error("found an advisory that is not there")
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("an empty folder loaded")
	}
}
