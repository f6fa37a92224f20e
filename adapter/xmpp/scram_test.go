package xmpp

import (
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"testing"
)

// TestSCRAM runs the exchanges printed in RFC 5802 (SHA-1) and RFC 7677
// (SHA-256).
func TestSCRAM(t *testing.T) {
	tests := []struct {
		name                       string
		hash                       func() hash.Hash
		cnonce                     string
		serverFirst, clientFinal   string
		serverFinal, wrongSigFinal string
	}{
		{
			"SHA-1", sha1.New, "fyko+d2lbbFgONRv9qkxdawL",
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "v=smF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			"SHA-256", sha256.New, "rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSCRAM(tt.hash, "user", "pencil", tt.cnonce)
			if got, want := string(c.clientFirst()), "n,,n=user,r="+tt.cnonce; got != want {
				t.Errorf("client-first = %q, want %q", got, want)
			}
			final, err := c.clientFinal([]byte(tt.serverFirst))
			if err != nil {
				t.Fatal(err)
			}
			if string(final) != tt.clientFinal {
				t.Errorf("client-final = %q, want %q", final, tt.clientFinal)
			}
			if err := c.verify([]byte(tt.wrongSigFinal)); err == nil {
				t.Error("a wrong server signature was accepted")
			}
			if err := c.verify([]byte(tt.serverFinal)); err != nil {
				t.Errorf("the right server signature was refused: %v", err)
			}
		})
	}
}

func TestSCRAMRefusesBadServerFirst(t *testing.T) {
	for _, serverFirst := range []string{
		"r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096", // nonce not ours
		"r=abc,s=QSXCR+Q6sek8bf92,i=4096",         // nonce not extended
		"r=abcdef,s=QSXCR+Q6sek8bf92,i=1",         // too few iterations
		"r=abcdef,s=QSXCR+Q6sek8bf92,i=999999999", // too many
		"r=abcdef,s=,i=4096",                      // no salt
		"r=abcdef,s=QSXCR+Q6sek8bf92,i=many",      // not a number
	} {
		c := newSCRAM(sha1.New, "user", "pencil", "abc")
		c.clientFirst()
		if _, err := c.clientFinal([]byte(serverFirst)); err == nil {
			t.Errorf("server-first %q was accepted", serverFirst)
		}
	}
}

func TestChooseMechanism(t *testing.T) {
	tests := []struct {
		offered []string
		secure  bool
		want    string // "" for an error
	}{
		{[]string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"}, true, "SCRAM-SHA-1"},
		{[]string{"SCRAM-SHA-1", "SCRAM-SHA-256"}, false, "SCRAM-SHA-256"},
		{[]string{"PLAIN"}, true, "PLAIN"},
		{[]string{"PLAIN"}, false, ""},
		{[]string{"PLAIN", "SCRAM-SHA-1"}, false, "SCRAM-SHA-1"},
		{[]string{"SCRAM-SHA-1-PLUS", "DIGEST-MD5"}, true, ""},
		{nil, true, ""},
	}
	for _, tt := range tests {
		got, err := chooseMechanism(tt.offered, tt.secure)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("chooseMechanism(%v, secure=%v) = %q, %v; want %q", tt.offered, tt.secure, got, err, tt.want)
		}
	}
}
