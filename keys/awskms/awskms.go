// Package awskms keeps seipbot's keyring in a file encrypted under an AWS
// KMS key, so that the keys that seal the store are never in the
// configuration, the environment or a secret store in the clear: reading
// them takes both the file and the right to use the KMS key, which IAM
// grants to the bot's role alone and CloudTrail records.
//
// The file is an envelope. Save asks KMS for a fresh 256-bit data key
// (GenerateDataKey), seals the keyring text with it using AES-256-GCM, and
// stores the sealed keyring beside the data key as KMS encrypted it. Load
// asks KMS to decrypt the data key (Decrypt) and opens the keyring. Both
// calls carry the encryption context purpose=seipbot-keyring, which KMS
// binds into the ciphertext and IAM policies can require, so the bot's
// role can be limited to this one use of the key.
package awskms

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/seipbot/seipbot/store/sealed"
)

// format names the file's layout; it is also the associated data of the
// sealed keyring, so a file of another layout cannot be mistaken for it.
const format = "seipbot-kms-keyring/1"

// encryptionContext is sent with every KMS call; see the package comment.
var encryptionContext = map[string]string{"purpose": "seipbot-keyring"}

// ErrFormat is wrapped by the error for a file that is not a keyring file
// this package wrote, or whose sealed keyring fails to open.
var ErrFormat = errors.New("awskms: not a valid keyring file")

// KMS is what the provider asks of KMS; *Client does it.
type KMS interface {
	GenerateDataKey(ctx context.Context, keyID string, encryptionContext map[string]string) (*DataKey, error)
	Decrypt(ctx context.Context, keyID string, blob []byte, encryptionContext map[string]string) ([]byte, error)
}

var _ KMS = (*Client)(nil)

// Provider loads and saves the keyring file Path under the KMS key KeyID
// (a key id, key ARN, alias name or alias ARN).
type Provider struct {
	Client KMS
	KeyID  string
	Path   string
}

// file is the keyring file's JSON form. Binary fields are base64, as
// encoding/json writes []byte.
type file struct {
	Format string `json:"format"`
	// KeyID is the ARN of the KMS key, as KMS reported it, for people
	// reading the file; Decrypt is given the configured KeyID instead.
	KeyID string `json:"kms_key_id"`
	// DataKey is the data key as KMS encrypted it.
	DataKey []byte `json:"data_key"`
	// Keyring is the keyring text sealed with the data key: AES-256-GCM,
	// random nonce first.
	Keyring []byte `json:"keyring"`
}

// NewClient makes a KMS client for region, or else AWS_REGION or
// AWS_DEFAULT_REGION; endpoint, when set, replaces KMS's (a VPC endpoint,
// or a test server). Its credentials come from the first source the
// environment names: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with
// AWS_SESSION_TOKEN); a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE and
// AWS_ROLE_ARN, as IRSA sets them); the container endpoint (the ECS task
// role, EKS Pod Identity); else the EC2 instance profile, unless
// AWS_EC2_METADATA_DISABLED=true. Shared config and credentials files and
// SSO profiles are not read: the SDK's code for them would add some 2 MB to
// every seipbot process, which runs in containers that have none. An admin
// with an SSO profile exports its credentials to the environment first.
// It makes no request.
func NewClient(region, endpoint string) (*Client, error) {
	region = cmp.Or(region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		return nil, errors.New("awskms: no AWS region: set the key provider's region, or AWS_REGION")
	}
	// The region becomes part of a host name.
	if strings.Trim(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return nil, fmt.Errorf("awskms: AWS region %q is not a region name such as eu-central-1", region)
	}
	creds, err := credentialsFromEnv(region)
	if err != nil {
		return nil, err
	}
	return New(region, endpoint, creds), nil
}

// Load reads the keyring file, has KMS decrypt its data key and returns
// the keyring.
func (p *Provider) Load(ctx context.Context) (*sealed.Keyring, error) {
	text, err := p.read(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(text)
	kr, err := sealed.ParseKeyring(string(text))
	if err != nil {
		return nil, fmt.Errorf("awskms: %s: %w", p.Path, err)
	}
	return kr, nil
}

// Save checks keyring (the text form ParseKeyring takes, "NEW,OLD" while
// rotating), seals it under a fresh data key and replaces the file
// atomically, so that a crash leaves the old file or the new one.
func (p *Provider) Save(ctx context.Context, keyring string) error {
	_, err := p.save(ctx, keyring)
	return err
}

// Rotate makes newKey the current key of the keyring in the file and keeps
// the keys already there after it, so that what they sealed still opens
// until a re-encryption has moved it; with no file yet, the keyring is
// newKey alone. A file that exists but does not open is an error, never
// replaced: that would lose the keys it holds. It returns the new keyring,
// so that the caller can name its keys without ever handling their text.
func (p *Provider) Rotate(ctx context.Context, newKey string) (*sealed.Keyring, error) {
	old, err := p.read(ctx)
	defer clear(old)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p.save(ctx, newKey)
	case err != nil:
		return nil, err
	}
	return p.save(ctx, newKey+","+string(old))
}

// DropOld leaves only the current key in the keyring file and returns the
// new keyring. What the old keys sealed can no longer be read, so it is
// for after every record has been re-encrypted under the current key.
func (p *Provider) DropOld(ctx context.Context) (*sealed.Keyring, error) {
	text, err := p.read(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(text)
	current, _, _ := strings.Cut(string(text), ",")
	return p.save(ctx, strings.TrimSpace(current))
}

// read returns the keyring text of the file, for the caller to clear.
func (p *Provider) read(ctx context.Context) ([]byte, error) {
	data, err := os.ReadFile(p.Path)
	if err != nil {
		return nil, fmt.Errorf("awskms: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil || f.Format != format {
		return nil, fmt.Errorf("%w: %s", ErrFormat, p.Path)
	}
	dataKey, err := p.Client.Decrypt(ctx, p.KeyID, f.DataKey, encryptionContext)
	if err != nil {
		return nil, fmt.Errorf("awskms: decrypt the data key of %s with %s: %w", p.Path, p.KeyID, err)
	}
	defer clear(dataKey)
	aead, err := newAEAD(dataKey)
	if err != nil {
		return nil, err
	}
	text, err := aead.Open(nil, nil, f.Keyring, []byte(format))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the keyring does not open with its data key", ErrFormat, p.Path)
	}
	return text, nil
}

// save is Save returning the keyring it checked.
func (p *Provider) save(ctx context.Context, keyring string) (*sealed.Keyring, error) {
	kr, err := sealed.ParseKeyring(keyring)
	if err != nil {
		return nil, fmt.Errorf("awskms: %w", err)
	}
	out, err := p.Client.GenerateDataKey(ctx, p.KeyID, encryptionContext)
	if err != nil {
		return nil, fmt.Errorf("awskms: generate a data key with %s: %w", p.KeyID, err)
	}
	defer clear(out.Plaintext)
	aead, err := newAEAD(out.Plaintext)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(file{
		Format:  format,
		KeyID:   out.KeyID,
		DataKey: out.CiphertextBlob,
		Keyring: aead.Seal(nil, nil, []byte(keyring), []byte(format)),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("awskms: %w", err)
	}
	if err := writeAtomic(p.Path, append(data, '\n')); err != nil {
		return nil, err
	}
	return kr, nil
}

// newAEAD returns AES-256-GCM with a random nonce prepended to each
// ciphertext, for a data key from KMS.
func newAEAD(dataKey []byte) (cipher.AEAD, error) {
	if len(dataKey) != 32 {
		return nil, fmt.Errorf("awskms: KMS returned a %d-byte data key; want 32", len(dataKey))
	}
	block, err := aes.NewCipher(dataKey)
	if err != nil {
		return nil, fmt.Errorf("awskms: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("awskms: %w", err)
	}
	return aead, nil
}

// writeAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, readable by the owner only.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keyring-*")
	if err != nil {
		return fmt.Errorf("awskms: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("awskms: write %s: %w", path, err)
	}
	return nil
}
