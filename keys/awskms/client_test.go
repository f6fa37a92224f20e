package awskms

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestServiceHost(t *testing.T) {
	for region, want := range map[string]string{
		"eu-central-1":    "kms.eu-central-1.amazonaws.com",
		"us-gov-west-1":   "kms.us-gov-west-1.amazonaws.com",
		"cn-north-1":      "kms.cn-north-1.amazonaws.com.cn",
		"eusc-de-east-1":  "kms.eusc-de-east-1.amazonaws.eu",
		"us-iso-east-1":   "kms.us-iso-east-1.c2s.ic.gov",
		"us-isob-east-1":  "kms.us-isob-east-1.sc2s.sgov.gov",
		"us-isof-south-1": "kms.us-isof-south-1.csp.hci.ic.gov",
		"eu-isoe-west-1":  "kms.eu-isoe-west-1.cloud.adc-e.uk",
	} {
		if got := serviceHost("kms", region); got != want {
			t.Errorf("serviceHost(kms, %s) = %s; want %s", region, got, want)
		}
	}
}

// TestAPIError reads the error type in each form the JSON protocol allows:
// in the X-Amzn-ErrorType header, possibly with details after ':', or in
// the body's __type, possibly after a namespace and '#'.
func TestAPIError(t *testing.T) {
	for _, tc := range []struct {
		header, body string
		typ, msg     string
	}{
		{"", `{"__type":"NotFoundException","message":"Key 'x' does not exist"}`, "NotFoundException", "Key 'x' does not exist"},
		{"", `{"__type":"com.amazonaws.kms#InvalidCiphertextException","Message":"bad"}`, "InvalidCiphertextException", "bad"},
		{"AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/", `{"message":"denied"}`, "AccessDeniedException", "denied"},
		{"", `not json`, "Bad Request", ""},
	} {
		resp := &http.Response{StatusCode: 400, Header: http.Header{}}
		if tc.header != "" {
			resp.Header.Set("X-Amzn-ErrorType", tc.header)
		}
		var e *Error
		if err := apiError(resp, []byte(tc.body)); !errors.As(err, &e) || e.Type != tc.typ || e.Message != tc.msg || e.Status != 400 {
			t.Errorf("apiError(%q, %s) = %v; want %s: %s", tc.header, tc.body, err, tc.typ, tc.msg)
		}
	}
}

// TestClientRetries asks again when KMS throttles or fails on its side,
// and not when the request itself is wrong.
func TestClientRetries(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if typ := fail.Load().(string); typ != "" && (n == 1 || typ == "NotFoundException") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"`+typ+`","message":"no"}`)
			return
		}
		key := base64.StdEncoding.EncodeToString(make([]byte, 32))
		_, _ = io.WriteString(w, `{"KeyId":"arn:k","Plaintext":"`+key+`","CiphertextBlob":"`+key+`"}`)
	}))
	t.Cleanup(srv.Close)
	c := New("eu-west-1", srv.URL, credentials.NewStaticCredentialsProvider("AKID", "secret", ""))
	ctx := context.Background()

	fail.Store("ThrottlingException")
	if dk, err := c.GenerateDataKey(ctx, "alias/k", nil); err != nil || dk.KeyID != "arn:k" || calls.Load() != 2 {
		t.Errorf("after one throttling answer: %v, %d calls; want success on the second", err, calls.Load())
	}
	calls.Store(0)
	fail.Store("NotFoundException")
	var e *Error
	if _, err := c.GenerateDataKey(ctx, "alias/k", nil); !errors.As(err, &e) || e.Type != "NotFoundException" || calls.Load() != 1 {
		t.Errorf("a missing key: %v, %d calls; want NotFoundException after one call", err, calls.Load())
	}
}

// TestWebIdentityError passes STS's error on, with its code and message.
func TestWebIdentityError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Token expired</Message></Error>
  <RequestId>1</RequestId>
</ErrorResponse>`)
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newWebIdentity("eu-west-1", srv.URL, "arn:aws:iam::1:role/r", "", file).Retrieve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "InvalidIdentityToken") || !strings.Contains(err.Error(), "Token expired") {
		t.Errorf("Retrieve: %v; want STS's code and message", err)
	}
	if _, err := newWebIdentity("eu-west-1", srv.URL, "r", "", file+".none").Retrieve(context.Background()); err == nil || !strings.Contains(err.Error(), "web identity token") {
		t.Errorf("Retrieve without a token file: %v", err)
	}
}
