package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the shell writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// session is a shell whose stdin stays open until the test closes it, as a
// person's terminal would.
type session struct {
	in   *io.PipeWriter
	out  *syncBuffer
	done chan int
}

// startShell starts a shell keeping its files in dataDir, with env added
// to its environment.
func startShell(t *testing.T, dataDir string, env ...string) *session {
	t.Helper()
	return startShellWith(t, dataDir, nil, env...)
}

// startShellWith starts a shell as startShell does, with args added to its
// command line.
func startShellWith(t *testing.T, dataDir string, args []string, env ...string) *session {
	t.Helper()
	r, w := io.Pipe()
	s := &session{in: w, out: &syncBuffer{}, done: make(chan int, 1)}
	c := &cli{stdin: r, stdout: s.out, stderr: io.Discard, env: append([]string{"HOME=" + dataDir}, env...)}
	go func() {
		s.done <- c.main(context.Background(), append([]string{"shell", "--data-dir", dataDir, "--user", "alice"}, args...))
	}()
	return s
}

func (s *session) say(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

// await waits for the shell to print want, failing after a generous bound
// that only a broken bot reaches.
func (s *session) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the shell never printed %q; it printed:\n%s", want, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *session) close(t *testing.T) {
	t.Helper()
	s.in.Close()
	if code := <-s.done; code != 0 {
		t.Fatalf("shell exited %d", code)
	}
}

func TestReminderIsDeliveredAndStoredSealed(t *testing.T) {
	dir := t.TempDir()
	s := startShell(t, dir)
	s.say(t, "remind me in 1s to rotate-the-canary-token")
	s.await(t, "OK, I'll remind you")
	assertNoPlaintext(t, dir, "rotate-the-canary-token")
	s.await(t, "Reminder: rotate-the-canary-token")
	s.close(t)
}

func TestReminderSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startShell(t, dir)
	s.say(t, "remind me in 1s to check-the-firewall")
	s.await(t, "OK, I'll remind you")
	s.close(t) // the bot stops before the reminder is due
	if strings.Contains(s.out.String(), "Reminder:") {
		t.Fatal("the reminder fired before the restart")
	}
	time.Sleep(1200 * time.Millisecond)
	s = startShell(t, dir)
	s.await(t, "Reminder: check-the-firewall (late: it was due at")
	// The scheduler removes an entry just after its handler returns, so a
	// list straight after the reminder may still show it: ask until not.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.out.String(), "You have no reminders.") {
		if time.Now().After(deadline) {
			t.Fatalf("the delivered reminder stays listed; the shell printed:\n%s", s.out.String())
		}
		s.say(t, "remind list")
		time.Sleep(100 * time.Millisecond)
	}
	s.close(t)
}

// assertNoPlaintext fails if any file under dir contains text.
func assertNoPlaintext(t *testing.T, dir, text string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(text)) {
			t.Errorf("%s holds %q in plaintext", path, text)
		}
		return nil
	})
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: seipbot\nstore:\n  kind: mysql\nrate_limit:\n  per_minute: lots\nbogus: 1\n"), 0o600)
	clash := filepath.Join(dir, "clash.yaml")
	os.WriteFile(clash, []byte("commands:\n  - command: ping\n    reply: hi\n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		env     []string
		code    int
		out     string
		errText string
	}{
		{"no args", nil, nil, 0, "Commands:", ""},
		{"unknown", []string{"frob"}, nil, 2, "", `"frob" is not a seipbot command`},
		{"version", []string{"version"}, nil, 0, "seipbot dev", ""},
		{"keygen", []string{"keygen"}, nil, 0, "seipbot1:", ""},
		{"keygen --kms without a provider", []string{"keygen", "--kms"}, nil, 2, "", "--kms needs secret_key_provider"},
		{"keygen --drop-old without --kms", []string{"keygen", "--drop-old"}, nil, 2, "", "--drop-old and --config go with --kms"},
		{"shell help", []string{"shell", "--help"}, nil, 0, "", "--room"},
		{"bad flag", []string{"shell", "--rooom", "x"}, nil, 2, "", "flag provided but not defined"},
		{"run without adapter", []string{"run"}, []string{"SEIPBOT_SECRET_KEY=x"}, 1, "", "no chat adapter is configured"},
		{"run without key", []string{"run", "--data-dir", dir}, []string{"SEIPBOT_ADAPTERS_SHELL_USER=bob"}, 1, "", "no secret key is configured"},
		{"config check ok", []string{"config", "check"}, nil, 0, "The configuration is valid.", ""},
		{"config check bad", []string{"config", "check", "--config", bad}, nil, 1, "", "bogus: unknown key"},
		{"config check clash", []string{"config", "check", "--config", clash}, nil, 1, "", `command "ping"`},
		{"config print redacts", []string{"config", "print"}, []string{"SEIPBOT_SECRET_KEY=hunter2hunter2"}, 0, "secret_key: '[redacted]'", ""},
		{"config alone", []string{"config"}, nil, 2, "", `say "config check" or "config print"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, strings.NewReader(""), tt.env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.errText) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", code, out, errOut, tt.code, tt.out, tt.errText)
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Error("a secret was printed")
			}
		})
	}
}

func TestScriptApprovalsNeedAPolicyRule(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	os.MkdirAll(plugins, 0o700)
	os.WriteFile(filepath.Join(plugins, "wipe.sh"), []byte("#!/bin/sh\necho wiped\n"), 0o755)
	os.WriteFile(filepath.Join(plugins, "wipe.yaml"), []byte(`type: script
program: wipe.sh
commands:
  - words: wipe host
    help: wipe a host
    permission: hosts.wipe
    approvals: 1
`), 0o600)
	base := "plugins: {dir: " + plugins + ", poll: 0s}\naccess:\n  groups: {admins: [\"shell:admin\"]}\n  roles: {admin: {permissions: [\"*\"]}}\n  grants: [{group: admins, role: admin}]\n"
	without := filepath.Join(dir, "without.yaml")
	os.WriteFile(without, []byte(base), 0o600)
	with := filepath.Join(dir, "with.yaml")
	os.WriteFile(with, []byte(base+"  approvals: [{permission: hosts.*, approvals: 1, approvers: admin}]\n"), 0o600)

	code, _, errOut := runCLI(t, strings.NewReader(""), nil, "config", "check", "--config", without)
	if code != 1 || !strings.Contains(errOut, `a manifest asks for 1 approval(s) for "hosts.wipe"; add an access.approvals rule`) {
		t.Errorf("without a rule: exit %d, %q", code, errOut)
	}
	code, out, errOut := runCLI(t, strings.NewReader(""), nil, "config", "check", "--config", with)
	if code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("with a rule: exit %d, %q %q", code, out, errOut)
	}
}
