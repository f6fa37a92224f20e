package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/bolt"
)

// TestDoneWhen is the acceptance run: an analyst is refused a
// sensitive command with a reason, an admin runs it, both attempts are in
// the export, verify passes, and fails once a byte of the audit data is
// flipped in the raw file.
func TestDoneWhen(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "seipbot.yaml")
	os.WriteFile(cfg, []byte(`
access:
  groups:
    admins: ["shell:admin1"]
    analysts: ["shell:analyst1"]
  roles:
    admin: {permissions: ["*"]}
    analyst: {permissions: ["alerts.*"]}
  grants:
    - {group: admins, role: admin}
    - {group: analysts, role: analyst}
`), 0o600)
	common := []string{"--config", cfg, "--data-dir", dir}
	shell := func(user, line string) string {
		t.Helper()
		code, out, errOut := runCLI(t, strings.NewReader(line+"\n"), nil, append([]string{"shell", "--user", user}, common...)...)
		if code != 0 {
			t.Fatalf("shell exit %d: %s", code, errOut)
		}
		return out
	}
	if out := shell("analyst1", "audit tail"); !strings.Contains(out, `You may not run "audit tail": it needs the permission "audit.tail", which none of your roles grants; ask an admin to grant it.`) {
		t.Fatalf("the analyst was not refused with a reason:\n%s", out)
	}
	if out := shell("admin1", "audit tail"); !strings.Contains(out, `shell:analyst1 in `) || !strings.Contains(out, `audit tail count="10" → denied`) {
		t.Fatalf("the admin's audit tail does not show the analyst's refusal:\n%s", out)
	}

	code, export, errOut := runCLI(t, strings.NewReader(""), nil, append([]string{"audit", "export", "--since", "1h", "--format", "jsonl"}, common...)...)
	if code != 0 {
		t.Fatalf("export exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`"identity":"shell:analyst1","room":"`, `"command":"audit tail","args":[{"name":"count","value":"10"}],"decision":"denied"`,
		`"identity":"shell:admin1"`, `"decision":"allowed","result":"ok"`, `"kind":"policy"`,
	} {
		if !strings.Contains(export, want) {
			t.Errorf("the export lacks %s:\n%s", want, export)
		}
	}
	if code, out, errOut := runCLI(t, strings.NewReader(""), nil, append([]string{"audit", "verify"}, common...)...); code != 0 || !strings.Contains(out, "The audit log is intact: 4 records") {
		t.Fatalf("verify: exit %d, %q, %q", code, out, errOut)
	}

	flipAuditByte(t, filepath.Join(dir, "seipbot.db"))
	code, out, errOut := runCLI(t, strings.NewReader(""), nil, append([]string{"audit", "verify"}, common...)...)
	if code != 1 || !strings.Contains(errOut, "the chain breaks at record") || !strings.Contains(errOut, "audit/") {
		t.Fatalf("verify after a flipped byte: exit %d, %q, %q", code, out, errOut)
	}
}

// flipAuditByte flips one byte in the middle of the last audit segment as
// it lies in the bolt file.
func flipAuditByte(t *testing.T, path string) {
	t.Helper()
	raw, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var value []byte
	var st store.Store = raw
	st.Scan(context.Background(), "audit/", func(_ string, v []byte) error {
		value = bytes.Clone(v)
		return nil
	})
	raw.Close()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(file, value)
	if len(value) == 0 || at < 0 {
		t.Fatal("no audit segment found in the file")
	}
	file[at+len(value)/2] ^= 0x40
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
}
