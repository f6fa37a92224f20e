// Package store defines the small key/value interface every piece of seipbot
// state goes through. Backends deal in bytes only; encoding, encryption and
// locking are layered on top (see store/sealed), so a new backend has little
// to implement and cannot get encryption wrong.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get when a key does not exist or has expired.
var ErrNotFound = errors.New("store: key not found")

// ErrClosed is returned by every method once Close has been called.
var ErrClosed = errors.New("store: closed")

// ErrUnavailable is wrapped by the errors of a backend that cannot reach its
// server (Redis down, a network partition, a failover in progress). The
// failure is expected to pass, so callers tell users to try again rather
// than report a bug.
var ErrUnavailable = errors.New("store: unavailable")

// Store is a key/value store of byte values.
//
// Keys are UTF-8 strings shaped "bucket/rest" (for example
// "reminders/01HZX…"); the first segment names the bucket, which backends may
// use to group records and which sealed uses, with the rest of the key, as
// associated data. A key without a slash, such as "x", lives in the bucket
// "default" but is a different key from "default/x". A key is not empty and
// does not start with a slash, so every bucket has a name.
//
// Values cross the interface as copies: the store keeps neither the slice
// passed to Put nor the one fn returns to Update, and what Get, Scan and
// Update hand out may be changed by the caller without changing the store.
// Run store/storetest against every implementation.
type Store interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key. A ttl above zero makes the record expire
	// after that long; zero means it never expires.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Scan calls fn for every live key starting with prefix, in ascending
	// key order. An error returned by fn stops the scan and is returned.
	// fn must not call back into the store; the value is only valid during
	// the call.
	Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
	// Update atomically replaces the value under key with what fn returns.
	// fn receives the current value, or nil when the key is absent. If fn
	// returns an error nothing is written and Update returns that error; if
	// it returns a nil slice the key is deleted. A replaced record keeps its
	// expiry, if it had one; a record created by Update does not expire.
	Update(ctx context.Context, key string, fn func(current []byte) ([]byte, error)) error
	// Close releases the store. It is safe to call more than once.
	Close() error
}

// Entry is one record for Batcher.PutBatch: a value under a key, with a
// ttl as Put takes it.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// Batcher is the optional ability of a Store to write several records at
// once: all of them or none, durably when its Puts are, and at the cost of
// one Put in a store that syncs to disk. A caller that must keep several
// records before it answers (an alert and the messages about it) then
// waits for one commit instead of one per record. Later entries win over
// earlier ones with the same key. Use PutAll, which falls back to Puts.
type Batcher interface {
	PutBatch(ctx context.Context, entries []Entry) error
}

// PutAll writes entries to s: in one PutBatch when s is a Batcher,
// otherwise with one Put each, in order, stopping at the first error (so
// some may be stored when it fails).
func PutAll(ctx context.Context, s Store, entries []Entry) error {
	if b, ok := s.(Batcher); ok {
		return b.PutBatch(ctx, entries)
	}
	for _, e := range entries {
		if err := s.Put(ctx, e.Key, e.Value, e.TTL); err != nil {
			return err
		}
	}
	return nil
}

// SplitKey returns the bucket and the rest of key.
func SplitKey(key string) (bucket, rest string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "default", key
}
