package awskms_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/seipbot/seipbot/keys/awskms"
	"github.com/seipbot/seipbot/store/sealed"
)

const (
	keyARN = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	alias  = "alias/seipbot"
)

// fakeKMS speaks the two operations of the KMS API the provider uses, as
// AWS documents them: POST / with the AWS JSON 1.1 protocol, the operation
// in X-Amz-Target, binary fields as base64, and errors as a 400 with
// "__type". It holds one key, reachable by ARN or alias, and binds each
// data key to its encryption context as KMS does.
type fakeKMS struct {
	t      *testing.T
	master cipher.AEAD
	region string

	mu       sync.Mutex
	contexts []map[string]string // the encryption context of each call
}

func newFakeKMS(t *testing.T, region string) (*fakeKMS, *httptest.Server) {
	block, err := aes.NewCipher(randomBytes(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	master, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeKMS{t: t, master: master, region: region}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// request holds the fields of both operations' requests.
type request struct {
	KeyID             string            `json:"KeyId"`
	KeySpec           string            `json:"KeySpec"`
	CiphertextBlob    []byte            `json:"CiphertextBlob"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.fail(w, "UnsupportedOperationException", r.Method+" "+r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		f.fail(w, "SerializationException", "content type "+ct)
		return
	}
	// A signed request names the region and service it was signed for.
	scope := "/" + f.region + "/kms/aws4_request"
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, scope) {
		f.fail(w, "IncompleteSignatureException", "want a SigV4 signature for "+scope)
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.fail(w, "SerializationException", err.Error())
		return
	}
	f.mu.Lock()
	f.contexts = append(f.contexts, req.EncryptionContext)
	f.mu.Unlock()
	if req.KeyID != "" && req.KeyID != keyARN && req.KeyID != alias {
		f.fail(w, "NotFoundException", "Key '"+req.KeyID+"' does not exist")
		return
	}
	// KMS authenticates the context with the ciphertext: a blob decrypts
	// only with the context it was made with.
	aad, _ := json.Marshal(req.EncryptionContext)
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "TrentService.GenerateDataKey":
		if req.KeySpec != "AES_256" {
			f.fail(w, "ValidationException", "KeySpec "+req.KeySpec)
			return
		}
		plain := randomBytes(f.t, 32)
		f.reply(w, map[string]any{
			"KeyId":          keyARN,
			"Plaintext":      plain,
			"CiphertextBlob": f.master.Seal(nil, nil, plain, aad),
		})
	case "TrentService.Decrypt":
		plain, err := f.master.Open(nil, nil, req.CiphertextBlob, aad)
		if err != nil {
			f.fail(w, "InvalidCiphertextException", "")
			return
		}
		f.reply(w, map[string]any{"KeyId": keyARN, "Plaintext": plain, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
	default:
		f.fail(w, "UnknownOperationException", target)
	}
}

// seen returns the encryption contexts of the calls so far.
func (f *fakeKMS) seen() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.contexts)
}

func (f *fakeKMS) reply(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if err := json.NewEncoder(w).Encode(body); err != nil {
		f.t.Error(err)
	}
}

// fail writes a KMS error, which the JSON protocol sends as a 400.
func (f *fakeKMS) fail(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

// client is a KMS client for the fake with static test credentials.
func client(srv *httptest.Server) *kms.Client {
	return kms.New(kms.Options{
		Region:       "eu-central-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	})
}

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
	fake, srv := newFakeKMS(t, "eu-central-1")
	p := &awskms.Provider{Client: client(srv), KeyID: alias, Path: filepath.Join(t.TempDir(), "keyring.json")}
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
	if !bytes.Contains(data, []byte(keyARN)) {
		t.Error("the file does not name the KMS key it needs")
	}
	if fi, err := os.Stat(p.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v (%v); want 0600", fi.Mode().Perm(), err)
	}
	for i, c := range fake.seen() {
		if len(c) != 1 || c["purpose"] != "seipbot-keyring" {
			t.Errorf("call %d had encryption context %v; want purpose=seipbot-keyring, which the IAM policy requires", i, c)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	_, srv := newFakeKMS(t, "eu-central-1")
	ctx := context.Background()
	dir := t.TempDir()
	p := &awskms.Provider{Client: client(srv), KeyID: keyARN, Path: filepath.Join(dir, "keyring.json")}
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
		{"not JSON", []byte("seipbot1:abc"), keyARN, func(err error) bool { return errors.Is(err, awskms.ErrFormat) }},
		{"other format", []byte(`{"format":"other/1"}`), keyARN, func(err error) bool { return errors.Is(err, awskms.ErrFormat) }},
		{"keyring altered", altered("keyring"), keyARN, func(err error) bool { return errors.Is(err, awskms.ErrFormat) }},
		{"data key altered", altered("data_key"), keyARN, func(err error) bool {
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
		_, err := (&awskms.Provider{Client: p.Client, KeyID: keyARN, Path: filepath.Join(dir, "none")}).Load(ctx)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load: %v; want not exist", err)
		}
	})
}

func TestSaveRefuses(t *testing.T) {
	fake, srv := newFakeKMS(t, "eu-central-1")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyring.json")
	p := &awskms.Provider{Client: client(srv), KeyID: keyARN, Path: path}
	if err := p.Save(ctx, "not-a-key"); err == nil {
		t.Error("Save took a malformed keyring")
	}
	if len(fake.seen()) > 0 {
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
	_, srv := newFakeKMS(t, "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	c, err := awskms.NewClient(ctx, "eu-west-1", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &awskms.Provider{Client: c, KeyID: alias, Path: filepath.Join(t.TempDir(), "keyring.json")}
	if err := p.Save(ctx, newKeys(t, 1)[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
}
