package sealed_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/sealed"
	"github.com/seipbot/seipbot/store/storetest"
)

// Fixed keys, so failures are reproducible. Never use these outside tests.
const (
	keyA = "seipbot1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	keyB = "seipbot1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
)

func keyring(t testing.TB, s string) *sealed.Keyring {
	t.Helper()
	kr, err := sealed.ParseKeyring(s)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestConformanceOverMemory(t *testing.T) {
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) store.Store {
		s := sealed.New(memory.New(memory.WithClock(now)), keyring(t, keyA))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestConformanceOverBolt(t *testing.T) {
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) store.Store {
		inner, err := bolt.Open(filepath.Join(t.TempDir(), "seipbot.db"), bolt.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		s := sealed.New(inner, keyring(t, keyA))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// unbatched hides every ability of a store beyond store.Store.
type unbatched struct{ store.Store }

// TestConformanceOverUnbatched runs the suite over an inner store that
// cannot batch, so sealed's PutBatch falls back to Puts.
func TestConformanceOverUnbatched(t *testing.T) {
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) store.Store {
		s := sealed.New(unbatched{memory.New(memory.WithClock(now))}, keyring(t, keyA))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestPutBatchSeals checks that each entry of a batch is sealed for its
// own key, as a Put would seal it.
func TestPutBatchSeals(t *testing.T) {
	ctx := t.Context()
	inner := memory.New()
	s := sealed.New(inner, keyring(t, keyA))
	err := s.PutBatch(ctx, []store.Entry{{Key: "notes/1", Value: []byte("hello")}, {Key: "notes/2", Value: []byte("world")}})
	if err != nil {
		t.Fatal(err)
	}
	for key, plain := range map[string]string{"notes/1": "hello", "notes/2": "world"} {
		raw, err := inner.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + 4 + 12 + len(plain) + 16; len(raw) != want || bytes.Contains(raw, []byte(plain)) {
			t.Fatalf("inner record %s = %q, want %d sealed bytes", key, raw, want)
		}
	}
	// Sealed for its own key: moved to the other one, it fails to open.
	raw, _ := inner.Get(ctx, "notes/1")
	if err := inner.Put(ctx, "notes/2", raw, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "notes/2"); !errors.Is(err, sealed.ErrTampered) {
		t.Fatalf("Get of a record moved from another key = %v, want ErrTampered", err)
	}
}

// put writes value under key through s and returns what the inner store
// holds for it.
func put(t *testing.T, s *sealed.Store, inner store.Store, key, value string) []byte {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(value), 0); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSealedForm(t *testing.T) {
	inner := memory.New()
	s := sealed.New(inner, keyring(t, keyA))
	raw := put(t, s, inner, "notes/1", "hello")
	if want := 1 + 4 + 12 + len("hello") + 16; len(raw) != want {
		t.Fatalf("sealed value is %d bytes, want %d (header, nonce, ciphertext, tag)", len(raw), want)
	}
	if raw[0] != 1 {
		t.Fatalf("version byte = %d, want 1", raw[0])
	}
	again := put(t, s, inner, "notes/1", "hello")
	if bytes.Equal(raw[5:17], again[5:17]) {
		t.Fatal("two seals of one value share a nonce")
	}
}

func TestTampered(t *testing.T) {
	inner := memory.New()
	s := sealed.New(inner, keyring(t, keyA))
	ctx := t.Context()
	raw := put(t, s, inner, "notes/1", "the incident is contained")
	for _, i := range []int{0, 3, 5, 16, 17, len(raw) - 1} {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if err := inner.Put(ctx, "notes/1", bad, 0); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, "notes/1")
		// Flipping the key id may name a key the keyring lacks instead.
		if !errors.Is(err, sealed.ErrTampered) && !errors.Is(err, sealed.ErrUnknownKey) {
			t.Errorf("byte %d flipped: Get = %v, want ErrTampered", i, err)
		}
		if err != nil && !strings.Contains(err.Error(), `"notes/1"`) {
			t.Errorf("byte %d flipped: error %q does not name the record", i, err)
		}
	}
	if err := inner.Put(ctx, "notes/1", []byte("hi"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "notes/1"); !errors.Is(err, sealed.ErrTampered) {
		t.Errorf("unsealed value: Get = %v, want ErrTampered", err)
	}
}

func TestMovedValue(t *testing.T) {
	inner := memory.New()
	s := sealed.New(inner, keyring(t, keyA))
	ctx := t.Context()
	raw := put(t, s, inner, "roles/alice", "admin")
	for _, to := range []string{"roles/mallory", "other/alice", "default/x", "x"} {
		if err := inner.Put(ctx, to, raw, 0); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, to)
		if !errors.Is(err, sealed.ErrTampered) {
			t.Fatalf("value moved to %q: Get = %v, want ErrTampered", to, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", to)) {
			t.Fatalf("error %q does not name %q", err, to)
		}
	}
	// Scan and Update refuse it too, rather than skip it.
	if err := s.Scan(ctx, "roles/", func(string, []byte) error { return nil }); !errors.Is(err, sealed.ErrTampered) {
		t.Fatalf("Scan over a moved value = %v, want ErrTampered", err)
	}
	err := s.Update(ctx, "roles/mallory", func(cur []byte) ([]byte, error) { return cur, nil })
	if !errors.Is(err, sealed.ErrTampered) {
		t.Fatalf("Update of a moved value = %v, want ErrTampered", err)
	}
}

func TestRotation(t *testing.T) {
	inner := memory.New()
	ctx := t.Context()
	a := sealed.New(inner, keyring(t, keyA))
	want := map[string]string{"notes/1": "one", "notes/2": "two", "reminders/x": "three"}
	for k, v := range want {
		if err := a.Put(ctx, k, []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Put(ctx, "ttl/t", []byte("expiring"), time.Hour); err != nil {
		t.Fatal(err)
	}
	want["ttl/t"] = "expiring"
	readAll := func(s *sealed.Store) {
		t.Helper()
		for k, v := range want {
			got, err := s.Get(ctx, k)
			if err != nil || string(got) != v {
				t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, v)
			}
		}
	}

	ba := sealed.New(inner, keyring(t, keyB+", "+keyA))
	readAll(ba)
	// A write during the rotation is sealed with B already.
	if err := ba.Put(ctx, "notes/3", []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	want["notes/3"] = "new"

	if _, err := sealed.New(inner, keyring(t, keyB)).Get(ctx, "notes/1"); !errors.Is(err, sealed.ErrUnknownKey) {
		t.Fatalf("before Reencrypt, keyring B alone: Get = %v, want ErrUnknownKey", err)
	}
	n, err := sealed.Reencrypt(ctx, ba)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("Reencrypt rewrote %d records, want the 4 sealed with A", n)
	}
	if n, err := sealed.Reencrypt(ctx, ba); n != 0 || err != nil {
		t.Fatalf("second Reencrypt = %d, %v; want 0, nil", n, err)
	}
	readAll(sealed.New(inner, keyring(t, keyB)))
	if _, err := sealed.New(inner, keyring(t, keyA)).Get(ctx, "notes/1"); !errors.Is(err, sealed.ErrUnknownKey) {
		t.Fatalf("after Reencrypt, keyring A alone: Get = %v, want ErrUnknownKey", err)
	}
}

func TestReencryptKeepsExpiry(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	inner := memory.New(memory.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	if err := sealed.New(inner, keyring(t, keyA)).Put(ctx, "ttl/t", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	ba := sealed.New(inner, keyring(t, keyB+","+keyA))
	if n, err := sealed.Reencrypt(ctx, ba); n != 1 || err != nil {
		t.Fatalf("Reencrypt = %d, %v; want 1, nil", n, err)
	}
	now = now.Add(time.Minute)
	if _, err := ba.Get(ctx, "ttl/t"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after its TTL, a re-encrypted record: Get = %v, want ErrNotFound", err)
	}
}

func TestUnknownKey(t *testing.T) {
	inner := memory.New()
	put(t, sealed.New(inner, keyring(t, keyA)), inner, "notes/1", "x")
	_, err := sealed.New(inner, keyring(t, keyB)).Get(t.Context(), "notes/1")
	if !errors.Is(err, sealed.ErrUnknownKey) {
		t.Fatalf("Get with the wrong keyring = %v, want ErrUnknownKey", err)
	}
	// The id of keyA is the first 4 bytes of SHA-256 of its 32 bytes.
	const idA = "630dcd29"
	msg := err.Error()
	if !strings.Contains(msg, "key id "+idA) {
		t.Fatalf("error %q does not name key id %s", msg, idA)
	}
	for _, k := range []string{keyA, keyB} {
		if strings.Contains(msg, strings.TrimPrefix(k, "seipbot1:")) {
			t.Fatalf("error %q shows a key", msg)
		}
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seipbot.db")
	inner, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := sealed.New(inner, keyring(t, keyA))
	const canary = "CANARY-7f3a9c-the-red-team-password"
	ctx := t.Context()
	if err := s.Put(ctx, "secrets/1", []byte(canary), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, "secrets/2", func([]byte) ([]byte, error) { return []byte(canary), nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(file, []byte("secrets/1")) {
		t.Fatal("the key is not in the file; is this the file the store wrote?")
	}
	if bytes.Contains(file, []byte(canary)) {
		t.Fatal("the plaintext value is in the store file")
	}
}

func TestParseKeyringErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "sealed: the keyring is empty; set it to a key made by `seipbot keygen`"},
		{"  ", "sealed: the keyring is empty; set it to a key made by `seipbot keygen`"},
		{keyA + ",," + keyB, "sealed: key 2 of 3 in the keyring is empty; separate keys with single commas"},
		{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", `sealed: key 1 of 1 does not start with "seipbot1:"; make keys with ` + "`seipbot keygen`"},
		{"seipbot1:AAEC*wQF", `sealed: key 1 of 1 is not unpadded base64url after "seipbot1:"; make keys with ` + "`seipbot keygen`"},
		{"seipbot1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", `sealed: key 1 of 1 is not unpadded base64url after "seipbot1:"; make keys with ` + "`seipbot keygen`"},
		{keyA + ",seipbot1:AAECAwQFBgcICQoLDA0ODw", "sealed: key 2 of 2 holds 16 bytes but must hold 32; make keys with `seipbot keygen`"},
		{keyA + "," + keyB + "," + keyA, "sealed: key 3 of 3 repeats key 1; list each key once"},
	} {
		_, err := sealed.ParseKeyring(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseKeyring(%q) error = %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestKeyringPrintsRedacted(t *testing.T) {
	kr := keyring(t, keyA+","+keyB)
	var log bytes.Buffer
	slog.New(slog.NewJSONHandler(&log, nil)).Info("loaded", "keyring", kr)
	slog.New(slog.NewTextHandler(&log, nil)).Info("loaded", "keyring", kr)
	for _, out := range []string{
		fmt.Sprint(kr), fmt.Sprintf("%v", *kr), fmt.Sprintf("%+v", kr), fmt.Sprintf("%#v", kr),
		fmt.Sprintf("%s", kr), fmt.Sprintf("%x", kr), fmt.Sprintf("%q", kr), kr.String(), log.String(),
	} {
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("printed keyring %q does not say [redacted]", out)
		}
		for _, k := range []string{keyA, keyB} {
			body := strings.TrimPrefix(k, "seipbot1:")
			if strings.Contains(out, body[:8]) {
				t.Errorf("printed keyring %q shows key material", out)
			}
		}
	}
}

func TestNewKey(t *testing.T) {
	k1, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 {
		t.Fatal("two new keys are equal")
	}
	if !strings.HasPrefix(k1, "seipbot1:") || len(k1) != len("seipbot1:")+43 {
		t.Fatalf("NewKey() = a %d-character string, want seipbot1: and 43 characters", len(k1))
	}
	keyring(t, k1+","+k2)
}

// TestIDs checks that IDs names the keys as sealed records do, current
// first.
func TestIDs(t *testing.T) {
	inner := memory.New()
	sealedID := func(key string) string {
		raw := put(t, sealed.New(inner, keyring(t, key)), inner, "k", "v")
		return hex.EncodeToString(raw[1:5])
	}
	ids := keyring(t, keyB+","+keyA).IDs()
	if want := []string{sealedID(keyB), sealedID(keyA)}; !slices.Equal(ids, want) {
		t.Fatalf("IDs() = %q; want %q, the ids in the records each key seals", ids, want)
	}
}

func TestDerive(t *testing.T) {
	ab, a, ba := keyring(t, keyA+","+keyB), keyring(t, keyA), keyring(t, keyB+","+keyA)
	audit := a.Derive("audit-checkpoint")
	if len(audit) != 32 {
		t.Fatalf("Derive returned %d bytes, want 32", len(audit))
	}
	if !bytes.Equal(audit, ab.Derive("audit-checkpoint")) {
		t.Fatal("Derive depends on keys other than the current one")
	}
	if bytes.Equal(audit, a.Derive("other")) {
		t.Fatal("Derive gives two purposes the same key")
	}
	if bytes.Equal(audit, ba.Derive("audit-checkpoint")) {
		t.Fatal("Derive does not change with the current key")
	}
	all := ba.DeriveAll("audit-checkpoint")
	if len(all) != 2 || !bytes.Equal(all[0], ba.Derive("audit-checkpoint")) || !bytes.Equal(all[1], audit) {
		t.Fatal("DeriveAll does not give the current key's subkey first and then the older key's")
	}
}

func Example() {
	// The keyring comes from configuration; `seipbot keygen` makes keys.
	kr, err := sealed.ParseKeyring(keyA)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := sealed.New(memory.New(), kr)
	defer s.Close()
	ctx := context.Background()
	if err := s.Put(ctx, "notes/incident-42", []byte("contained at 14:02"), 0); err != nil {
		fmt.Println(err)
		return
	}
	v, err := s.Get(ctx, "notes/incident-42")
	fmt.Printf("%s %v %v\n", v, err, kr)
	// Output: contained at 14:02 <nil> [redacted]
}

func openSealedBolt(b *testing.B) *sealed.Store {
	inner, err := bolt.Open(filepath.Join(b.TempDir(), "seipbot.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := sealed.New(inner, keyring(b, keyA))
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkPut(b *testing.B) { storetest.BenchPut(b, openSealedBolt(b)) }

func BenchmarkPutParallel(b *testing.B) { storetest.BenchPutParallel(b, openSealedBolt(b)) }

func BenchmarkGet(b *testing.B) { storetest.BenchGet(b, openSealedBolt(b)) }
