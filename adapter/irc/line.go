package irc

import (
	"errors"
	"strings"
)

// line is one IRC protocol message: IRCv3 tags, the source prefix, the
// command and its parameters, the last of which may contain spaces.
type line struct {
	tags    map[string]string
	prefix  string
	command string
	params  []string
}

var errEmptyLine = errors.New("empty line")

// parseLine parses a line without its CRLF.
func parseLine(s string) (line, error) {
	var l line
	if strings.HasPrefix(s, "@") {
		var tags string
		tags, s, _ = strings.Cut(s[1:], " ")
		l.tags = map[string]string{}
		for kv := range strings.SplitSeq(tags, ";") {
			k, v, _ := strings.Cut(kv, "=")
			l.tags[k] = unescapeTag(v)
		}
		s = strings.TrimLeft(s, " ")
	}
	if strings.HasPrefix(s, ":") {
		l.prefix, s, _ = strings.Cut(s[1:], " ")
		s = strings.TrimLeft(s, " ")
	}
	for s != "" {
		if s[0] == ':' {
			l.params = append(l.params, s[1:])
			break
		}
		var p string
		p, s, _ = strings.Cut(s, " ")
		s = strings.TrimLeft(s, " ")
		if l.command == "" {
			l.command = strings.ToUpper(p)
		} else {
			l.params = append(l.params, p)
		}
	}
	if l.command == "" {
		return l, errEmptyLine
	}
	return l, nil
}

// param returns parameter i, or "" when there are fewer.
func (l line) param(i int) string {
	if i < len(l.params) {
		return l.params[i]
	}
	return ""
}

// nick returns the nickname in the line's source, "nick!user@host".
func (l line) nick() string {
	n, _, _ := strings.Cut(l.prefix, "!")
	return n
}

// unescapeTag undoes the escaping of IRCv3 tag values.
func unescapeTag(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		i++
		if i == len(v) {
			break // a trailing lone backslash is dropped
		}
		switch v[i] {
		case ':':
			b.WriteByte(';')
		case 's':
			b.WriteByte(' ')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}
