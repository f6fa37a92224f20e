// Package kmstest runs a fake AWS KMS for tests of code that keeps its
// keyring with package awskms. No real KMS can run in a test, so the fake
// is written from the documented protocol. Its own test drives it with the
// AWS SDK's KMS client as well as seipbot's, so the requests, signatures
// and errors it takes and gives are those of the SDK's view of KMS.
package kmstest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/seipbot/seipbot/keys/awskms"
)

// The one key the fake holds, reachable by its ARN or its alias. Any other
// key id gets NotFoundException, as KMS answers for a key that does not
// exist.
const (
	KeyARN = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	Alias  = "alias/seipbot"
)

// Server speaks the two operations of the KMS API package awskms uses, as
// AWS documents them: POST / with the AWS JSON 1.1 protocol, the operation
// in X-Amz-Target, binary fields as base64, and errors as a 400 with
// "__type". It binds each data key to its encryption context as KMS does,
// and refuses requests not signed with SigV4 for its region.
type Server struct {
	*httptest.Server
	t      testing.TB
	master cipher.AEAD
	region string

	mu       sync.Mutex
	contexts []map[string]string // the encryption context of each call
	keyIDs   []string            // the access key id each call was signed with
}

// New starts a fake KMS in region, closed when the test ends.
func New(t testing.TB, region string) *Server {
	block, err := aes.NewCipher(randomBytes(32))
	if err != nil {
		t.Fatal(err)
	}
	master, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, master: master, region: region}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// randomBytes relies on crypto/rand.Read, which never returns an error.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Client returns a KMS client for the server with static test credentials,
// for tests that build the client themselves.
func (s *Server) Client() *awskms.Client {
	return awskms.New(s.region, s.URL, credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""))
}

// credentialsEnv lists the variables awskms.NewClient takes credentials
// from.
var credentialsEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT",
}

// ClearCredentialsEnv empties every variable awskms.NewClient takes
// credentials from and disables instance metadata, so that a test neither
// uses the machine's own AWS credentials nor waits for a metadata service.
// A test then sets the variables of the source it tries.
func ClearCredentialsEnv(t testing.TB) {
	for _, v := range credentialsEnv {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// SetCredentialsEnv gives awskms.NewClient static test credentials in the
// environment, and no other source.
func SetCredentialsEnv(t testing.TB) {
	ClearCredentialsEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
}

// AccessKeyIDs returns the access key ids the calls so far were signed
// with, which show where the client took its credentials from.
func (s *Server) AccessKeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keyIDs)
}

// Contexts returns the encryption contexts of the calls so far.
func (s *Server) Contexts() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.contexts)
}

// request holds the fields of both operations' requests.
type request struct {
	KeyID             string            `json:"KeyId"`
	KeySpec           string            `json:"KeySpec"`
	CiphertextBlob    []byte            `json:"CiphertextBlob"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		s.fail(w, "UnsupportedOperationException", r.Method+" "+r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		s.fail(w, "SerializationException", "content type "+ct)
		return
	}
	// A signed request names the region and service it was signed for.
	scope := "/" + s.region + "/kms/aws4_request"
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, scope) {
		s.fail(w, "IncompleteSignatureException", "want a SigV4 signature for "+scope)
		return
	}
	// The credential is "Credential=<access key id>/<date>" + scope.
	_, cred, _ := strings.Cut(auth, "Credential=")
	keyID, _, _ := strings.Cut(cred, "/")
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	s.contexts = append(s.contexts, req.EncryptionContext)
	s.keyIDs = append(s.keyIDs, keyID)
	s.mu.Unlock()
	if req.KeyID != "" && req.KeyID != KeyARN && req.KeyID != Alias {
		s.fail(w, "NotFoundException", "Key '"+req.KeyID+"' does not exist")
		return
	}
	// KMS authenticates the context with the ciphertext: a blob decrypts
	// only with the context it was made with.
	aad, _ := json.Marshal(req.EncryptionContext)
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "TrentService.GenerateDataKey":
		if req.KeySpec != "AES_256" {
			s.fail(w, "ValidationException", "KeySpec "+req.KeySpec)
			return
		}
		plain := randomBytes(32)
		s.reply(w, map[string]any{
			"KeyId":          KeyARN,
			"Plaintext":      plain,
			"CiphertextBlob": s.master.Seal(nil, nil, plain, aad),
		})
	case "TrentService.Decrypt":
		plain, err := s.master.Open(nil, nil, req.CiphertextBlob, aad)
		if err != nil {
			s.fail(w, "InvalidCiphertextException", "")
			return
		}
		s.reply(w, map[string]any{"KeyId": KeyARN, "Plaintext": plain, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
	default:
		s.fail(w, "UnknownOperationException", target)
	}
}

func (s *Server) reply(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if err := json.NewEncoder(w).Encode(body); err != nil {
		s.t.Error(err)
	}
}

// fail writes a KMS error, which the JSON protocol sends as a 400.
func (s *Server) fail(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
