package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/keys/awskms/kmstest"
)

// keyID matches a key id keygen --kms names; the space before it keeps
// out hex digits inside the paths it prints.
var keyID = regexp.MustCompile(` ([0-9a-f]{8})\b`)

// keyIDs returns the key ids in out, in order.
func keyIDs(out string) []string {
	var ids []string
	for _, m := range keyID.FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestKMSKeyring runs the life of a KMS-held keyring against a fake KMS
// reached through the configuration, as the bot reaches a VPC endpoint: the
// first key, the shell using it, a rotation, a re-encryption, and the old
// key dropped. No step may show a key: not the output, not the file.
func TestKMSKeyring(t *testing.T) {
	fake := kmstest.New(t, "eu-central-1")
	kmstest.SetCredentialsEnv(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	keyring := filepath.Join(dir, "keyring.kms.json")
	cfgFile := filepath.Join(dir, "seipbot.yaml")
	cfg := "data_dir: " + dataDir + "\nsecret_key_provider:\n  kind: aws-kms\n  key_id: " + kmstest.Alias +
		"\n  region: eu-central-1\n  endpoint: " + fake.URL + "\n  keyring_file: " + keyring + "\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// run runs one command that must succeed and show no key, and checks
	// that the keyring file holds none in the clear.
	run := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, strings.NewReader(stdin), nil, append(args, "--config", cfgFile)...)
		if code != 0 {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
		if strings.Contains(out+errOut, "seipbot1:") {
			t.Fatalf("%s printed a key", strings.Join(args, " "))
		}
		if data, err := os.ReadFile(keyring); err != nil || strings.Contains(string(data), "seipbot1") {
			t.Fatalf("the keyring file (%v) holds a key in the clear", err)
		}
		return out
	}
	listed := func(step string) {
		t.Helper()
		if out := run("remind list\n", "shell", "--user", "alice"); !strings.Contains(out, "Your reminders (1):") || !strings.HasSuffix(strings.TrimSpace(out), "  x") {
			t.Fatalf("%s: remind list answered %q; want the reminder x", step, out)
		}
	}

	out := run("", "keygen", "--kms")
	first := keyIDs(out)
	if len(first) != 1 || !strings.Contains(out, "Created the keyring") {
		t.Fatalf("first keygen --kms printed %q; want one key id", out)
	}

	out = run("remind me in 1h to x\n", "shell", "--user", "alice")
	if !strings.Contains(out, "OK, I'll remind you") {
		t.Fatalf("the shell answered %q", out)
	}
	listed("first key")
	if _, err := os.Stat(filepath.Join(dataDir, keyFile)); err == nil {
		t.Error("the shell made its own key file although the keyring comes from KMS")
	}

	out = run("", "keygen", "--kms")
	rotated := keyIDs(out)
	if len(rotated) != 2 || rotated[1] != first[0] || rotated[0] == first[0] || !strings.Contains(out, "seipbot reencrypt") {
		t.Fatalf("the second keygen --kms printed %q; want a new key id, then %s, then what to do next", out, first[0])
	}
	listed("new key in front")

	if out := run("", "reencrypt"); !strings.Contains(out, "keygen --kms --drop-old") {
		t.Errorf("reencrypt printed %q; want the next step", out)
	}
	out = run("", "keygen", "--kms", "--drop-old")
	if kept := keyIDs(out); len(kept) != 1 || kept[0] != rotated[0] {
		t.Fatalf("keygen --kms --drop-old printed %q; want only key %s", out, rotated[0])
	}
	// The old key is gone, so this reads only what reencrypt moved.
	listed("old key dropped")
}
