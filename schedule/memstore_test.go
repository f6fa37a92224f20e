package schedule

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/store"
)

// memStore is the least store.Store these tests need, standing in until
// store/memory exists. It ignores ttl, which the scheduler never sets.
type memStore struct {
	mu   sync.Mutex
	data map[string][]byte
}

var _ store.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{data: make(map[string][]byte)} }

func (m *memStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (m *memStore) Put(_ context.Context, key string, value []byte, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = bytes.Clone(value)
	return nil
}

func (m *memStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

func (m *memStore) Scan(_ context.Context, prefix string, fn func(string, []byte) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(m.data)) {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if err := fn(k, m.data[k]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Update(_ context.Context, key string, fn func([]byte) ([]byte, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := fn(m.data[key])
	if err != nil {
		return err
	}
	if v == nil {
		delete(m.data, key)
	} else {
		m.data[key] = bytes.Clone(v)
	}
	return nil
}

func (m *memStore) Close() error { return nil }
