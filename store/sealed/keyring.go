package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// keyPrefix starts every key's text form. It names the form, so that a
// value pasted into the wrong setting is caught, and its "1" leaves room
// for another form later.
const keyPrefix = "seipbot1:"

// keySize is the length of an AES-256 key.
const keySize = 32

// keyEncoding is unpadded base64url, strict so that one key has exactly one
// text form.
var keyEncoding = base64.RawURLEncoding.Strict()

// keyID names a key in sealed records: the first 4 bytes of the SHA-256 of
// the key. It is derived rather than configured so that it cannot drift
// from the key, and 32 bits of a hash say nothing useful about a 256-bit key.
type keyID [4]byte

func (id keyID) String() string { return hex.EncodeToString(id[:]) }

// key is one parsed key, ready to seal and open.
type key struct {
	id     keyID
	secret []byte
	aead   cipher.AEAD
}

// Keyring holds the keys a sealed Store uses: the first, current key seals
// every write; every key opens records sealed with it. A Keyring prints as
// [redacted] with fmt and slog so that its keys stay out of logs.
type Keyring struct {
	keys []key
}

// NewKey returns a fresh random key in the form ParseKeyring accepts:
// "seipbot1:" followed by 32 random bytes in unpadded base64url (43
// characters).
func NewKey() (string, error) {
	secret := make([]byte, keySize)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("sealed: read random bytes for a key: %w", err)
	}
	return keyPrefix + keyEncoding.EncodeToString(secret), nil
}

// NewKeyring returns a keyring holding one fresh random key, for data that
// need not outlive the process (a configuration check, tests).
func NewKeyring() (*Keyring, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	return ParseKeyring(k)
}

// ParseKeyring parses one or more keys made by NewKey, separated by commas
// (spaces around them are ignored). The first key is the current one; list
// the old keys after it while rotating, until Reencrypt has moved every
// record to the current key. Errors name keys by position, never by value.
func ParseKeyring(s string) (*Keyring, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("sealed: the keyring is empty; set it to a key made by `seipbot keygen`")
	}
	parts := strings.Split(s, ",")
	kr := &Keyring{}
	for i, part := range parts {
		n := i + 1
		text := strings.TrimSpace(part)
		if text == "" {
			return nil, fmt.Errorf("sealed: key %d of %d in the keyring is empty; separate keys with single commas", n, len(parts))
		}
		body, ok := strings.CutPrefix(text, keyPrefix)
		if !ok {
			return nil, fmt.Errorf("sealed: key %d of %d does not start with %q; make keys with `seipbot keygen`", n, len(parts), keyPrefix)
		}
		secret, err := keyEncoding.DecodeString(body)
		if err != nil {
			return nil, fmt.Errorf("sealed: key %d of %d is not unpadded base64url after %q; make keys with `seipbot keygen`", n, len(parts), keyPrefix)
		}
		if len(secret) != keySize {
			return nil, fmt.Errorf("sealed: key %d of %d holds %d bytes but must hold %d; make keys with `seipbot keygen`", n, len(parts), len(secret), keySize)
		}
		k, err := newKey(secret)
		if err != nil {
			return nil, fmt.Errorf("sealed: key %d of %d: %w", n, len(parts), err)
		}
		for j, other := range kr.keys {
			if other.id == k.id {
				return nil, fmt.Errorf("sealed: key %d of %d repeats key %d; list each key once", n, len(parts), j+1)
			}
		}
		kr.keys = append(kr.keys, k)
	}
	return kr, nil
}

func newKey(secret []byte) (key, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return key{}, err
	}
	// The random-nonce GCM draws a fresh 12-byte nonce for every Seal and
	// carries it in front of the ciphertext, so no caller can reuse one.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return key{}, err
	}
	sum := sha256.Sum256(secret)
	return key{id: keyID(sum[:4]), secret: secret, aead: aead}, nil
}

// ErrTampered is wrapped by the error for a value that fails to open: it
// was altered, sealed with other associated data (a record copied from
// another key), or never sealed.
var ErrTampered = errors.New("sealed: record failed authentication")

// ErrUnknownKey is wrapped by the error for a value sealed with a key the
// keyring does not hold.
var ErrUnknownKey = errors.New("sealed: record sealed with a key not in the keyring")

const (
	version   = 1
	headerLen = 1 + len(keyID{})
)

// Seal encrypts plaintext with the current key, for the stores and the bus
// alike, as
//
//	version (1 byte, 1) | key id (4 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// authenticating the version, the key id and ad, which is not stored: Open
// must be given the same ad, so a value moved to another record or topic
// fails to open.
func (kr *Keyring) Seal(plaintext, ad []byte) []byte {
	k := kr.current()
	out := make([]byte, headerLen, headerLen+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	out[0] = version
	copy(out[1:], k.id[:])
	return k.aead.Seal(out, nil, plaintext, associated(out, ad))
}

// Open decrypts what Seal made with any key of the keyring and the same ad.
// It wraps ErrTampered or ErrUnknownKey when it cannot.
func (kr *Keyring) Open(sealed, ad []byte) ([]byte, error) {
	id, ok := sealedWith(sealed)
	if !ok {
		return nil, fmt.Errorf("no sealed header: %w", ErrTampered)
	}
	k := kr.lookup(id)
	if k == nil {
		return nil, fmt.Errorf("sealed with key id %s, which the keyring does not hold; add that key after the current one: %w", id, ErrUnknownKey)
	}
	plaintext, err := k.aead.Open(nil, nil, sealed[headerLen:], associated(sealed, ad))
	if err != nil {
		return nil, ErrTampered
	}
	if plaintext == nil {
		// Open gives nil for an empty plaintext, which Update's callers
		// would take for an absent record.
		plaintext = []byte{}
	}
	return plaintext, nil
}

// associated returns the data GCM authenticates besides the ciphertext:
// the header, so a version or key id cannot be swapped, and ad.
func associated(header, ad []byte) []byte {
	return append(header[:headerLen:headerLen], ad...)
}

// sealedWith returns the id of the key raw claims to be sealed with.
func sealedWith(raw []byte) (keyID, bool) {
	if len(raw) < headerLen || raw[0] != version {
		return keyID{}, false
	}
	return keyID(raw[1:headerLen]), true
}

// current is the key that seals.
func (kr *Keyring) current() *key { return &kr.keys[0] }

// lookup returns the key with id, or nil.
func (kr *Keyring) lookup(id keyID) *key {
	for i := range kr.keys {
		if kr.keys[i].id == id {
			return &kr.keys[i]
		}
	}
	return nil
}

// Derive returns a 32-byte subkey of the current key for purpose (for
// example "audit-checkpoint"), with HKDF-SHA-256. Different purposes get
// unrelated keys, none of which reveals the current key or the others.
// The subkey changes when the current key does.
func (kr *Keyring) Derive(purpose string) []byte {
	return derive(kr.current().secret, purpose)
}

func derive(secret []byte, purpose string) []byte {
	sub, err := hkdf.Key(sha256.New, secret, nil, "seipbot "+purpose, keySize)
	if err != nil {
		// hkdf.Key fails only for lengths above 255 hash sizes; 32 bytes
		// is far below, so this is a bug, not a condition to handle.
		panic("sealed: derive: " + err.Error())
	}
	return sub
}

// DeriveAll returns the subkeys for purpose of every key in the keyring,
// the current key's first, so that what was authenticated with a subkey of
// an older key (an audit checkpoint) still checks during a rotation.
func (kr *Keyring) DeriveAll(purpose string) [][]byte {
	subs := make([][]byte, len(kr.keys))
	for i := range kr.keys {
		subs[i] = derive(kr.keys[i].secret, purpose)
	}
	return subs
}

// IDs returns the ids of the keys, the current key's first, as sealed
// records name them. They tell keyrings apart for a person rotating keys
// without showing the keys: an id is 32 bits of a hash.
func (kr *Keyring) IDs() []string {
	ids := make([]string, len(kr.keys))
	for i := range kr.keys {
		ids[i] = kr.keys[i].id.String()
	}
	return ids
}

// redacted is what a Keyring prints as.
const redacted = "[redacted]"

// String returns "[redacted]".
func (Keyring) String() string { return redacted }

// Format prints "[redacted]" for every verb, %#v and %x included, which
// would otherwise print the fields.
func (Keyring) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// LogValue makes slog print "[redacted]", which its JSON handler would not
// take from Format.
func (Keyring) LogValue() slog.Value { return slog.StringValue(redacted) }
