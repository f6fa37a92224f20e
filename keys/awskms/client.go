package awskms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client makes the two KMS calls a keyring file needs, GenerateDataKey and
// Decrypt, through KMS's HTTP API as AWS documents it: a POST of JSON
// (the AWS JSON 1.1 protocol) naming the operation in X-Amz-Target, signed
// with Signature Version 4 by the SDK's signer. The SDK's KMS client would
// bring its whole service model into every seipbot process, to be built at
// each start; two operations do not need it.
type Client struct {
	region   string
	endpoint string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	http     *http.Client
}

// New returns a client for KMS in region, at endpoint, or KMS's own
// endpoint for the region when endpoint is empty, signing with the
// credentials creds gives.
func New(region, endpoint string, creds aws.CredentialsProvider) *Client {
	if endpoint == "" {
		endpoint = "https://" + serviceHost("kms", region)
	}
	return &Client{
		region:   region,
		endpoint: strings.TrimSuffix(endpoint, "/") + "/",
		creds:    creds,
		signer:   v4.NewSigner(),
		http:     &http.Client{Timeout: 30 * time.Second},
	}
}

// Region returns the region the client signs for.
func (c *Client) Region() string { return c.region }

// DataKey is a data key KMS generated: in the clear, and encrypted under
// the KMS key, whose ARN KeyID is.
type DataKey struct {
	KeyID          string `json:"KeyId"`
	Plaintext      []byte `json:"Plaintext"`
	CiphertextBlob []byte `json:"CiphertextBlob"`
}

// GenerateDataKey asks KMS for a new 256-bit data key under keyID, bound
// to encryptionContext.
func (c *Client) GenerateDataKey(ctx context.Context, keyID string, encryptionContext map[string]string) (*DataKey, error) {
	var out DataKey
	err := c.call(ctx, "GenerateDataKey", map[string]any{
		"KeyId":             keyID,
		"KeySpec":           "AES_256",
		"EncryptionContext": encryptionContext,
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Decrypt asks KMS to decrypt blob, a data key encrypted under keyID with
// encryptionContext, and returns the data key.
func (c *Client) Decrypt(ctx context.Context, keyID string, blob []byte, encryptionContext map[string]string) ([]byte, error) {
	var out struct {
		Plaintext []byte `json:"Plaintext"`
	}
	err := c.call(ctx, "Decrypt", map[string]any{
		"KeyId":             keyID,
		"CiphertextBlob":    blob,
		"EncryptionContext": encryptionContext,
	}, &out)
	return out.Plaintext, err
}

// Error is an error KMS answered with.
type Error struct {
	Status int
	// Type is the error's name, such as NotFoundException or
	// InvalidCiphertextException.
	Type    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("KMS: %s (HTTP %d)", e.Type, e.Status)
	}
	return fmt.Sprintf("KMS: %s: %s (HTTP %d)", e.Type, e.Message, e.Status)
}

// retryable reports whether KMS may answer the same request differently
// when asked again: it was busy, or failed on its side.
func (e *Error) retryable() bool {
	return e.Status >= 500 || e.Type == "ThrottlingException" || e.Type == "KMSInternalException"
}

// attempts is how many times a call is made before its error is returned,
// with a pause growing from 200 ms between them: KMS throttles bursts, and
// a keyring that cannot be read stops the bot from starting.
const attempts = 3

// maxResponse bounds what is read of an answer; KMS's are under a kilobyte.
const maxResponse = 1 << 20

func (c *Client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	pause := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = c.attempt(ctx, op, body, payloadHash, out)
		var kerr *Error
		if err == nil || attempt == attempts || ctx.Err() != nil || (errors.As(err, &kerr) && !kerr.retryable()) {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
		pause *= 2
	}
}

// attempt sends one signed request for op and decodes the answer into out.
func (c *Client) attempt(ctx context.Context, op string, body []byte, payloadHash string, out any) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("AWS credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	if err := c.signer.SignHTTP(ctx, creds, req, payloadHash, "kms", c.region, time.Now().UTC()); err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return apiError(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("KMS answered %s with malformed JSON: %w", op, err)
	}
	return nil
}

// apiError reads KMS's error: its type from X-Amzn-ErrorType or the body's
// "__type", either of which may carry a namespace before '#' and details
// after ':', and its message from "message" or "Message".
func apiError(resp *http.Response, data []byte) error {
	var body struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		MessageC string `json:"Message"`
	}
	_ = json.Unmarshal(data, &body)
	typ := resp.Header.Get("X-Amzn-ErrorType")
	if typ == "" {
		typ = body.Type
	}
	typ, _, _ = strings.Cut(typ, ":")
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	if typ == "" {
		typ = http.StatusText(resp.StatusCode)
	}
	msg := body.Message
	if msg == "" {
		msg = body.MessageC
	}
	return &Error{Status: resp.StatusCode, Type: typ, Message: msg}
}

// partitions maps region prefixes to the domain of AWS's endpoints in that
// partition, most specific first; other regions are in the aws partition.
var partitions = []struct{ prefix, domain string }{
	{"cn-", "amazonaws.com.cn"},
	{"eusc-", "amazonaws.eu"},
	{"us-isob-", "sc2s.sgov.gov"},
	{"us-isof-", "csp.hci.ic.gov"},
	{"us-iso-", "c2s.ic.gov"},
	{"eu-isoe-", "cloud.adc-e.uk"},
}

// serviceHost returns the host of service's regional endpoint in region.
func serviceHost(service, region string) string {
	for _, p := range partitions {
		if strings.HasPrefix(region, p.prefix) {
			return service + "." + region + "." + p.domain
		}
	}
	return service + "." + region + ".amazonaws.com"
}
