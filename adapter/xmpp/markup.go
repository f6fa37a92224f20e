package xmpp

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// The bot's markup in running text; code is left alone.
var (
	boldRe   = regexp.MustCompile(`\*\*([^*\n]+)\*\*`)
	linkRe   = regexp.MustCompile(`\[([^\]\n]+)\]\((https?://[^)\s]+)\)`)
	inlineRe = regexp.MustCompile("`[^`\n]+`")
)

// render turns the bot's markup into XEP-0393 message styling, the plain-text
// convention XMPP clients (Conversations, Dino, Gajim, Movim) display:
// **bold** becomes *bold*, code blocks and `inline code` keep their
// backticks, which XEP-0393 shares, and a link becomes "text <url>", since
// styling has no links and clients make a bare URL clickable; the angle
// brackets keep trailing punctuation out of it (RFC 3986, appendix C).
func render(text string) string {
	var out []string
	inBlock := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			// XEP-0393 blocks open and close with a line starting ```;
			// anything after the opening fence (a language) is kept as
			// the client ignores it.
			inBlock = !inBlock
			out = append(out, line)
			continue
		}
		if inBlock {
			out = append(out, line)
			continue
		}
		out = append(out, renderLine(line))
	}
	return strings.Join(out, "\n")
}

// renderLine styles one line outside code blocks, leaving inline code spans
// as they are.
func renderLine(line string) string {
	var b strings.Builder
	last := 0
	for _, span := range inlineRe.FindAllStringIndex(line, -1) {
		b.WriteString(renderText(line[last:span[0]]))
		b.WriteString(line[span[0]:span[1]])
		last = span[1]
	}
	b.WriteString(renderText(line[last:]))
	return b.String()
}

func renderText(s string) string {
	s = linkRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := linkRe.FindStringSubmatch(m)
		if sub[1] == sub[2] {
			return "<" + sub[2] + ">"
		}
		return sub[1] + " <" + sub[2] + ">"
	})
	return boldRe.ReplaceAllString(s, "*$1*")
}

// split cuts text into messages of at most maxLen bytes. Whole lines are
// kept together where they fit, and the line break between two messages is
// dropped, since the message boundary shows it. A line longer than maxLen is
// cut after its last space within the limit, or where none is near, at the
// last character boundary, so no character is ever broken in two.
func split(text string, maxLen int) []string {
	var parts []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if cur.Len() > 0 && cur.Len()+1+len(line) <= maxLen {
			cur.WriteByte('\n')
			cur.WriteString(line)
			continue
		}
		flush()
		for len(line) > maxLen {
			n := cutAt(line, maxLen)
			parts = append(parts, line[:n])
			line = line[n:]
		}
		cur.WriteString(line)
	}
	flush()
	return parts
}

// cutAt returns where to cut s, longer than maxLen, so that s[:n] fits.
// maxLen is at least utf8.UTFMax (New sees to it), so n never reaches 0.
func cutAt(s string, maxLen int) int {
	n := maxLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	// Prefer a word boundary unless it would leave a short part.
	if sp := strings.LastIndexByte(s[:n], ' '); sp >= n/2 {
		return sp + 1
	}
	return n
}
