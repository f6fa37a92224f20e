// Package sealed wraps a store.Store so that every value is encrypted at
// rest with AES-256-GCM.
//
// A sealed value is
//
//	version (1 byte, 1) | key id (4 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// with the version, the key id and the record's full key as associated
// data: a value altered, or copied to another key, fails to open instead of
// being read as that key's. Keys stay in the clear, so the inner store can
// still sort and scan them; do not put secrets in keys.
//
// Keys come from a Keyring (see ParseKeyring for their form). The inner
// store must hold only records written through sealed.
package sealed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seipbot/seipbot/store"
)

var (
	_ store.Store   = (*Store)(nil)
	_ store.Batcher = (*Store)(nil)
)

// Store is a store.Store that seals values before they reach its inner
// store. Make one with New.
type Store struct {
	inner store.Store
	kr    *Keyring
}

// New returns a Store that seals values with kr's current key and stores
// them in inner. Closing the Store closes inner.
func New(inner store.Store, kr *Keyring) *Store {
	return &Store{inner: inner, kr: kr}
}

// open decrypts the value raw stored under key.
func (s *Store) open(key string, raw []byte) ([]byte, error) {
	plaintext, err := s.kr.Open(raw, []byte(key))
	if errors.Is(err, ErrTampered) {
		return nil, fmt.Errorf("sealed: record %q was altered, copied from another key, or never sealed: %w", key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("sealed: record %q: %w", key, err)
	}
	return plaintext, nil
}

// seal encrypts plaintext for key with the current key.
func (s *Store) seal(key string, plaintext []byte) []byte {
	return s.kr.Seal(plaintext, []byte(key))
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	raw, err := s.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.open(key, raw)
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.inner.Put(ctx, key, s.seal(key, value), ttl)
}

// PutBatch implements store.Batcher by sealing each entry for its key and
// handing them on together; an inner store that cannot batch gets them one
// Put at a time (see store.PutAll).
func (s *Store) PutBatch(ctx context.Context, entries []store.Entry) error {
	sealed := make([]store.Entry, len(entries))
	for i, e := range entries {
		sealed[i] = store.Entry{Key: e.Key, Value: s.seal(e.Key, e.Value), TTL: e.TTL}
	}
	return store.PutAll(ctx, s.inner, sealed)
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.inner.Delete(ctx, key)
}

// Scan implements store.Store. A record that fails to open stops the scan
// with its error.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	return s.inner.Scan(ctx, prefix, func(key string, raw []byte) error {
		plaintext, err := s.open(key, raw)
		if err != nil {
			return err
		}
		return fn(key, plaintext)
	})
}

// Update implements store.Store: fn sees and returns plaintext, which is
// opened and sealed inside the inner store's Update.
func (s *Store) Update(ctx context.Context, key string, fn func(current []byte) ([]byte, error)) error {
	return s.inner.Update(ctx, key, func(raw []byte) ([]byte, error) {
		var current []byte
		if raw != nil {
			var err error
			if current, err = s.open(key, raw); err != nil {
				return nil, err
			}
		}
		next, err := fn(current)
		if err != nil || next == nil {
			return nil, err
		}
		return s.seal(key, next), nil
	})
}

// Close implements store.Store by closing the inner store.
func (s *Store) Close() error {
	return s.inner.Close()
}

// Reencrypt seals again, with the current key, every record of s that is
// sealed with another one, and returns how many it rewrote. It works
// through the inner store's Update, one record at a time, so the bot keeps
// running and records keep their expiry. When it returns without error,
// the old keys can be dropped from the keyring. It stops at the first
// record it cannot open, whose error names the key.
func Reencrypt(ctx context.Context, s *Store) (n int, err error) {
	current := s.kr.current().id
	// Collect first: Scan's fn must not call back into the store.
	var stale []string
	err = s.inner.Scan(ctx, "", func(key string, raw []byte) error {
		if id, ok := sealedWith(raw); !ok || id != current {
			stale = append(stale, key)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sealed: reencrypt: %w", err)
	}
	for _, key := range stale {
		rewrote := false
		err := s.inner.Update(ctx, key, func(raw []byte) ([]byte, error) {
			if raw == nil {
				// Deleted or expired since the scan.
				return nil, nil
			}
			if id, _ := sealedWith(raw); id == current {
				// Written again since the scan.
				return raw, nil
			}
			plaintext, err := s.open(key, raw)
			if err != nil {
				return nil, err
			}
			rewrote = true
			return s.seal(key, plaintext), nil
		})
		if err != nil {
			return n, fmt.Errorf("sealed: reencrypt: %w", err)
		}
		if rewrote {
			n++
		}
	}
	return n, nil
}
