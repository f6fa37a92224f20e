package config

import (
	"fmt"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const secretValue = "hunter2-do-not-print"

func TestSecretPrints(t *testing.T) {
	s := Secret(secretValue)
	tests := []struct {
		format string
		want   string
	}{
		{"%v", "[redacted]"},
		{"%+v", "[redacted]"},
		{"%#v", `"[redacted]"`},
		{"%s", "[redacted]"},
		{"%q", `"[redacted]"`},
		{"%x", "[redacted]"},
		{"%X", "[redacted]"},
		{"%d", "[redacted]"},
		{"%10s", "[redacted]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf(tt.format, s); got != tt.want {
			t.Errorf("Sprintf(%q, secret) = %q, want %q", tt.format, got, tt.want)
		}
	}
	if got := s.Reveal(); got != secretValue {
		t.Errorf("Reveal() = %q, want %q", got, secretValue)
	}
}

func TestEmptySecretPrintsEmpty(t *testing.T) {
	var s Secret
	if got := fmt.Sprintf("%v|%s|%#v", s, s, s); got != `||""` {
		t.Errorf("empty secret printed as %q", got)
	}
	out, err := yaml.Marshal(struct{ S Secret }{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "s: \"\"\n" {
		t.Errorf("empty secret as YAML = %q", got)
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil {
		t.Fatal(err)
	}
	if time.Duration(d) != 90*time.Minute {
		t.Errorf("parsed %v, want 1h30m", time.Duration(d))
	}
	if err := d.UnmarshalText([]byte("30")); err == nil {
		t.Error("a bare number parsed; want an error asking for a unit")
	}
	out, err := yaml.Marshal(struct{ D Duration }{Duration(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "d: 15m0s\n" {
		t.Errorf("Duration as YAML = %q, want %q", got, "d: 15m0s\n")
	}
}
