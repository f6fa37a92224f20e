package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one word of a command line and where it starts in the line, so
// a rest-of-line argument can take the text exactly as typed.
type token struct {
	text  string
	start int
}

// tokenize splits a command line into words the way a shell would quote
// them, and does nothing else: no expansion, no substitution, no operators.
// "two words" and 'two words' are one word; a backslash escapes the next
// character outside single quotes. Chat clients' curly quotes count as
// straight ones, since users rarely get to choose which they type.
func tokenize(s string) ([]token, error) {
	if !hasQuoting(s) {
		return splitPlain(s), nil
	}
	var (
		toks  []token
		b     strings.Builder
		in    bool // inside a word
		start int
		quote rune // the open quote, or 0
	)
	flush := func() {
		toks = append(toks, token{text: b.String(), start: start})
		b.Reset()
		in = false
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case quote == '\'':
			if isSingleQuote(r) {
				quote = 0
			} else {
				b.WriteRune(r)
			}
		case quote == '"':
			switch {
			case isDoubleQuote(r):
				quote = 0
			case r == '\\' && i+size < len(s) && (s[i+size] == '"' || s[i+size] == '\\'):
				b.WriteByte(s[i+size])
				size++
			default:
				b.WriteRune(r)
			}
		case unicode.IsSpace(r):
			if in {
				flush()
			}
		default:
			if !in {
				in, start = true, i
			}
			switch {
			case isDoubleQuote(r):
				quote = '"'
			case isSingleQuote(r):
				quote = '\''
			case r == '\\' && i+size < len(s):
				next, n := utf8.DecodeRuneInString(s[i+size:])
				b.WriteRune(next)
				size += n
			default:
				b.WriteRune(r)
			}
		}
		i += size
	}
	if quote != 0 {
		return nil, &UserError{Msg: "There is an unclosed quote in that command; close it or remove it and try again."}
	}
	if in {
		flush()
	}
	return toks, nil
}

// splitPlain is tokenize for lines without quotes or backslashes, the common
// case, without copying any word. It counts the words first, so that every
// addressed line costs one allocation rather than one per doubling.
func splitPlain(s string) []token {
	n, in := 0, false
	for i := 0; i < len(s); {
		space, size := spaceAt(s, i)
		if !space && !in {
			n++
		}
		in = !space
		i += size
	}
	if n == 0 {
		return nil
	}
	toks := make([]token, 0, n)
	start := -1
	for i := 0; i < len(s); {
		space, size := spaceAt(s, i)
		if space {
			if start >= 0 {
				toks = append(toks, token{text: s[start:i], start: start})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		toks = append(toks, token{text: s[start:], start: start})
	}
	return toks
}

// spaceAt reports whether s has a space (as unicode.IsSpace says) at byte
// i, and the width of the character there; ASCII, nearly every byte of a
// chat line, is decided without decoding.
func spaceAt(s string, i int) (bool, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return c == ' ' || '\t' <= c && c <= '\r', 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r), size
}

// hasQuoting reports whether s holds a quote, straight or curly, or a
// backslash, as strings.ContainsAny with those characters would. It loops
// over bytes because ContainsAny, given non-ASCII characters, decodes
// every rune of s and compares it with each of them: 3% of the CPU of the
// shell benchmark.
func hasQuoting(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '\\':
			return true
		case 0xe2: // U+2018, U+2019, U+201C and U+201D are e2 80 98, 99, 9c and 9d
			if i+2 < len(s) && s[i+1] == 0x80 {
				switch s[i+2] {
				case 0x98, 0x99, 0x9c, 0x9d:
					return true
				}
			}
		}
	}
	return false
}

func isDoubleQuote(r rune) bool { return r == '"' || r == '\u201c' || r == '\u201d' }
func isSingleQuote(r rune) bool { return r == '\'' || r == '\u2018' || r == '\u2019' }
