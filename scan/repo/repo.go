// Package repo decides which repositories the bot may read and fetches
// them: git URLs only from allowed hosts, local folders only under allowed
// base folders, and clones made by the git binary with an argv, a clean
// environment and a timeout.
package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ErrRefused is wrapped by every refusal; the error's text is one sentence
// for the user.
var ErrRefused = errors.New("repo: refused")

type refusal struct{ msg string }

func (r refusal) Error() string        { return r.msg }
func (r refusal) Is(target error) bool { return target == ErrRefused }

func refuse(format string, args ...any) error { return refusal{fmt.Sprintf(format, args...)} }

// Policy is what may be read.
type Policy struct {
	// AllowedHosts are the host names git URLs may name, exactly.
	AllowedHosts []string
	// AllowFileURLs lets file:// URLs through, which read the bot's own
	// disk; off unless configured.
	AllowFileURLs bool
	// Paths are the folders under which local repositories may be read.
	Paths []string
}

// scpLike is git's short SSH form, user@host:path.
var scpLike = regexp.MustCompile(`^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):([^/].*|/.+)$`)

// urlLike is a scheme followed by ://.
var urlLike = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)$`)

// IsURL reports whether s is written as a git URL rather than a path.
func IsURL(s string) bool { return urlLike.MatchString(s) || scpLike.MatchString(s) }

// CheckURL approves a git URL: https, ssh or git on an allowed host,
// without a password in it, or file:// when allowed. It returns the URL
// to clone.
func (p Policy) CheckURL(raw string) (string, error) {
	if raw == "" || strings.HasPrefix(raw, "-") || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", refuse("%q is not a git URL.", raw)
	}
	if m := scpLike.FindStringSubmatch(raw); m != nil && !urlLike.MatchString(raw) {
		return raw, p.checkHost(m[2])
	}
	m := urlLike.FindStringSubmatch(raw)
	if m == nil {
		return "", refuse("%q is not a git URL; give one such as https://github.com/org/repo.git.", raw)
	}
	scheme, authority := strings.ToLower(m[1]), m[2]
	user, host, hasUser := strings.Cut(authority, "@")
	if !hasUser {
		host, user = authority, ""
	}
	switch scheme {
	case "file":
		if !p.AllowFileURLs {
			return "", refuse("file:// URLs are not allowed here; an admin allows them with scan.repo.allow_file_urls.")
		}
		if authority != "" && authority != "localhost" {
			return "", refuse("A file:// URL names no host; write it as file:///path/to/repo.")
		}
		return raw, nil
	case "https", "ssh", "git":
	default:
		return "", refuse("%s URLs are not allowed; use https or ssh.", scheme)
	}
	if strings.Contains(user, ":") || (hasUser && scheme != "ssh") {
		return "", refuse("Leave credentials out of the URL; the bot clones public or deploy-key access only.")
	}
	if h, port, ok := strings.Cut(host, ":"); ok && port != "" {
		host = h
	}
	return raw, p.checkHost(host)
}

func (p Policy) checkHost(host string) error {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !slices.ContainsFunc(p.AllowedHosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		if len(p.AllowedHosts) == 0 {
			return refuse("No git hosts are allowed; an admin lists them under scan.repo.allowed_hosts.")
		}
		return refuse("%s is not an allowed git host; allowed are %s.", host, strings.Join(p.AllowedHosts, ", "))
	}
	return nil
}

// CheckPath approves a local folder: an absolute path that, with every
// symbolic link resolved, is a folder under one of the allowed bases. It
// returns the resolved path, which is what must be read.
func (p Policy) CheckPath(raw string) (string, error) {
	if len(p.Paths) == 0 {
		return "", refuse("No local folders may be scanned; an admin lists them under scan.repo.paths.")
	}
	if !filepath.IsAbs(raw) {
		return "", refuse("%q is not an absolute path; give one under %s.", raw, strings.Join(p.Paths, ", "))
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(raw))
	if err != nil {
		return "", refuse("%s does not exist or cannot be read.", raw)
	}
	for _, base := range p.Paths {
		rb, err := filepath.EvalSymlinks(base)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(rb, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			if info, err := os.Stat(real); err != nil || !info.IsDir() {
				return "", refuse("%s is not a folder.", raw)
			}
			return real, nil
		}
	}
	return "", refuse("%s is outside the folders that may be scanned (%s).", raw, strings.Join(p.Paths, ", "))
}

// CloneOptions tune Clone.
type CloneOptions struct {
	// Git is the git binary; empty looks it up in PATH.
	Git string
	// Timeout bounds the clone; zero means 2 minutes.
	Timeout time.Duration
	// AllowFile lets git itself use the file transport.
	AllowFile bool
}

// Clone makes a shallow clone of url, which the caller approved, in dst,
// which must not exist. git runs with its own empty home, no system
// configuration, no template hooks and no prompts, and may use only the
// transports the policy allows.
func Clone(ctx context.Context, url, dst string, o CloneOptions) error {
	bin := o.Git
	if bin == "" {
		bin = "git"
	}
	bin, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("repo: git is not installed: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	home, err := os.MkdirTemp("", "seipbot-git-home-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	protocols := "https:ssh:git"
	if o.AllowFile {
		protocols += ":file"
	}
	// --template= keeps any hooks of a template folder out of the clone;
	// "--" ends the options, so no URL can be read as one.
	cmd := exec.CommandContext(ctx, bin, "clone", "--depth", "1", "--no-tags", "--quiet", "--template=", "--", url, dst)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "LC_ALL=C",
		"GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_ALLOW_PROTOCOL=" + protocols,
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes", "GIT_LFS_SKIP_SMUDGE=1",
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("repo: clone stopped after %s: %w", o.Timeout, ctx.Err())
		}
		return &CloneError{Reason: lastLine(stderr.String()), Err: err}
	}
	return nil
}

// CloneError is a clone git refused or failed; Reason is git's last line
// of complaint, such as "fatal: repository '…' not found".
type CloneError struct {
	Reason string
	Err    error
}

func (e *CloneError) Error() string { return "repo: clone failed: " + e.Reason }
func (e *CloneError) Unwrap() error { return e.Err }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}
