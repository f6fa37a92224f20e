package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
)

// Verification failures. A source's Verify returns an error wrapping one of
// them; the server answers 401 to each and counts them by kind.
var (
	ErrUnsigned     = errors.New("no signature or credential")
	ErrBadSignature = errors.New("signature or credential does not match")
	ErrReplayed     = errors.New("replayed or outside the time window")
)

// reason names a verification failure for metrics and logs.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrUnsigned):
		return "missing"
	case errors.Is(err, ErrBadSignature):
		return "invalid"
	case errors.Is(err, ErrReplayed):
		return "replayed"
	}
	return ""
}

// checkHMAC compares a hex HMAC-SHA256 of msg under secret with sig, which
// may carry a "sha256=" prefix, in constant time.
func checkHMAC(secret, sig string, msg ...[]byte) error {
	if sig == "" {
		return ErrUnsigned
	}
	want := sigHex(secret, msg...)
	if !hmac.Equal([]byte(sig), []byte(want)) && !hmac.Equal([]byte("sha256="+sig), []byte(want)) {
		return ErrBadSignature
	}
	return nil
}

// sigHex returns "sha256=" and the hex HMAC-SHA256 of msg under secret.
func sigHex(secret string, msg ...[]byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	for _, m := range msg {
		mac.Write(m)
	}
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// checkToken compares a shared token in constant time.
func checkToken(want, got string) error {
	if got == "" {
		return ErrUnsigned
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return ErrBadSignature
	}
	return nil
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// inWindow rejects a timestamp further than window from now, either way:
// a clock ahead of ours must not make a captured request valid for longer.
func inWindow(ts, now time.Time, window time.Duration) error {
	if d := now.Sub(ts); d > window || d < -window {
		return ErrReplayed
	}
	return nil
}

// seen remembers the deliveries accepted within a window, so that a
// captured request sent again is refused even though its signature holds.
type seen struct {
	mu     sync.Mutex
	window time.Duration
	ids    map[string]time.Time
	swept  time.Time
}

func newSeen(window time.Duration) *seen {
	return &seen{window: window, ids: map[string]time.Time{}}
}

func (s *seen) has(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.ids[id]
	return ok && now.Sub(t) < s.window
}

// add records id; expired ids are swept once a window, which keeps the cost
// per request constant.
func (s *seen) add(id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[id] = now
	if now.Sub(s.swept) >= s.window {
		for k, t := range s.ids {
			if now.Sub(t) >= s.window {
				delete(s.ids, k)
			}
		}
		s.swept = now
	}
}
