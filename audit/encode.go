package audit

import (
	"strconv"
	"unicode/utf8"
)

// The writer encodes every record, so it does not use encoding/json, whose
// reflection and allocations cost a busy bot a tenth of its time. The
// bytes must be exactly what json.Marshal makes of a Record: each record's
// hash, and so the chain, is over the line as stored, and logs written
// before this encoder existed must read and verify the same way.
// FuzzAppendRecord holds the two to the same output.

// appendRecord appends r to b as json.Marshal(r) encodes it. It fails only
// where json.Marshal does: for a time outside the years 0 to 9999 or with a
// zone offset of a day or more.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	b, err := appendRecordHead(b, r)
	if err != nil {
		return nil, err
	}
	b = appendString(b, r.Prev)
	return append(b, '}'), nil
}

// appendRecordHead appends r up to the value of its last field, prev, so
// that the writer can put in the previous record's hash without making a
// string of it.
func appendRecordHead(b []byte, r *Record) ([]byte, error) {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"time":"`...)
	// Time's JSON form is its RFC 3339 text, which needs no escaping,
	// quoted; AppendText refuses the same times MarshalJSON does.
	b, err := r.Time.AppendText(b)
	if err != nil {
		return nil, err
	}
	b = append(b, '"')
	b = appendField(b, `,"kind":`, r.Kind, false)
	b = appendField(b, `,"identity":`, r.Identity, true)
	b = appendField(b, `,"room":`, r.Room, true)
	b = appendField(b, `,"adapter":`, r.Adapter, true)
	b = appendField(b, `,"command":`, r.Command, true)
	if len(r.Args) > 0 {
		b = append(b, `,"args":[`...)
		for i, a := range r.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, a.Name)
			b = append(b, `,"value":`...)
			b = appendString(b, a.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, `,"decision":`, r.Decision, true)
	b = appendField(b, `,"result":`, r.Result, true)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, r.DurationMS, 10)
	b = appendField(b, `,"detail":`, r.Detail, true)
	return append(b, `,"prev":`...), nil
}

// appendField appends a string field with its name, leaving it out when it
// is empty and omitEmpty is set, as the omitempty tag does.
func appendField(b []byte, name, s string, omitEmpty bool) []byte {
	if omitEmpty && s == "" {
		return b
	}
	return appendString(append(b, name...), s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json writes
// one: with <, > and & escaped for HTML, control characters as \n, \t and
// the like or \u00XX, invalid UTF-8 as \ufffd, and U+2028 and U+2029
// escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
