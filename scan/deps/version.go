package deps

import (
	"strconv"
	"strings"
)

// Compare orders two versions as Go modules, npm and simple PEP 440
// versions order them, returning -1, 0 or +1. It reads a leading "v", a
// dotted release of numbers, then a pre-release ("-rc.1", "rc1", "a2",
// "-0.20210101-abcdef" for a Go pseudo-version), a post-release (".post1")
// or a development release (".dev3"); build metadata ("+meta") and a
// PEP 440 epoch are ignored. It is not a full implementation of any of
// the three schemes, but it orders the versions found in lock files and
// advisories the way each of them would.
func Compare(a, b string) int {
	va, vb := parseVersion(a), parseVersion(b)
	for i := range max(len(va.release), len(vb.release)) {
		if c := cmpInt(at(va.release, i), at(vb.release, i)); c != 0 {
			return c
		}
	}
	if c := cmpInt(va.kind, vb.kind); c != 0 {
		return c
	}
	return compareIdents(va.tag, vb.tag)
}

// The kinds of release, in the order they sort at the same release
// numbers: 1.0.dev1 < 1.0rc1 < 1.0 < 1.0.post1.
const (
	dev = iota
	pre
	final
	post
)

type version struct {
	release []int
	kind    int
	tag     string // what follows the release numbers, for ordering within kind
}

func parseVersion(s string) version {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "v")
	if _, rest, ok := strings.Cut(s, "!"); ok {
		s = rest
	}
	s, _, _ = strings.Cut(s, "+")
	v := version{kind: final}
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			break
		}
		n, _ := strconv.Atoi(s[i:j])
		v.release = append(v.release, n)
		i = j
		if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
			i++
			continue
		}
		break
	}
	rest := strings.TrimLeft(s[i:], ".-_")
	switch {
	case rest == "":
	case strings.HasPrefix(rest, "post"), strings.HasPrefix(rest, "rev"), strings.HasPrefix(rest, "r") && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9':
		v.kind, v.tag = post, strings.TrimLeft(rest, "postrev.-_")
	case strings.HasPrefix(rest, "dev"):
		v.kind, v.tag = dev, strings.TrimLeft(rest, "dev.-_")
	default:
		v.kind, v.tag = pre, rest
	}
	return v
}

func at(xs []int, i int) int {
	if i < len(xs) {
		return xs[i]
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareIdents orders pre-release tags as semver orders identifiers,
// splitting also where letters meet digits so that PEP 440's "rc10"
// follows "rc9": numbers numerically, numbers before words, words by
// their bytes, and a shorter list first.
func compareIdents(a, b string) int {
	ia, ib := idents(a), idents(b)
	for i := range min(len(ia), len(ib)) {
		x, y := ia[i], ib[i]
		nx, errx := strconv.Atoi(x)
		ny, erry := strconv.Atoi(y)
		var c int
		switch {
		case errx == nil && erry == nil:
			c = cmpInt(nx, ny)
		case errx == nil:
			c = -1
		case erry == nil:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(ia), len(ib))
}

func idents(s string) []string {
	var out []string
	start := 0
	digit := func(i int) bool { return s[i] >= '0' && s[i] <= '9' }
	for i := 0; i <= len(s); i++ {
		switch {
		case i == len(s), s[i] == '.' || s[i] == '-' || s[i] == '_':
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		case i > start && digit(i) != digit(i-1):
			out = append(out, s[start:i])
			start = i
		}
	}
	return out
}
