package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// redacted is what a non-empty Secret shows wherever it is printed.
const redacted = "[redacted]"

// Secret holds a key, token or password. Every way of printing or encoding it
// (fmt with any verb, YAML, JSON, slog) shows [redacted], so a config can be
// logged or dumped without leaking; only Reveal returns the value. An empty
// Secret prints as the empty string, so "not set" stays visible.
type Secret string

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// String returns [redacted], or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v of a struct holding a Secret valid Go syntax.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format handles every fmt verb, including %x and %d, which would otherwise
// print the underlying string's bytes.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// MarshalYAML makes `seipbot config print` and Redacted safe to share.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON keeps secrets out of JSON logs and API output.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue keeps secrets out of slog records, whichever handler is used.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Duration is a time.Duration written as "30s" or "15m" in YAML and in the
// environment, rather than as a count of nanoseconds.
type Duration time.Duration

// String returns the duration as time.Duration prints it, such as "30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration back in the form it is read in.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration such as "30s" or "1h30m". A bare number
// is rejected: without a unit it is too easy to mean seconds and get
// nanoseconds.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
