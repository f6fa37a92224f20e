package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary files to Load, seeded with every configuration
// under testdata. Load must not panic, must say the same thing each time
// (golden error files depend on it), and a configuration it accepts must
// print (config print) and, with no secret hidden, read back as printed.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "seipbot.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, testEnv)
		cfg2, err2 := Load(path, testEnv)
		if err != nil {
			if err2 == nil || err.Error() != err2.Error() {
				t.Fatalf("Load said %q, then %v", err, err2)
			}
			return
		}
		printed, err := cfg.Redacted()
		if err != nil {
			t.Fatalf("Load accepted the file, but it does not print: %v", err)
		}
		again, err := cfg2.Redacted()
		if err != nil || !bytes.Equal(printed, again) {
			t.Fatalf("the same file printed differently:\n%s\n---\n%s", printed, again)
		}
		if bytes.Contains(printed, []byte("[redacted]")) {
			return
		}
		if err := os.WriteFile(path, printed, 0o600); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path, testEnv)
		if err != nil {
			t.Fatalf("the printed configuration does not load: %v\n%s", err, printed)
		}
		if reprinted, _ := back.Redacted(); !bytes.Equal(reprinted, printed) {
			t.Fatalf("the printed configuration reads back differently:\n%s\n---\n%s", printed, reprinted)
		}
	})
}
