package sealed_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/sealed"
)

// FuzzOpen stores arbitrary bytes under arbitrary keys in the inner store
// and reads them through Get, Scan and Update, as the bot does after a
// crash, a bad restore or tampering. Every read must fail with ErrTampered
// or ErrUnknownKey, except for a record the test's keys sealed, read under
// its own key; Update must leave a record it cannot open as it was.
func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	kr := keyring(f, keyA+","+keyB)
	inner := memory.New()
	s := sealed.New(inner, kr)
	if err := s.Put(ctx, "remind/1", []byte(`{"text":"stretch"}`), 0); err != nil {
		f.Fatal(err)
	}
	genuine, err := inner.Get(ctx, "remind/1")
	if err != nil {
		f.Fatal(err)
	}
	// Sealed under keyB alone, so the two-key ring opens it with its
	// second key.
	oldInner := memory.New()
	old := sealed.New(oldInner, keyring(f, keyB))
	if err := old.Put(ctx, "remind/1", []byte("x"), 0); err != nil {
		f.Fatal(err)
	}
	sealedB, err := oldInner.Get(ctx, "remind/1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine, "remind/1")
	f.Add(sealedB, "remind/1")
	f.Add(genuine, "remind/2")
	f.Add(genuine[:len(genuine)-1], "remind/1")
	f.Add([]byte{1, 0, 0, 0, 0}, "k")
	f.Add([]byte{}, "k")
	f.Add([]byte(`{"text":"plaintext from before encryption"}`), "remind/1")
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		st := memory.New()
		if err := st.Put(ctx, key, raw, 0); err != nil {
			t.Fatal(err)
		}
		s := sealed.New(st, kr)
		got, err := s.Get(ctx, key)
		if err == nil {
			// Only the test's own keys ever sealed anything, and only these
			// records (in this process or another fuzzing worker).
			if key != "remind/1" || string(got) != `{"text":"stretch"}` && string(got) != "x" {
				t.Fatalf("Get(%q) opened %x as %q", key, raw, got)
			}
			return
		}
		if !errors.Is(err, sealed.ErrTampered) && !errors.Is(err, sealed.ErrUnknownKey) {
			t.Fatalf("Get(%q) of %x: %v, neither tampered nor an unknown key", key, raw, err)
		}
		scanErr := s.Scan(ctx, "", func(string, []byte) error { return nil })
		if scanErr == nil || scanErr.Error() != err.Error() {
			t.Fatalf("Scan said %v where Get said %v", scanErr, err)
		}
		updErr := s.Update(ctx, key, func(cur []byte) ([]byte, error) { return []byte("new"), nil })
		if updErr == nil {
			t.Fatalf("Update wrote over a record it could not open")
		}
		if after, _ := st.Get(ctx, key); !bytes.Equal(after, raw) {
			t.Fatalf("a failed Update changed the record from %x to %x", raw, after)
		}
	})
}

// FuzzParseKeyring reads arbitrary SEIPBOT_SECRET_KEY values. A keyring
// that parses seals and opens a record; an error never repeats the value.
func FuzzParseKeyring(f *testing.F) {
	for _, s := range []string{keyA, keyA + "," + keyB, keyA + ",", "seipbot1:", "seipbot1:AAEC", "seipbot2:" + keyA[9:], " " + keyA + " , " + keyB} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kr, err := sealed.ParseKeyring(s)
		if err != nil {
			if len(s) >= 16 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error repeats the secret: %v", err)
			}
			return
		}
		ctx := context.Background()
		st := sealed.New(memory.New(), kr)
		if err := st.Put(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Get(ctx, "k"); err != nil || string(got) != "v" {
			t.Fatalf("keyring from %q: read back %q, %v", s, got, err)
		}
	})
}
