package awskms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/seipbot/seipbot/keys/awskms"
	"github.com/seipbot/seipbot/keys/awskms/kmstest"
	"github.com/seipbot/seipbot/store/sealed"
)

func newKeys(t *testing.T, n int) []string {
	var keys []string
	for range n {
		k, err := sealed.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

// sameKeyring reports whether a and b hold the same keys in the same
// order, which their derived subkeys show without exposing the keys.
func sameKeyring(a, b *sealed.Keyring) bool {
	return slices.EqualFunc(a.DeriveAll("test"), b.DeriveAll("test"), bytes.Equal)
}

func TestSaveLoadRotate(t *testing.T) {
	fake := kmstest.New(t, "eu-central-1")
	p := &awskms.Provider{Client: fake.Client(), KeyID: kmstest.Alias, Path: filepath.Join(t.TempDir(), "keyring.json")}
	ctx := context.Background()
	keys := newKeys(t, 2)
	newKey, oldKey := keys[0], keys[1]

	// The rotation of README.md: OLD alone, then NEW,OLD, then NEW.
	for _, text := range []string{oldKey, newKey + "," + oldKey, newKey} {
		if err := p.Save(ctx, text); err != nil {
			t.Fatal(err)
		}
		got, err := p.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := sealed.ParseKeyring(text)
		if !sameKeyring(got, want) {
			t.Errorf("after saving %d key(s), Load returned another keyring", strings.Count(text, ",")+1)
		}
	}

	data, err := os.ReadFile(p.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		body := strings.TrimPrefix(k, "seipbot1:")
		if bytes.Contains(data, []byte(body)) {
			t.Error("the keyring file holds a key in the clear")
		}
	}
	if !bytes.Contains(data, []byte(kmstest.KeyARN)) {
		t.Error("the file does not name the KMS key it needs")
	}
	if fi, err := os.Stat(p.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v (%v); want 0600", fi.Mode().Perm(), err)
	}
	for i, c := range fake.Contexts() {
		if len(c) != 1 || c["purpose"] != "seipbot-keyring" {
			t.Errorf("call %d had encryption context %v; want purpose=seipbot-keyring, which the IAM policy requires", i, c)
		}
	}
}

// TestRotateDropOld follows "seipbot keygen --kms": a first key, a second
// in front of it, then the old one dropped.
func TestRotateDropOld(t *testing.T) {
	p := &awskms.Provider{Client: kmstest.New(t, "eu-central-1").Client(), KeyID: kmstest.Alias, Path: filepath.Join(t.TempDir(), "keyring.json")}
	ctx := context.Background()
	keys := newKeys(t, 2)
	idsOf := func(text string) []string {
		kr, err := sealed.ParseKeyring(text)
		if err != nil {
			t.Fatal(err)
		}
		return kr.IDs()
	}
	steps := []struct {
		name string
		do   func() (*sealed.Keyring, error)
		want []string
	}{
		{"first key", func() (*sealed.Keyring, error) { return p.Rotate(ctx, keys[1]) }, idsOf(keys[1])},
		{"rotation", func() (*sealed.Keyring, error) { return p.Rotate(ctx, keys[0]) }, idsOf(keys[0] + "," + keys[1])},
		{"drop old", func() (*sealed.Keyring, error) { return p.DropOld(ctx) }, idsOf(keys[0])},
	}
	for _, step := range steps {
		got, err := step.do()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		loaded, err := p.Load(ctx)
		if err != nil {
			t.Fatalf("%s: Load: %v", step.name, err)
		}
		if !slices.Equal(got.IDs(), step.want) || !sameKeyring(got, loaded) {
			t.Errorf("%s: keys %q returned, %q in the file; want %q", step.name, got.IDs(), loaded.IDs(), step.want)
		}
	}

	// A file that does not open keeps its keys: Rotate must not replace it
	// with a keyring of the new key alone.
	junk := []byte(`{"format":"other/1"}`)
	if err := os.WriteFile(p.Path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rotate(ctx, keys[1]); !errors.Is(err, awskms.ErrFormat) {
		t.Errorf("Rotate over a foreign file: %v; want ErrFormat", err)
	}
	if data, _ := os.ReadFile(p.Path); !bytes.Equal(data, junk) {
		t.Error("Rotate replaced a file it could not read")
	}
	if _, err := (&awskms.Provider{Client: p.Client, KeyID: p.KeyID, Path: p.Path + ".none"}).DropOld(ctx); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DropOld without a file: %v; want not exist", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := &awskms.Provider{Client: kmstest.New(t, "eu-central-1").Client(), KeyID: kmstest.KeyARN, Path: filepath.Join(dir, "keyring.json")}
	if err := p.Save(ctx, newKeys(t, 1)[0]); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(p.Path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(good, &fields); err != nil {
		t.Fatal(err)
	}
	// altered re-encodes the file with one base64 field's first byte
	// flipped.
	altered := func(field string) []byte {
		raw, err := base64.StdEncoding.DecodeString(fields[field].(string))
		if err != nil {
			t.Fatal(err)
		}
		raw[0] ^= 1
		m := maps.Clone(fields)
		m[field] = raw
		out, _ := json.Marshal(m)
		return out
	}

	for _, tc := range []struct {
		name    string
		content []byte
		keyID   string
		check   func(error) bool
	}{
		{"not JSON", []byte("seipbot1:abc"), kmstest.KeyARN, func(err error) bool { return errors.Is(err, awskms.ErrFormat) }},
		{"other format", []byte(`{"format":"other/1"}`), kmstest.KeyARN, func(err error) bool { return errors.Is(err, awskms.ErrFormat) }},
		{"keyring altered", altered("keyring"), kmstest.KeyARN, func(err error) bool { return errors.Is(err, awskms.ErrFormat) }},
		{"data key altered", altered("data_key"), kmstest.KeyARN, func(err error) bool {
			var e *types.InvalidCiphertextException
			return errors.As(err, &e)
		}},
		{"another KMS key", good, "alias/other", func(err error) bool {
			var e *types.NotFoundException
			return errors.As(err, &e)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := (&awskms.Provider{Client: p.Client, KeyID: tc.keyID, Path: path}).Load(ctx)
			if err == nil || !tc.check(err) {
				t.Errorf("Load: %v", err)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := (&awskms.Provider{Client: p.Client, KeyID: kmstest.KeyARN, Path: filepath.Join(dir, "none")}).Load(ctx)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load: %v; want not exist", err)
		}
	})
}

func TestSaveRefuses(t *testing.T) {
	fake := kmstest.New(t, "eu-central-1")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyring.json")
	p := &awskms.Provider{Client: fake.Client(), KeyID: kmstest.KeyARN, Path: path}
	if err := p.Save(ctx, "not-a-key"); err == nil {
		t.Error("Save took a malformed keyring")
	}
	if len(fake.Contexts()) > 0 {
		t.Error("Save called KMS for a malformed keyring")
	}
	p.KeyID = "alias/missing"
	var nf *types.NotFoundException
	if err := p.Save(ctx, newKeys(t, 1)[0]); !errors.As(err, &nf) {
		t.Errorf("Save with a missing key: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed Save left a file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) > 0 {
		t.Errorf("a failed Save left %d files behind", len(entries))
	}
}

// TestNewClient goes through the SDK's default configuration, as the bot
// does in a task: credentials from the environment, the region given, and
// the endpoint replaced.
func TestNewClient(t *testing.T) {
	fake := kmstest.New(t, "eu-west-1")
	kmstest.SetCredentialsEnv(t)
	ctx := context.Background()
	c, err := awskms.NewClient(ctx, "eu-west-1", fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &awskms.Provider{Client: c, KeyID: kmstest.Alias, Path: filepath.Join(t.TempDir(), "keyring.json")}
	if err := p.Save(ctx, newKeys(t, 1)[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
}
