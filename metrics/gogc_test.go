package metrics

import "testing"

func TestParseGOGC(t *testing.T) {
	for v, want := range map[string]int{"": 100, "off": -1, "150": 150, "50": 50, "x": 100, "OFF": 100} {
		if got := parseGOGC(v); got != want {
			t.Errorf("parseGOGC(%q) = %d; want %d", v, got, want)
		}
	}
}
