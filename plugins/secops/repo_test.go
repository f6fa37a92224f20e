package secops

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/scan/repo"
	"github.com/seipbot/seipbot/scan/repo/repotest"
)

// Fake credentials, built from pieces so that no file of this repository
// looks like it holds one.
var fakeSecrets = []string{
	"AKIA" + "QX7TR2MZ" + "9VBN4KLP",
	"ghp" + "_" + "R8vQ2mX7kL4pN9sT1wY6" + "zB3cD5fG0hJ2aE4u",
	"glpat" + "-" + "Zk4Pq9Wm2Rt7Yx3Nb6Vc",
	"xoxb" + "-" + "123456789012-" + "Tk8Qz3Wm5Rp1Ys7Nv4Lb",
	"Qm9" + "vZ3Rr8Lp2Zx7Wq4Nc1Vb6",
}

func leakyRepo(t *testing.T) string {
	return repotest.New(t, map[string]string{
		"config/aws.env":   "AWS_ACCESS_KEY_ID=" + fakeSecrets[0] + "\n",
		"ci/deploy.sh":     "#!/bin/sh\n\nexport GH=" + fakeSecrets[1] + "\n",
		"app/settings.py":  "GITLAB = '" + fakeSecrets[2] + "'\nSLACK = \"" + fakeSecrets[3] + "\"\napi_key = \"" + fakeSecrets[4] + "\"\n",
		"fixtures/test.py": "token = \"" + fakeSecrets[4] + "\"\n",
		".seipbotignore":   "fixtures/\n",
		"go.mod":           "module example.com/app\n\nrequire golang.org/x/text v0.3.7\n",
		"web/package-lock.json": `{"lockfileVersion": 3, "packages": {"": {"version": "1.0.0"},
			"node_modules/lodash": {"version": "4.17.21"}, "node_modules/minimist": {"version": "1.2.5"}}}`,
		"requirements.txt": "requests==2.28.1\nzope.interface==6.0.1\n",
	})
}

// repoFixture is the plugin allowed to clone file:// URLs and read the
// folders under base, logging into a buffer.
func repoFixture(t *testing.T, base string) (*fixture, *bytes.Buffer) {
	f := newFixture(t)
	var logs bytes.Buffer
	f.p.log = slog.New(slog.NewTextHandler(&logs, nil))
	f.p.o.Repo = RepoOptions{
		Policy: repo.Policy{AllowedHosts: []string{"git.corp.example"}, AllowFileURLs: true, Paths: []string{base}},
		Repos:  map[string]string{"app": "file://" + filepath.Join(base, "app")},
	}
	f.p.o.OSVDir = "../../scan/deps/testdata/osv"
	return f, &logs
}

// everything returns all the fixture said: replies, progress, job reports.
func (f *fixture) everything(t *testing.T, lines ...string) string {
	t.Helper()
	var out []string
	for _, line := range lines {
		m := bottest.InRoom("#soc", "alice", "!"+line)
		m.ID = "m1"
		for _, r := range bottest.Run(t, f.opts, []bot.Plugin{f.p}, m) {
			out = append(out, r.Text)
			if jobID.MatchString(r.Text) {
				out = append(out, f.result(t, r.Text))
			}
		}
	}
	for _, r := range f.said.get() {
		out = append(out, r.Text)
	}
	return strings.Join(out, "\n")
}

// assertRedacted fails if any part of a fake secret past its first four
// characters appears in text.
func assertRedacted(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range fakeSecrets {
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(text, s[i:i+8]) {
				t.Errorf("%s shows part of a secret (%q):\n%s", where, s[i:i+8], text)
				return
			}
		}
	}
}

func TestScanRepo(t *testing.T) {
	base := t.TempDir()
	src := leakyRepo(t)
	if err := os.Rename(src, filepath.Join(base, "app")); err != nil {
		t.Fatal(err)
	}
	f, logs := repoFixture(t, base)
	for _, line := range []string{"scan repo app", "scan repo file://" + filepath.Join(base, "app"), "scan repo " + filepath.Join(base, "app")} {
		out := f.everything(t, line)
		for _, want := range []string{
			"7 files read.",
			"app/settings.py:1  gitlab-token  (fingerprint ", "app/settings.py:2  slack-token", "app/settings.py:3  generic-secret",
			"ci/deploy.sh:3  github-token", "config/aws.env:1  aws-access-key-id",
			"go.mod: Go golang.org/x/text v0.3.7  TEST-2026-0001 (CVE-2026-90001, GHSA-test-0001-aaaa): Test advisory: unbounded recursion in the text parser; fixed in 0.3.8",
			"web/package-lock.json: npm minimist 1.2.5  TEST-2026-0004",
			"requirements.txt: PyPI requests 2.28.1  TEST-2026-0003",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", line, want, out)
			}
		}
		for _, fixed := range []string{"lodash", "zope", "fixtures/"} {
			if strings.Contains(out, fixed) {
				t.Errorf("%s: a fixed version of %s was reported:\n%s", line, fixed, out)
			}
		}
		assertRedacted(t, line, out)
	}
	// The stored job records hold no secret either.
	list, err := f.jm.List(context.Background(), func(jobs.Job) bool { return true })
	if err != nil || len(list) != 3 {
		t.Fatalf("jobs: %v %v", list, err)
	}
	for _, j := range list {
		assertRedacted(t, "job "+j.ID, jobs.Report(j))
	}
	assertRedacted(t, "the log", logs.String())
}

func TestScanRepoRefusals(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "repos")
	outside := repotest.New(t, map[string]string{"secret.env": "GH=" + fakeSecrets[1] + "\n"})
	os.MkdirAll(filepath.Join(base, "app"), 0o755)
	if err := os.Symlink(outside, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	f, logs := repoFixture(t, base)
	for line, want := range map[string]string{
		"scan repo https://github.com/org/app.git":           "github.com is not an allowed git host",
		"scan repo git@evil.example:org/app.git":             "evil.example is not an allowed git host",
		"scan repo https://u:p@git.corp.example/a":           "Leave credentials out",
		"scan repo " + outside:                               "is outside the folders that may be scanned",
		"scan repo " + base + "/app/../../":                  "is outside the folders",
		"scan repo " + filepath.Join(base, "link"):           "is outside the folders",
		"scan repo nope":                                     "is not an absolute path",
		"scan repo ext::sh":                                  "is not an absolute path",
		"scan repo file://" + filepath.Join(base, "missing"): "The clone failed",
	} {
		out := f.everything(t, line)
		if !strings.Contains(out, want) {
			t.Errorf("%q answered %q, want %q", line, out, want)
		}
		assertRedacted(t, line, out)
	}
	f.p.o.Repo.AllowFileURLs = false
	if got := f.say(t, "scan repo file://"+outside); !strings.Contains(got, "file:// URLs are not allowed") {
		t.Errorf("file URL: %q", got)
	}
	// A symbolic link inside an allowed repository is not followed out
	// of it.
	os.Symlink(filepath.Join(outside, "secret.env"), filepath.Join(base, "app", "linked.env"))
	if got := f.everything(t, "scan repo "+filepath.Join(base, "app")); !strings.Contains(got, "No secrets found") {
		t.Errorf("a link out of the tree was followed:\n%s", got)
	}
	assertRedacted(t, "the log", logs.String())
}

func TestCVE(t *testing.T) {
	f, _ := repoFixture(t, t.TempDir())
	got := f.say(t, "cve cve-2026-90002")
	want := "TEST-2026-0002 (CVE-2026-90002): Test advisory: prototype pollution in merge\n  npm lodash: from 4.0.0, fixed in 4.17.21\n  npm @scope/merge: from 1.0.0, up to 1.2.0"
	if got != want {
		t.Errorf("cve:\n%s\nwant:\n%s", got, want)
	}
	if got := f.say(t, "cve CVE-1999-0001"); !strings.Contains(got, "is not in the vulnerability database (4 advisories)") {
		t.Errorf("unknown: %q", got)
	}
}
