package bot

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hear is a pattern the bot listens for in conversation, whether or not the
// message is addressed to it.
type Hear struct {
	// Name identifies the pattern in help and audit records.
	Name    string
	Pattern string
	Help    string
	// Addressed patterns match only messages addressed to the bot (small
	// talk); others hear every message in rooms the bot may read.
	Addressed bool
	// Permission and Sensitive work as for Command.
	Permission string
	Sensitive  bool
	Handler    Handler

	Plugin string
	re     *regexp.Regexp
	chain  Handler
}

// hearIndex finds the hear patterns that may match a line without running
// every regular expression: Go's regexp engine is slow on unanchored,
// case-insensitive patterns, so each pattern contributes the longest literal
// it cannot match without, and one pass of an Aho-Corasick automaton over
// the line, folding ASCII case, names the candidates. Patterns with no
// usable literal are always tried.
type hearIndex struct {
	hears  []*Hear
	always []int32 // patterns without a literal
	// lead holds, for each pattern anchored at the start of the text
	// (such as small talk's ^(hi|hello|…)$), the bytes its matches can
	// begin with; nil for the others. Such a pattern rarely has a literal
	// the automaton could find, but a line's first byte rules it out.
	lead []*byteSet

	class   [256]uint8 // byte → input class, ASCII case folded
	nclass  int
	delta   []int32   // state*nclass+class → next state
	outputs [][]int32 // state → patterns whose literal ends here
}

func buildHearIndex(hears []*Hear) *hearIndex {
	ix := &hearIndex{hears: hears, lead: make([]*byteSet, len(hears))}
	var lits []string
	var litPattern []int32
	for i, h := range hears {
		re := simplified(h.Pattern)
		ix.lead[i] = leadBytes(re)
		lit := requiredLiteral(re)
		if len(lit) < 2 {
			ix.always = append(ix.always, int32(i))
			continue
		}
		lits = append(lits, lit)
		litPattern = append(litPattern, int32(i))
	}
	ix.build(lits, litPattern)
	return ix
}

func foldByte(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// build makes the automaton's full transition table, so matching is one
// table lookup per byte.
func (ix *hearIndex) build(lits []string, pattern []int32) {
	// Class 0 is every byte that occurs in no literal.
	ix.nclass = 1
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			b := foldByte(l[i])
			if ix.class[b] == 0 {
				ix.class[b] = uint8(ix.nclass)
				ix.nclass++
			}
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		ix.class[b] = ix.class[b+'a'-'A']
	}
	// Trie of the literals.
	type node struct{ next map[uint8]int32 }
	trie := []node{{next: map[uint8]int32{}}}
	ix.outputs = [][]int32{nil}
	for k, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := ix.class[l[i]]
			nx, ok := trie[s].next[c]
			if !ok {
				nx = int32(len(trie))
				trie = append(trie, node{next: map[uint8]int32{}})
				ix.outputs = append(ix.outputs, nil)
				trie[s].next[c] = nx
			}
			s = nx
		}
		ix.outputs[s] = append(ix.outputs[s], pattern[k])
	}
	// Breadth-first: each state's transitions are its trie edges, else its
	// failure state's transitions; outputs gather along failure links.
	n := ix.nclass
	ix.delta = make([]int32, len(trie)*n)
	fail := make([]int32, len(trie))
	queue := []int32{}
	for c := 0; c < n; c++ {
		if nx, ok := trie[0].next[uint8(c)]; ok {
			ix.delta[c] = nx
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		ix.outputs[s] = append(ix.outputs[s], ix.outputs[fail[s]]...)
		for c := 0; c < n; c++ {
			if nx, ok := trie[s].next[uint8(c)]; ok {
				fail[nx] = ix.delta[int(fail[s])*n+c]
				ix.delta[int(s)*n+c] = nx
				queue = append(queue, nx)
			} else {
				ix.delta[int(s)*n+c] = ix.delta[int(fail[s])*n+c]
			}
		}
	}
}

// candidates appends to dst the indexes of the patterns that may match
// text, in registration order, each once.
func (ix *hearIndex) candidates(dst []int32, text string) []int32 {
	dst = append(dst, ix.always...)
	if len(ix.delta) > 0 {
		s := int32(0)
		n := int32(ix.nclass)
		for i := 0; i < len(text); i++ {
			s = ix.delta[s*n+int32(ix.class[text[i]])]
			for _, p := range ix.outputs[s] {
				if !slices.Contains(dst, p) {
					dst = append(dst, p)
				}
			}
		}
	}
	slices.Sort(dst)
	return dst
}

// tryable reports whether pattern i, a candidate for a line, can match
// text, the part of the line it is run on: false only when text does not
// begin with a byte the pattern's matches begin with.
func (ix *hearIndex) tryable(i int32, text string) bool {
	lead := ix.lead[i]
	return lead == nil || (len(text) > 0 && lead.has(text[0]))
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) addRange(lo, hi int) {
	for b := lo; b <= hi; b++ {
		s.add(byte(b))
	}
}

// simplified parses pattern as regexp does and simplifies it, for the
// index to read its literals and first bytes from; nil if it does not
// parse.
func simplified(pattern string) *syntax.Regexp {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	return re.Simplify()
}

// leadBytes returns the bytes every match of re begins with, when re is
// anchored at the start of the text and cannot match the empty string;
// otherwise (and for a nil re) nil.
func leadBytes(re *syntax.Regexp) *byteSet {
	if re == nil || !anchoredAtStart(re) {
		return nil
	}
	var set byteSet
	if nullable, ok := addFirst(&set, re); !ok || nullable {
		return nil
	}
	return &set
}

// anchoredAtStart reports whether re matches only at the start of the
// text: it begins with \A, or with ^ outside multi-line mode.
func anchoredAtStart(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginText:
		return true
	case syntax.OpCapture:
		return anchoredAtStart(re.Sub[0])
	case syntax.OpConcat:
		return len(re.Sub) > 0 && anchoredAtStart(re.Sub[0])
	}
	return false
}

// addFirst adds to set the first bytes of re's non-empty matches, and
// reports whether re can match the empty string and whether the bytes
// could be bounded at all (not for ., which matches any byte). A rune
// beyond ASCII, or one that folds to one, adds every byte from 0x80: the
// engine also reads an invalid byte there as U+FFFD.
func addFirst(set *byteSet, re *syntax.Regexp) (nullable, ok bool) {
	switch re.Op {
	case syntax.OpNoMatch:
		return false, true
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true, true
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return true, true
		}
		r := re.Rune[0]
		addRune(set, r)
		if re.Flags&syntax.FoldCase != 0 {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				addRune(set, f)
			}
		}
		return false, true
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo < utf8.RuneSelf {
				set.addRange(int(lo), int(min(hi, utf8.RuneSelf-1)))
			}
			if hi >= utf8.RuneSelf {
				set.addRange(utf8.RuneSelf, 0xff)
			}
		}
		return false, true
	case syntax.OpCapture:
		return addFirst(set, re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		_, ok := addFirst(set, re.Sub[0])
		return true, ok
	case syntax.OpPlus:
		return addFirst(set, re.Sub[0])
	case syntax.OpRepeat:
		nullable, ok := addFirst(set, re.Sub[0])
		return nullable || re.Min == 0, ok
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			nullable, ok := addFirst(set, sub)
			if !ok || !nullable {
				return false, ok
			}
		}
		return true, true
	case syntax.OpAlternate:
		nullable := false
		for _, sub := range re.Sub {
			n, ok := addFirst(set, sub)
			if !ok {
				return false, false
			}
			nullable = nullable || n
		}
		return nullable, true
	}
	return false, false // ., or anything not handled above
}

func addRune(set *byteSet, r rune) {
	if r < utf8.RuneSelf {
		set.add(byte(r))
	} else {
		set.addRange(utf8.RuneSelf, 0xff)
	}
}

// requiredLiteral returns, in lower case, the longest ASCII string that
// every match of re contains, or "" when there is none (or re is nil).
func requiredLiteral(re *syntax.Regexp) string {
	if re == nil {
		return ""
	}
	return strings.ToLower(longestRequired(re))
}

func longestRequired(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		// The automaton folds ASCII case only, so the literal stops at any
		// letter that matches beyond ASCII: a non-ASCII one, and, without
		// case, k and s, which also match the Kelvin sign and the long s.
		// The longest piece between such letters is still required.
		best, start := "", 0
		for i, r := range re.Rune {
			if r < utf8.RuneSelf && (re.Flags&syntax.FoldCase == 0 || !foldsBeyondASCII(r)) {
				continue
			}
			if piece := string(re.Rune[start:i]); len(piece) > len(best) {
				best = piece
			}
			start = i + 1
		}
		if piece := string(re.Rune[start:]); len(piece) > len(best) {
			best = piece
		}
		return best
	case syntax.OpCapture, syntax.OpPlus:
		return longestRequired(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return longestRequired(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if l := longestRequired(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

// foldsBeyondASCII reports whether the ASCII rune r matches, case
// ignored, some rune outside ASCII.
func foldsBeyondASCII(r rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// compile checks a hear declaration and compiles its pattern.
func (h *Hear) compile() error {
	if h.Handler == nil {
		return fmt.Errorf("hear %q has no handler", h.Name)
	}
	re, err := regexp.Compile(h.Pattern)
	if err != nil {
		return fmt.Errorf("hear %q: pattern %q does not compile: %w", h.Name, h.Pattern, err)
	}
	h.re = re
	return nil
}
