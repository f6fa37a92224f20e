package mattermost

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxPost is the most bytes of text the adapter puts in one post. The
// server's limit is 16383 characters; counting bytes keeps every part under
// it whatever the characters are.
const MaxPost = 16383

// split cuts text into parts of at most limit bytes: at the last line break
// that fits, else at the last character boundary that fits. A code block cut
// in two is closed at the end of one part and opened again at the start of
// the next, so each part renders on its own.
func split(text string, limit int) []string {
	const closing = "\n```"
	var parts []string
	open := "" // the fence line of the code block the rest starts inside
	rest := text
	for {
		if len(withOpen(open, rest)) <= limit {
			return append(parts, withOpen(open, rest))
		}
		if len(open) > limit/4 {
			// A fence line that long (its info string) would crowd out the
			// text; the rest goes on without the block's formatting.
			open = ""
		}
		budget := limit - len(withOpen(open, ""))
		cut := lastBreak(rest, budget)
		if fenceAfter(open, rest[:cut]) != "" {
			// The part ends inside a block: leave room to close it.
			cut = lastBreak(rest, budget-len(closing))
		}
		part := rest[:cut]
		still := fenceAfter(open, part)
		body := withOpen(open, part)
		if still != "" {
			body += closing
		}
		parts = append(parts, body)
		open, rest = still, strings.TrimPrefix(rest[cut:], "\n")
	}
}

// withOpen puts the reopened fence line in front of part.
func withOpen(open, part string) string {
	if open == "" {
		return part
	}
	return open + "\n" + part
}

// lastBreak returns where to cut s so the first piece has at most n bytes:
// after the last line break that fits, else at a character boundary.
func lastBreak(s string, n int) int {
	n = max(n, 1)
	if n >= len(s) {
		return len(s)
	}
	if i := strings.LastIndexByte(s[:n+1], '\n'); i > 0 {
		return i
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n == 0 {
		// A limit smaller than one character cannot happen with MaxPost;
		// take the character whole rather than loop for ever.
		_, n = utf8.DecodeRuneInString(s)
	}
	return n
}

// fenceAfter returns the fence line of the code block still open at the end
// of part, given the one open at its start ("" for none). A fence is a line
// starting with ``` and the same line closes the block.
func fenceAfter(open, part string) string {
	for line := range strings.SplitSeq(part, "\n") {
		if !strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			continue
		}
		if open == "" {
			open = strings.TrimLeft(line, " ")
		} else {
			open = ""
		}
	}
	return open
}

// approvalRequest finds the request id in the reply the access package
// gives for a command held for approval ("… ask them to say \"approve
// k3x9…\" (or \"deny k3x9…\") …"), so the post can offer the two answers
// as buttons. A click says exactly what the text tells people to type, so a
// reply that only looks like a request grants nothing a typed line would
// not.
var approvalRequest = regexp.MustCompile(`"approve ([a-z2-7]{1,32})" \(or "deny ([a-z2-7]{1,32})"\)`)

func approvalID(text string) string {
	m := approvalRequest.FindStringSubmatch(text)
	if m == nil || m[1] != m[2] {
		return ""
	}
	return m[1]
}
