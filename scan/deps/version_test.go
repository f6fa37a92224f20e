package deps

import "testing"

func TestCompare(t *testing.T) {
	// Each list is in ascending order.
	for _, list := range [][]string{
		{"0", "0.0.1", "v0.3.0", "0.3.7", "v0.3.8", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"},
		{"v0.0.0-20200101000000-abcdef123456", "v0.0.0-20210101000000-abcdef123456", "v0.1.0"},
		{"1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0rc10", "1.0", "1.0.post1", "1.1"},
		{"2.25", "2.25.1", "2.26.0"},
	} {
		for i := range list {
			for j := range list {
				want := cmpInt(i, j)
				if got := Compare(list[i], list[j]); got != want {
					t.Errorf("Compare(%q, %q) = %d, want %d", list[i], list[j], got, want)
				}
			}
		}
	}
	for _, eq := range [][2]string{{"v1.2.3", "1.2.3"}, {"1.0", "1.0.0"}, {"1.2.3+build.5", "1.2.3"}, {"1!2.0", "2.0"}} {
		if Compare(eq[0], eq[1]) != 0 {
			t.Errorf("%q and %q differ", eq[0], eq[1])
		}
	}
}
