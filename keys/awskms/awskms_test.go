package awskms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
			var e *awskms.Error
			return errors.As(err, &e) && e.Type == "InvalidCiphertextException"
		}},
		{"another KMS key", good, "alias/other", func(err error) bool {
			var e *awskms.Error
			return errors.As(err, &e) && e.Type == "NotFoundException"
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
	var nf *awskms.Error
	if err := p.Save(ctx, newKeys(t, 1)[0]); !errors.As(err, &nf) || nf.Type != "NotFoundException" {
		t.Errorf("Save with a missing key: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed Save left a file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) > 0 {
		t.Errorf("a failed Save left %d files behind", len(entries))
	}
}

// saveLoad makes a client with NewClient, from the environment the test
// set, and saves and loads a keyring through the fake KMS with it. It
// fails the test unless every call was signed with the access key id want.
func saveLoad(t *testing.T, want string) {
	t.Helper()
	fake := kmstest.New(t, "eu-west-1")
	ctx := context.Background()
	c, err := awskms.NewClient("eu-west-1", fake.URL)
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
	if ids := fake.AccessKeyIDs(); len(ids) != 2 || ids[0] != want || ids[1] != want {
		t.Errorf("KMS calls signed with access key ids %q; want %q", ids, want)
	}
}

// TestNewClient takes credentials from the environment, as the bot does
// when they are given to it as variables, the region given, and the
// endpoint replaced.
func TestNewClient(t *testing.T) {
	kmstest.SetCredentialsEnv(t)
	saveLoad(t, "AKIDTEST")
}

// expiration is a time the credentials of the tests' endpoints expire at,
// in the form the endpoints write it.
var expiration = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

// TestNewClientContainer takes credentials from the container endpoint, as
// an ECS task or an EKS pod with Pod Identity does. The server answers as
// AWS documents the endpoint: a GET with the authorization token, answered
// with the role's temporary credentials as JSON.
func TestNewClientContainer(t *testing.T) {
	const token = "pod-identity-token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/credentials" {
			http.Error(w, `{"code":"NotFound","message":"no such path"}`, http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != token {
			http.Error(w, `{"code":"AccessDenied","message":"bad token"}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "container-secret",
			"Token": "container-session", "Expiration": expiration,
		})
	}))
	t.Cleanup(srv.Close)
	for _, byFile := range []bool{false, true} {
		name := map[bool]string{false: "token", true: "token file"}[byFile]
		t.Run(name, func(t *testing.T) {
			kmstest.ClearCredentialsEnv(t)
			t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v1/credentials")
			if byFile {
				file := filepath.Join(t.TempDir(), "token")
				if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file)
			} else {
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token)
			}
			saveLoad(t, "ASIACONTAINER")
		})
	}
}

// TestNewClientContainerHost refuses to send the authorization token in
// the clear to a host that is neither loopback nor a container
// credentials address. NewClient makes no request, so nothing is sent.
func TestNewClientContainerHost(t *testing.T) {
	kmstest.ClearCredentialsEnv(t)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/v1/credentials")
	if _, err := awskms.NewClient("eu-west-1", ""); err == nil || !strings.Contains(err.Error(), "AWS_CONTAINER_CREDENTIALS_FULL_URI") {
		t.Errorf("NewClient with a plain-HTTP remote endpoint: %v; want an error naming the variable", err)
	}
}

// TestNewClientIMDS takes the EC2 instance profile's credentials from
// instance metadata with IMDSv2, as AWS documents it: a PUT for a session
// token, then with the token a GET of the role's name and a GET of its
// credentials.
func TestNewClientIMDS(t *testing.T) {
	const token, role = "imds-session-token", "seipbot-role"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			ttl := r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds")
			if ttl == "" {
				http.Error(w, "", http.StatusBadRequest)
				return
			}
			w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", ttl)
			_, _ = io.WriteString(w, token)
			return
		}
		if r.Method != http.MethodGet || r.Header.Get("X-aws-ec2-metadata-token") != token {
			http.Error(w, "", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/iam/security-credentials/":
			_, _ = io.WriteString(w, role)
		case "/latest/meta-data/iam/security-credentials/" + role:
			_ = json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "LastUpdated": time.Now().UTC().Format(time.RFC3339), "Type": "AWS-HMAC",
				"AccessKeyId": "ASIAINSTANCE", "SecretAccessKey": "instance-secret",
				"Token": "instance-session", "Expiration": expiration,
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	kmstest.ClearCredentialsEnv(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
	saveLoad(t, "ASIAINSTANCE")
}

// TestNewClientWebIdentity assumes a role with a web identity token, as
// IRSA on EKS does: the token file is sent to STS's
// AssumeRoleWithWebIdentity (the query protocol, unsigned), which answers
// with the role's credentials in XML.
func TestNewClientWebIdentity(t *testing.T) {
	const jwt, roleARN = "header.payload.signature", "arn:aws:iam::111122223333:role/seipbot"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost ||
			r.Form.Get("Action") != "AssumeRoleWithWebIdentity" || r.Form.Get("RoleArn") != roleARN ||
			r.Form.Get("WebIdentityToken") != jwt || r.Form.Get("RoleSessionName") != "seipbot-test" {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAWEBIDENTITY</AccessKeyId>
      <SecretAccessKey>web-identity-secret</SecretAccessKey>
      <SessionToken>web-identity-session</SessionToken>
      <Expiration>`+expiration+`</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::111122223333:assumed-role/seipbot/seipbot-test</Arn>
      <AssumedRoleId>AROAEXAMPLE:seipbot-test</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`)
	}))
	t.Cleanup(srv.Close)
	kmstest.ClearCredentialsEnv(t)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", file)
	t.Setenv("AWS_ROLE_ARN", roleARN)
	t.Setenv("AWS_ROLE_SESSION_NAME", "seipbot-test")
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	saveLoad(t, "ASIAWEBIDENTITY")

	// The SDK's own provider takes the same answer from the same server,
	// so the server answers as STS does.
	sdk := stscreds.NewWebIdentityRoleProvider(sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL)}),
		roleARN, stscreds.IdentityTokenFile(file), func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "seipbot-test" })
	creds, err := sdk.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "ASIAWEBIDENTITY" || creds.SessionToken != "web-identity-session" {
		t.Errorf("the SDK's web identity provider: %v, %q", err, creds.AccessKeyID)
	}
}

// TestNewClientNoCredentials: with no source of credentials, NewClient
// says which variables to set rather than failing at the first KMS call.
func TestNewClientNoCredentials(t *testing.T) {
	kmstest.ClearCredentialsEnv(t)
	_, err := awskms.NewClient("eu-west-1", "")
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") || !strings.Contains(err.Error(), "AWS_WEB_IDENTITY_TOKEN_FILE") {
		t.Errorf("NewClient without credentials: %v; want an error naming the variables to set", err)
	}
}

// TestNewClientNoRegion: the region comes from the argument or the
// environment, and without one NewClient says so.
func TestNewClientNoRegion(t *testing.T) {
	kmstest.SetCredentialsEnv(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := awskms.NewClient("", ""); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("NewClient without a region: %v; want an error about the region", err)
	}
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-1")
	if c, err := awskms.NewClient("", ""); err != nil || c.Region() != "eu-west-1" {
		t.Errorf("NewClient with AWS_DEFAULT_REGION: %v; want region eu-west-1", err)
	}
}
