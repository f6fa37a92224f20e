package irc

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxLine is the protocol's limit on a line as the server relays it to
// others: source prefix, command, target, text and CRLF (RFC 1459 §2.3).
const maxLine = 512

// bold toggles bold in the formatting codes every common client shows.
const bold = "\x02"

// inline matches the bot's inline markup: `code`, **bold** and [text](url).
var inline = regexp.MustCompile("`([^`]+)`|\\*\\*(.+?)\\*\\*|\\[([^\\]]+)\\]\\(([^)\\s]+)\\)")

// render turns the bot's markup into the IRC lines to send: bold as the
// bold code, code blocks and inline code as plain text (IRC has no
// monospace that clients agree on), links as "text (url)". Empty lines are
// left out, since IRC cannot send them.
func render(text string) []string {
	// \r and NUL would let a reply inject protocol lines; \n splits lines.
	text = strings.NewReplacer("\r", "", "\x00", "").Replace(text)
	var out []string
	for i, seg := range strings.Split(text, "```") {
		if i%2 == 1 {
			out = append(out, codeLines(seg)...)
			continue
		}
		seg = inline.ReplaceAllStringFunc(seg, func(m string) string {
			sub := inline.FindStringSubmatch(m)
			switch {
			case sub[1] != "":
				return sub[1]
			case sub[2] != "":
				return bold + sub[2] + bold
			case sub[3] == sub[4]:
				return sub[4]
			default:
				return sub[3] + " (" + sub[4] + ")"
			}
		})
		out = append(out, strings.Split(seg, "\n")...)
	}
	var lines []string
	for _, l := range out {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// codeLines returns a code block's lines, without the language name that
// may follow the opening fence ("```go").
func codeLines(block string) []string {
	first, rest, multiline := strings.Cut(block, "\n")
	if multiline && first != "" && !strings.ContainsAny(first, " \t") {
		block = rest
	}
	return strings.Split(block, "\n")
}

// split cuts s into pieces of at most n bytes, each ending on a character
// boundary, so no piece carries half a character.
func split(s string, n int) []string {
	var parts []string
	for len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 { // n is smaller than one character: never loop forever
			_, cut = utf8.DecodeRuneInString(s)
		}
		parts = append(parts, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		parts = append(parts, s)
	}
	return parts
}
