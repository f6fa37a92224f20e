package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/scan/repo/repotest"
)

func TestCheckURL(t *testing.T) {
	p := Policy{AllowedHosts: []string{"github.com", "git.corp.example"}}
	for raw, want := range map[string]string{
		"https://github.com/org/repo.git":          "",
		"https://GitHub.com:443/org/repo":          "",
		"ssh://git@git.corp.example/team/app.git":  "",
		"git@github.com:org/repo.git":              "",
		"https://gitlab.com/org/repo.git":          "gitlab.com is not an allowed git host",
		"git@evil.example:org/repo.git":            "evil.example is not an allowed git host",
		"https://user:tok@github.com/org/repo.git": "Leave credentials out",
		"https://tok@github.com/org/repo.git":      "Leave credentials out",
		"http://github.com/org/repo.git":           "http URLs are not allowed",
		"ext::sh -c touch% /tmp/pwned":             "is not a git URL",
		"--upload-pack=touch /tmp/x":               "is not a git URL",
		"file:///srv/repos/app":                    "file:// URLs are not allowed",
		"https://github.com/org/repo\n":            "is not a git URL",
	} {
		_, err := p.CheckURL(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q refused: %v", raw, err)
		case want != "" && (err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want %q", raw, err, want)
		}
	}
	p.AllowFileURLs = true
	if _, err := p.CheckURL("file:///srv/repos/app"); err != nil {
		t.Error(err)
	}
	if _, err := p.CheckURL("file://evil.example/srv"); err == nil {
		t.Error("a file URL with a host was allowed")
	}
}

func TestCheckPath(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "repos")
	outside := filepath.Join(root, "secret")
	for _, d := range []string{filepath.Join(base, "app", "src"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(base, "app", "README"), nil, 0o644)
	if err := os.Symlink(outside, filepath.Join(base, "escape")); err != nil {
		t.Fatal(err)
	}
	p := Policy{Paths: []string{base}}
	for raw, want := range map[string]string{
		filepath.Join(base, "app"):              "",
		filepath.Join(base, "app", "src", ".."): "",
		base + "/app/../../secret":              "is outside the folders",
		outside:                                 "is outside the folders",
		filepath.Join(base, "escape"):           "is outside the folders",
		filepath.Join(base, "app", "README"):    "is not a folder",
		filepath.Join(base, "missing"):          "does not exist",
		"app":                                   "is not an absolute path",
		base + "/../repos-evil":                 "does not exist",
	} {
		got, err := p.CheckPath(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q refused: %v", raw, err)
		case want == "" && !strings.HasPrefix(got, base) && !strings.Contains(got, "repos"):
			t.Errorf("%q resolved to %q", raw, got)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want %q", raw, err, want)
		}
	}
}

func TestClone(t *testing.T) {
	src := repotest.New(t, map[string]string{"README.md": "hello\n"})
	dst := filepath.Join(t.TempDir(), "clone")
	ctx := context.Background()
	if err := Clone(ctx, "file://"+src, dst, CloneOptions{AllowFile: true}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || string(b) != "hello\n" {
		t.Errorf("clone has %q, %v", b, err)
	}
	// Without the file transport allowed, git itself refuses.
	err := Clone(ctx, "file://"+src, filepath.Join(t.TempDir(), "c2"), CloneOptions{})
	var ce *CloneError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "transport 'file' not allowed") {
		t.Errorf("file transport not refused: %v", err)
	}
}
