// Package secrets finds credentials committed to a source tree: cloud and
// chat tokens with a known shape, private key blocks, and high-entropy
// strings assigned to names that sound secret.
//
// A Finding says where a secret is and which rule found it, with a
// fingerprint to tell findings apart, and never holds the secret itself:
// what this package returns can go to a chat room, a log or a job record
// without leaking what it found.
package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// IgnoreFile is the file at the top of a tree that lists what not to report.
const IgnoreFile = ".seipbotignore"

// Finding is one secret found. It has no field for the secret.
type Finding struct {
	File string // slash-separated, relative to the tree's top
	Line int
	Rule string
	// Fingerprint identifies the secret (rule and value) without
	// revealing it: the same secret has the same fingerprint in every
	// file and every scan.
	Fingerprint string
}

// Rule is one kind of secret.
type Rule struct {
	ID string
	re *regexp.Regexp
	// group is the submatch holding the secret; 0 is the whole match.
	group int
	// minEntropy, when set, keeps only values at least that random, in
	// bits per character, so placeholders and words are not reported.
	minEntropy float64
}

// Rules returns the rules Scan applies, in the order a value is claimed: a
// value matched by a rule with a known shape is not reported again as a
// generic one. They are compiled at first use, not at start-up: most runs
// of the bot never scan a repository.
var Rules = sync.OnceValue(func() []Rule {
	return []Rule{
		{ID: "aws-access-key-id", re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)},
		{ID: "aws-secret-access-key", re: regexp.MustCompile(`(?i)aws[a-z0-9_.-]{0,20}?secret[a-z0-9_.-]{0,20}["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)`), group: 1},
		{ID: "github-token", re: regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36}\b`)},
		{ID: "github-fine-grained-token", re: regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b`)},
		{ID: "gitlab-token", re: regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20}\b`)},
		{ID: "slack-token", re: regexp.MustCompile(`\bxox[bp]-[0-9]{8,}-[A-Za-z0-9-]{16,}`)},
		{ID: "slack-app-token", re: regexp.MustCompile(`\bxapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]{16,}`)},
		{ID: "slack-webhook", re: regexp.MustCompile(`https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}`)},
		// The body's first run of base64 identifies the key; a header alone,
		// as in documentation, is not a key.
		{ID: "private-key", re: regexp.MustCompile(`-----BEGIN[ A-Z]{0,24}PRIVATE KEY(?: BLOCK)?-----\s*((?:[A-Za-z-]+:[^\n]*\n\s*)*[A-Za-z0-9+/=]{32,})`), group: 1},
		{
			ID:    "generic-secret",
			re:    regexp.MustCompile(`(?i)[a-z0-9_.-]*(?:secret|passw(?:or)?d|pwd|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)[a-z0-9_.-]*["']?[ \t]*(?::=|[:=])[ \t]*["']?([A-Za-z0-9+/=_.~!@#$%^&*-]{16,})`),
			group: 1, minEntropy: 3.5,
		},
	}
})

// Options bound a scan.
type Options struct {
	// MaxFileBytes skips larger files; zero means 1 MiB.
	MaxFileBytes int64
	// MaxBytes stops reading once this much has been read in all; zero
	// means no limit.
	MaxBytes int64
}

// Result is what a scan found and what it left out.
type Result struct {
	Findings []Finding
	Files    int // files read
	// Skipped counts files not read: binary, too large, links, or past
	// MaxBytes.
	Skipped int
	// Truncated is set when MaxBytes stopped the scan early.
	Truncated bool
	// Ignored counts findings the ignore file silenced.
	Ignored int
}

// skipDirs are never worth reading: git's own objects, and installed
// third-party code, which is not the team's to fix.
var skipDirs = []string{".git", "node_modules"}

// Scan reads every regular file in fsys and reports the secrets in them.
// Symbolic links are not followed, so a link cannot lead the scan out of
// the tree.
func Scan(fsys fs.FS, o Options) (*Result, error) {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 1 << 20
	}
	ign, err := loadIgnore(fsys)
	if err != nil {
		return nil, err
	}
	r := &Result{}
	var total int64
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (slices.Contains(skipDirs, d.Name()) || ign.path(p)) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || ign.path(p) {
			r.Skipped++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > o.MaxFileBytes {
			r.Skipped++
			return nil
		}
		if o.MaxBytes > 0 && total+info.Size() > o.MaxBytes {
			r.Skipped++
			r.Truncated = true
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		total += int64(len(data))
		if isBinary(data) {
			r.Skipped++
			return nil
		}
		r.Files++
		for _, f := range ScanText(p, data) {
			if ign.finding(f) {
				r.Ignored++
				continue
			}
			r.Findings = append(r.Findings, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// isBinary looks for a NUL byte near the start, as git does.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0
}

// ScanText reports the secrets in one file's contents, named file.
func ScanText(file string, data []byte) []Finding {
	var out []Finding
	var claimed [][2]int // spans of secrets already reported
	for _, rule := range Rules() {
		for _, m := range rule.re.FindAllSubmatchIndex(data, -1) {
			start, end := m[2*rule.group], m[2*rule.group+1]
			value := data[start:end]
			if rule.minEntropy > 0 && (entropy(value) < rule.minEntropy || placeholder(value)) {
				continue
			}
			if slices.ContainsFunc(claimed, func(s [2]int) bool { return start < s[1] && s[0] < end }) {
				continue
			}
			claimed = append(claimed, [2]int{start, end})
			out = append(out, Finding{
				File: file, Line: 1 + bytes.Count(data[:start], []byte("\n")),
				Rule: rule.ID, Fingerprint: fingerprint(rule.ID, value),
			})
		}
	}
	slices.SortFunc(out, func(a, b Finding) int { return a.Line - b.Line })
	return out
}

// fingerprint is a short hash of the rule and the secret: long enough to
// tell secrets apart, too short and salted by the rule to help anyone
// guess one.
func fingerprint(rule string, value []byte) string {
	h := sha256.New()
	h.Write([]byte(rule + "\x00"))
	h.Write(value)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s []byte) float64 {
	var counts [256]int
	for _, c := range s {
		counts[c]++
	}
	var h float64
	for _, n := range counts {
		if n > 0 {
			p := float64(n) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// placeholder recognises values that stand in for a secret in examples
// and templates.
func placeholder(v []byte) bool {
	s := strings.ToLower(string(v))
	for _, w := range []string{"example", "changeme", "placeholder", "xxxxxx", "your_", "your-", "dummy", "redacted"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// ignore is a parsed ignore file: path globs, and rule:glob pairs that
// silence one rule on matching paths.
type ignore struct {
	globs []string
	rules map[string][]string
}

// loadIgnore reads the ignore file at the top of fsys, if there is one.
// A line is a comment (#), a path glob ("testdata/*", "*.pem", "docs/"),
// or rule:glob ("generic-secret:config/dev.yaml").
func loadIgnore(fsys fs.FS) (*ignore, error) {
	ign := &ignore{rules: map[string][]string{}}
	data, err := fs.ReadFile(fsys, IgnoreFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ign, nil
		}
		return nil, err
	}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rule, glob, ok := strings.Cut(line, ":"); ok && knownRule(rule) {
			ign.rules[rule] = append(ign.rules[rule], glob)
			continue
		}
		ign.globs = append(ign.globs, line)
	}
	return ign, nil
}

func knownRule(id string) bool {
	return slices.ContainsFunc(Rules(), func(r Rule) bool { return r.ID == id })
}

func (ign *ignore) path(p string) bool { return matchAny(ign.globs, p) }

func (ign *ignore) finding(f Finding) bool {
	return ign.path(f.File) || matchAny(ign.rules[f.Rule], f.File)
}

// matchAny reports whether p matches one of globs, as gitignore reads
// them: a glob without a slash matches a name at any depth, one ending in
// a slash matches a folder and all below it, and any glob matches the
// folders above what it names.
func matchAny(globs []string, p string) bool {
	for _, g := range globs {
		g = strings.TrimPrefix(g, "/")
		if dir, ok := strings.CutSuffix(g, "/"); ok {
			g = dir
		}
		if !strings.Contains(g, "/") {
			for part := range strings.SplitSeq(p, "/") {
				if ok, _ := path.Match(g, part); ok {
					return true
				}
			}
			continue
		}
		for q := p; q != "." && q != "/"; q = path.Dir(q) {
			if ok, _ := path.Match(g, q); ok {
				return true
			}
		}
	}
	return false
}
