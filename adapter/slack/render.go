package slack

import (
	"strings"
	"unicode/utf8"
)

// render turns the bot's markup into Slack's mrkdwn: **bold** becomes
// *bold*, [text](url) becomes <url|text>, code blocks and inline code are
// kept as they are, and &, < and > are escaped everywhere, as Slack asks.
// The escaping also means that text a user got the bot to echo cannot
// smuggle in <!channel> or a <@U…> mention.
func render(s string) string {
	var b strings.Builder
	for s != "" {
		switch {
		case strings.HasPrefix(s, "```"):
			end := strings.Index(s[3:], "```")
			if end < 0 {
				b.WriteString(escape(s))
				return b.String()
			}
			b.WriteString("```" + escape(s[3:3+end]) + "```")
			s = s[3+end+3:]
		case s[0] == '`':
			end := strings.IndexAny(s[1:], "`\n")
			if end < 0 || s[1+end] != '`' {
				b.WriteString("`")
				s = s[1:]
				continue
			}
			b.WriteString("`" + escape(s[1:1+end]) + "`")
			s = s[1+end+1:]
		case strings.HasPrefix(s, "**"):
			end := strings.Index(s[2:], "**")
			if end <= 0 {
				b.WriteString("**")
				s = s[2:]
				continue
			}
			b.WriteString("*" + render(s[2:2+end]) + "*")
			s = s[2+end+2:]
		case s[0] == '[':
			text, url, rest, ok := link(s)
			if !ok {
				b.WriteString("[")
				s = s[1:]
				continue
			}
			// A "|" would end the URL early inside <url|text>; it is
			// valid percent-encoded.
			b.WriteString("<" + escape(strings.ReplaceAll(url, "|", "%7C")) + "|" + escape(text) + ">")
			s = rest
		default:
			n := strings.IndexAny(s[1:], "`*[")
			if n < 0 {
				n = len(s) - 1
			}
			b.WriteString(escape(s[:1+n]))
			s = s[1+n:]
		}
	}
	return b.String()
}

// link parses "[text](url)" at the start of s, for web and mail links only:
// anything else in the brackets is left as written.
func link(s string) (text, url, rest string, ok bool) {
	closeText := strings.Index(s, "](")
	if closeText < 1 || strings.ContainsAny(s[1:closeText], "\n[") {
		return "", "", "", false
	}
	closeURL := strings.IndexByte(s[closeText:], ')')
	if closeURL < 0 {
		return "", "", "", false
	}
	url = s[closeText+2 : closeText+closeURL]
	if strings.ContainsAny(url, " \n") || !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "mailto:")) {
		return "", "", "", false
	}
	return s[1:closeText], url, s[closeText+closeURL+1:], true
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return escaper.Replace(s) }

// fence opens and closes a code block.
const fence = "```"

// split cuts rendered mrkdwn into parts of at most limit bytes, at line
// ends where it can and otherwise between characters, never inside an
// escape such as &amp; or a <url|text> link. A part that ends inside a code
// block closes it, and the next part opens it again, so each message renders
// on its own.
func split(s string, limit int) []string {
	if len(s) <= limit {
		return []string{s}
	}
	// Room is kept to close a code block at the end of any part.
	room := limit - len("\n"+fence)
	var parts []string
	var b strings.Builder
	inCode, fresh := false, true // fresh: nothing but a reopened fence yet
	flush := func() {
		part := b.String()
		if inCode {
			part += "\n" + fence
		}
		parts = append(parts, part)
		b.Reset()
		fresh = true
		if inCode {
			b.WriteString(fence + "\n")
		}
	}
	for line := range strings.SplitSeq(s, "\n") {
		first := true
		for first || line != "" {
			sep := "\n"
			if fresh {
				sep = ""
			}
			if !first {
				sep = "" // the rest of a line cut in two
			}
			first = false
			if b.Len()+len(sep)+len(line) <= room {
				b.WriteString(sep + line)
				inCode = inCode != (strings.Count(line, fence)%2 == 1)
				fresh = false
				break
			}
			if !fresh && sep != "" {
				flush()
				first = true
				continue
			}
			n := cut(line, room-b.Len()-len(sep))
			b.WriteString(sep + line[:n])
			inCode = inCode != (strings.Count(line[:n], fence)%2 == 1)
			line = line[n:]
			flush()
		}
	}
	if !fresh {
		flush()
	}
	return parts
}

// cut returns where to cut line to keep at most n bytes: at a character
// boundary, before an escape or a link that would not fit whole, and not
// between the backticks of a fence.
func cut(line string, n int) int {
	n = min(n, len(line))
	for n > 0 && n < len(line) && !utf8.RuneStart(line[n]) {
		n--
	}
	safe := n
	if i := strings.LastIndexByte(line[:safe], '&'); i >= 0 && !strings.Contains(line[i:safe], ";") {
		safe = i
	}
	if i := strings.LastIndexByte(line[:safe], '<'); i >= 0 && !strings.Contains(line[i:safe], ">") {
		safe = i
	}
	for safe > 0 && line[safe-1] == '`' && safe < len(line) && line[safe] == '`' {
		safe--
	}
	if safe == 0 {
		// An escape or link longer than a whole message: cutting it is
		// the only way forward.
		return max(n, 1)
	}
	return safe
}
