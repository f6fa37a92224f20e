package matrix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// state is what the adapter keeps between runs, in Options.StateFile. It
// holds no credential: a password login is repeated at start-up, on the
// same device.
type state struct {
	// UserID is whose state it is; a file left by another account is
	// ignored rather than trusted.
	UserID string `json:"user_id"`
	// DeviceID is reused at each password login, so the account does not
	// gather a new device every restart.
	DeviceID string `json:"device_id,omitempty"`
	// NextBatch is the sync position after the last events delivered: a
	// restart goes on from there, neither replaying them nor missing what
	// was said while the bot was down.
	NextBatch string `json:"next_batch,omitempty"`
}

// loadState reads the state file; a missing file is an empty state.
func loadState(path string) (state, error) {
	var st state
	if path == "" {
		return st, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("matrix: state file: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("matrix: state file %s: %w; delete it to start over (the bot then skips what was said while it was down)", path, err)
	}
	return st, nil
}

// saveState writes the state file by renaming a complete new file over the
// old, so a crash mid-write leaves the old position rather than a torn one.
func saveState(path string, st state) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("matrix: state file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".matrix-state-*")
	if err != nil {
		return fmt.Errorf("matrix: state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("matrix: state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("matrix: state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("matrix: state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("matrix: state file: %w", err)
	}
	return nil
}
