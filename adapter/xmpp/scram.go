package xmpp

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// scram is the client side of one SCRAM exchange (RFC 5802, RFC 7677)
// without channel binding.
type scram struct {
	newHash         func() hash.Hash
	user, password  string
	clientNonce     string
	clientFirstBare string
	serverSig       []byte // expected server signature, set by clientFinal
	verified        bool
}

// gs2Header says the client does not support channel binding ("n"). Saying
// "y" instead would claim the client supports it but believes the server
// does not, which a server offering -PLUS rightly rejects as a downgrade.
const gs2Header = "n,,"

// Iteration bounds: fewer makes a captured exchange cheap to brute-force (a
// malicious or misconfigured server could ask for 1), and more than the
// upper bound would let a server make the client spin for minutes.
const (
	minIterations = 4096
	maxIterations = 1 << 22
)

func newSCRAM(newHash func() hash.Hash, user, password, clientNonce string) *scram {
	return &scram{newHash: newHash, user: user, password: password, clientNonce: clientNonce}
}

func (c *scram) clientFirst() []byte {
	// "=" and "," delimit attributes, so a user name escapes them. Full
	// SASLprep is left out: XMPP local parts are already nodeprepped.
	name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(c.user)
	c.clientFirstBare = "n=" + name + ",r=" + c.clientNonce
	return []byte(gs2Header + c.clientFirstBare)
}

// clientFinal answers the server-first message with the client's proof.
func (c *scram) clientFinal(serverFirst []byte) ([]byte, error) {
	attrs := scramAttrs(string(serverFirst))
	nonce, salt64, iter := attrs["r"], attrs["s"], attrs["i"]
	if !strings.HasPrefix(nonce, c.clientNonce) || len(nonce) == len(c.clientNonce) {
		return nil, errors.New("xmpp: scram: the server's nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return nil, errors.New("xmpp: scram: the server sent no valid salt")
	}
	n, err := strconv.Atoi(iter)
	if err != nil || n < minIterations || n > maxIterations {
		return nil, fmt.Errorf("xmpp: scram: refusing an iteration count of %q (want %d to %d)", iter, minIterations, maxIterations)
	}
	salted, err := pbkdf2.Key(c.newHash, c.password, salt, n, c.newHash().Size())
	if err != nil {
		return nil, fmt.Errorf("xmpp: scram: %w", err)
	}
	clientKey := c.mac(salted, "Client Key")
	h := c.newHash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)

	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2Header)) + ",r=" + nonce
	authMessage := c.clientFirstBare + "," + string(serverFirst) + "," + withoutProof
	sig := c.mac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.serverSig = c.mac(c.mac(salted, "Server Key"), authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verify checks the server-final message, which proves the server knew the
// password too and is not an impostor that accepts anything.
func (c *scram) verify(serverFinal []byte) error {
	attrs := scramAttrs(string(serverFinal))
	if e, ok := attrs["e"]; ok {
		return fmt.Errorf("%w (scram: %s)", errAuth, e)
	}
	v, err := base64.StdEncoding.DecodeString(attrs["v"])
	if err != nil || c.serverSig == nil || !hmac.Equal(v, c.serverSig) {
		return errors.New("xmpp: scram: the server's signature is wrong; it may not be the real server")
	}
	c.verified = true
	return nil
}

func (c *scram) mac(key []byte, msg string) []byte {
	m := hmac.New(c.newHash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramAttrs splits "a=1,b=2" into its attributes. Values may contain "="
// (base64 padding), so only the first one separates name from value.
func scramAttrs(msg string) map[string]string {
	attrs := map[string]string{}
	for part := range strings.SplitSeq(msg, ",") {
		if k, v, ok := strings.Cut(part, "="); ok {
			attrs[k] = v
		}
	}
	return attrs
}
