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
	if !strings.ContainsAny(s, "\"'\\\u201c\u201d\u2018\u2019") {
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
	for _, r := range s {
		space := unicode.IsSpace(r)
		if !space && !in {
			n++
		}
		in = !space
	}
	if n == 0 {
		return nil
	}
	toks := make([]token, 0, n)
	start := -1
	for i, r := range s {
		if unicode.IsSpace(r) {
			if start >= 0 {
				toks = append(toks, token{text: s[start:i], start: start})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		toks = append(toks, token{text: s[start:], start: start})
	}
	return toks
}

func isDoubleQuote(r rune) bool { return r == '"' || r == '\u201c' || r == '\u201d' }
func isSingleQuote(r rune) bool { return r == '\'' || r == '\u2018' || r == '\u2019' }
