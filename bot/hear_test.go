package bot

import "testing"

func TestLeadBytes(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		lead    string // the bytes expected in the set, "" for no set
		not     string // bytes that must not be in it
	}{
		{`(?i)^(hi|hello|good (morning|day))( there)?[\s!.,]*$`, "hHgG", "pPsx \x80"},
		{`(?i)^(thanks|thx|ty|cheers|much appreciated)`, "tTcCmM", "hH"},
		{`^\d{6}$`, "0123456789", "a"},
		{`(?i)^k`, "kK\x80\xe2\xff", "j"}, // K also matches the Kelvin sign, U+212A
		{`^[a-c]?x`, "abcx", "d"},
		{`^(?:ab)*c`, "ac", "b"},
		{`\Adeploy`, "d", "D"},
		{`deploy`, "", ""},      // not anchored
		{`(?m)^deploy`, "", ""}, // ^ is any line's start
		{`^a*`, "", ""},         // matches the empty string
		{`^.x`, "", ""},         // . begins with any byte
		{`^a|^b`, "", ""},       // each branch anchored: not recognised, tried always
	} {
		set := leadBytes(simplified(tt.pattern))
		if tt.lead == "" {
			if set != nil {
				t.Errorf("leadBytes(%q) made a set; want none", tt.pattern)
			}
			continue
		}
		if set == nil {
			t.Errorf("leadBytes(%q) made no set", tt.pattern)
			continue
		}
		for i := 0; i < len(tt.lead); i++ {
			if !set.has(tt.lead[i]) {
				t.Errorf("leadBytes(%q) lacks %q", tt.pattern, tt.lead[i])
			}
		}
		for i := 0; i < len(tt.not); i++ {
			if set.has(tt.not[i]) {
				t.Errorf("leadBytes(%q) has %q", tt.pattern, tt.not[i])
			}
		}
	}
}
