package bot

import (
	"math/bits"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTokenize checks the tokenizer against what its callers rely on:
// word starts that point into the line in order (Rest arguments slice the
// line there), plain lines split exactly as strings.Fields, and words that
// come back unchanged when written again with every character escaped.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{
		"", "ping", "  remind me  in 10m to  stretch ", `say "two words" 'and more'`,
		`back\ slash \"quoted\"`, "curly \u201cquotes\u201d and \u2018single\u2019", `"unclosed`,
		`''`, `a\`, "tab\tand\u00a0nbsp", `"esc \\ and \" in double"`, "\xff\xfe bad utf8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if got, want := hasQuoting(line), strings.ContainsAny(line, "\"'\\\u201c\u201d\u2018\u2019"); got != want {
			t.Fatalf("hasQuoting(%q) = %v, strings.ContainsAny says %v", line, got, want)
		}
		toks, err := tokenize(line)
		if err != nil {
			if !strings.ContainsAny(line, "\"'\u201c\u201d\u2018\u2019") {
				t.Fatalf("tokenize(%q): %v, but the line has no quote to leave open", line, err)
			}
			return
		}
		last := -1
		for _, tk := range toks {
			if tk.start <= last || tk.start >= len(line) {
				t.Fatalf("tokenize(%q): word %q starts at %d after %d, in a line of %d bytes", line, tk.text, tk.start, last, len(line))
			}
			last = tk.start
		}
		if !strings.ContainsAny(line, "\"'\\\u201c\u201d\u2018\u2019") {
			if got, want := tokenTexts(toks), strings.Fields(line); !slices.Equal(got, want) {
				t.Fatalf("tokenize(%q) = %q, strings.Fields = %q", line, got, want)
			}
			return
		}
		if !utf8.ValidString(line) {
			// Invalid bytes in quoted lines come out as U+FFFD, so the words
			// are not the line's bytes to escape again.
			return
		}
		var b strings.Builder
		for _, tk := range toks {
			b.WriteString(escapeWord(tk.text))
			b.WriteByte(' ')
		}
		again, err := tokenize(b.String())
		if err != nil {
			t.Fatalf("tokenize(%q) = %q; escaped again as %q it fails: %v", line, tokenTexts(toks), b.String(), err)
		}
		if !slices.Equal(tokenTexts(again), tokenTexts(toks)) {
			t.Fatalf("tokenize(%q) = %q; escaped again as %q it reads %q", line, tokenTexts(toks), b.String(), tokenTexts(again))
		}
	})
}

func tokenTexts(toks []token) []string {
	out := make([]string, 0, len(toks))
	for _, tk := range toks {
		out = append(out, tk.text)
	}
	return out
}

// escapeWord writes w so that tokenize reads it back as one word: every
// character escaped with a backslash, and an empty word as ”.
func escapeWord(w string) string {
	if w == "" {
		return "''"
	}
	var b strings.Builder
	for _, r := range w {
		b.WriteByte('\\')
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzEditDistance compares the bounded, early-stopping distance used for
// suggestions with a plain full-table computation of the same
// optimal-string-alignment distance.
func FuzzEditDistance(f *testing.F) {
	f.Add("pnig", "ping", 1)
	f.Add("REMIND", "remind", 0)
	f.Add("scna", "scan", 2)
	f.Add("a-very-long-command-word-beyond-thirty-two", "a-very-long-command-word-beyond-thirty-three", 2)
	f.Add("", "help", 2)
	f.Fuzz(func(t *testing.T, a, b string, limit int) {
		if len(a) > 64 || len(b) > 64 || limit < -1 || limit > 4 {
			return
		}
		// Callers pass command words, which are lower case.
		b = strings.ToLower(b)
		got := editDistance(a, b, limit)
		if !isASCII(a) || !isASCII(b) {
			// A fast path takes words equal under Unicode case folding
			// ("ſcan", with a long s) for equal, which bytes do not show.
			if got < 0 || got > max(limit+1, 1) {
				t.Fatalf("editDistance(%q, %q, %d) = %d, outside 0..%d", a, b, limit, got, limit+1)
			}
			return
		}
		want := min(osaDistance(a, b), limit+1)
		if limit < 0 {
			want = 1
		}
		if got != want {
			t.Fatalf("editDistance(%q, %q, %d) = %d, want %d", a, b, limit, got, want)
		}
		// suggest skips words whose masks differ by more than the limit,
		// which is right only if that difference never exceeds the
		// distance.
		ma, mb := letterMask(a), letterMask(b)
		if lb := max(bits.OnesCount64(ma&^mb), bits.OnesCount64(mb&^ma)); lb > osaDistance(a, b) {
			t.Fatalf("letterMask bound %d exceeds the distance %d of %q and %q", lb, osaDistance(a, b), a, b)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// osaDistance is the textbook optimal-string-alignment distance over bytes,
// folding a's ASCII case as editDistance does.
func osaDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if foldByte(a[i-1]) == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && foldByte(a[i-1]) == b[j-2] && foldByte(a[i-2]) == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// FuzzHearPrefilter checks that the literal prefilter never hides a match:
// whenever a pattern matches a line, the index names it as a candidate.
func FuzzHearPrefilter(f *testing.F) {
	f.Add(`\bINC-(\d+)\b`, "see inc-42 now")
	f.Add(`(?i)https?://svc-4\.example\.com/(\S+)`, "logs: HTTPS://SVC-4.example.com/today")
	f.Add(`(?i)\bthanks?\b`, "THANK you")
	f.Add(`deploy(ed)?\s+to\s+prod`, "deployed  to prod")
	f.Add(`(?i)kubectl`, "KUBECTL get pods")
	f.Add(`x{2,}yz`, "xxxyz")
	f.Add(`(?i)^(hi|hello|good (morning|day))( there)?[\s!.,]*$`, "Good morning!")
	f.Add(`(?i)^(thanks|thx|ty)?\s*!`, " !")
	f.Add(`^(?:[a-c]|\x{212A})+$`, "\u212a")
	f.Add(`(?i)^k+`, "\u212a")
	f.Add(`^\x{FFFD}`, "\xff")
	f.Add(`(?m)^deploy`, "x\ndeploy")
	f.Fuzz(func(t *testing.T, pattern, line string) {
		re, err := regexp.Compile(pattern)
		if err != nil || !re.MatchString(line) {
			return
		}
		h := &Hear{Name: "h", Pattern: pattern, re: re}
		ix := buildHearIndex([]*Hear{h})
		if !slices.Contains(ix.candidates(nil, line), 0) {
			t.Fatalf("pattern %q matches %q, but its prefilter literal %q kept it from being tried", pattern, line, requiredLiteral(simplified(pattern)))
		}
		if !ix.tryable(0, line) {
			t.Fatalf("pattern %q matches %q, but its first byte %q is not among those it begins with", pattern, line, line[:1])
		}
	})
}
