package deploy

import (
	"os"
	"os/exec"
	"testing"
)

// tool returns the path of an external validator: the one named by the
// environment variable env, else name on PATH. Without one the test is
// skipped on a developer's machine, but fails under CI=true, so that CI
// cannot go green by silently checking less.
func tool(t *testing.T, env, name, install string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := name + " is not installed; run " + install + " (or set " + env + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// run runs a validator and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}
