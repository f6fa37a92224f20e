package matrix

import (
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxText is the most bytes of bot markup one event carries. The protocol
// caps a whole event at 64 KiB of JSON, signatures and all, and the HTML
// rendering repeats the text; 16 KiB of text leaves room for both, and
// longer messages are unreadable in any client anyway.
const maxText = 16 << 10

// maxContent bounds an event's content as JSON, under the 64 KiB event
// limit with room for what the server adds (ids, hashes, signatures).
const maxContent = 48 << 10

// inline matches the bot's inline markup: `code`, **bold** and [text](url).
var inline = regexp.MustCompile("`([^`]+)`|\\*\\*(.+?)\\*\\*|\\[([^\\]]+)\\]\\(([^)\\s]+)\\)")

// render turns the bot's markup into a plain body and, when the text has
// any markup, the HTML clients show instead (org.matrix.custom.html). The
// plain body keeps code as written, since backticks read well as they are,
// and writes links as "text (url)". Text without markup gets no HTML: the
// plain body says the same, and clients lay it out alike.
func render(text string) (body, formatted string) {
	var plain, rich strings.Builder
	marked := false
	segs := strings.Split(text, "```")
	for i, seg := range segs {
		if i%2 == 1 {
			marked = true
			plain.WriteString("```" + seg)
			if i < len(segs)-1 {
				plain.WriteString("```")
			}
			rich.WriteString(codeBlock(seg))
			continue
		}
		// A code block is a block of its own in HTML: the line breaks that
		// set it apart in the markup would add empty lines around it.
		// The plain body keeps them.
		lead, trail := "", ""
		if i > 0 && strings.HasPrefix(seg, "\n") {
			lead, seg = "\n", seg[1:]
		}
		if i < len(segs)-1 && strings.HasSuffix(seg, "\n") {
			trail, seg = "\n", seg[:len(seg)-1]
		}
		plain.WriteString(lead)
		rest := seg
		for rest != "" {
			loc := inline.FindStringSubmatchIndex(rest)
			if loc == nil {
				plain.WriteString(rest)
				rich.WriteString(htmlText(rest))
				break
			}
			marked = true
			plain.WriteString(rest[:loc[0]])
			rich.WriteString(htmlText(rest[:loc[0]]))
			sub := func(n int) string {
				if loc[2*n] < 0 {
					return ""
				}
				return rest[loc[2*n]:loc[2*n+1]]
			}
			switch {
			case sub(1) != "":
				plain.WriteString("`" + sub(1) + "`")
				rich.WriteString("<code>" + html.EscapeString(sub(1)) + "</code>")
			case sub(2) != "":
				plain.WriteString(sub(2))
				rich.WriteString("<strong>" + htmlText(sub(2)) + "</strong>")
			default:
				label, url := sub(3), sub(4)
				if label == url {
					plain.WriteString(url)
				} else {
					plain.WriteString(label + " (" + url + ")")
				}
				rich.WriteString(link(label, url))
			}
			rest = rest[loc[1]:]
		}
		plain.WriteString(trail)
	}
	if !marked {
		return text, ""
	}
	return plain.String(), rich.String()
}

// htmlText escapes plain text for HTML, keeping its line breaks.
func htmlText(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// safeSchemes are the link schemes rendered as links. Anything else (a
// javascript: URL a user slipped into a reply) is shown as text.
var safeSchemes = []string{"https://", "http://", "mailto:"}

func link(label, url string) string {
	for _, s := range safeSchemes {
		if strings.HasPrefix(strings.ToLower(url), s) {
			return `<a href="` + html.EscapeString(url) + `">` + htmlText(label) + "</a>"
		}
	}
	return htmlText(label + " (" + url + ")")
}

// codeBlock renders the inside of a ``` fence: a language name right after
// the opening fence becomes the class clients highlight by, as CommonMark
// does.
func codeBlock(block string) string {
	lang := ""
	first, rest, multiline := strings.Cut(block, "\n")
	if multiline && !strings.ContainsAny(first, " \t") {
		lang, block = first, rest
	}
	block = strings.TrimSuffix(block, "\n")
	class := ""
	if lang != "" {
		class = ` class="language-` + html.EscapeString(lang) + `"`
	}
	return "<pre><code" + class + ">" + html.EscapeString(block) + "\n</code></pre>"
}

// chunks cuts text into pieces of at most n bytes: at line breaks where it
// can, else on character boundaries, never inside a character. A piece
// that ends inside a code block closes the fence and the next reopens it,
// so each message renders on its own.
func chunks(text string, n int) []string {
	const fence, reopen = "```", "```\n"
	// Room for the fence a piece may have to close, and one it reopens.
	budget := n - len(reopen) - len("\n"+fence)
	var out []string
	var cur strings.Builder
	empty := func() bool { s := cur.String(); return s == "" || s == reopen }
	flush := func() {
		s := cur.String()
		open := strings.Count(s, fence)%2 == 1
		if open {
			s += "\n" + fence
		}
		out = append(out, s)
		cur.Reset()
		if open {
			cur.WriteString(reopen)
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if i > 0 && !empty() {
			if cur.Len()+1+len(line) <= budget {
				cur.WriteString("\n" + line)
				continue
			}
			flush()
		}
		for cur.Len()+len(line) > budget {
			cut := budget - cur.Len()
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			if cut <= 0 { // no room for even one character: never loop forever
				_, cut = utf8.DecodeRuneInString(line)
			}
			cur.WriteString(line[:cut])
			line = line[cut:]
			flush()
		}
		cur.WriteString(line)
	}
	if !empty() {
		flush()
	}
	return out
}
