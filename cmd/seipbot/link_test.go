package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinkKeepsOnlyCalledMethods builds the release binary and fails if
// anything in it looks methods up by name at run time. One such call (as
// in text/template's executor) makes the linker keep every exported method
// of every type the program holds: 15 MB of binary and 3 MB of resident
// memory, mostly the Redis and AWS clients' APIs. It also fails if a
// library seipbot replaced with a small client of its own is linked again:
// the Prometheus client library, whose package initialisation costs a
// megabyte and two milliseconds at every start, and the AWS SDK's KMS and
// STS clients, whose service models cost 2 MB of resident memory.
func TestLinkKeepsOnlyCalledMethods(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to link the binary: %v", err)
	}
	out := filepath.Join(t.TempDir(), "seipbot")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-dumpdep", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	// -dumpdep writes the linker's reachability graph to stderr.
	graph, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, tail(graph))
	}
	var reflective []string
	for line := range strings.Lines(string(graph)) {
		if strings.Contains(line, "<ReflectMethod>") {
			reflective = append(reflective, strings.TrimSpace(line))
		}
	}
	if len(reflective) > 0 {
		t.Errorf("functions that look methods up by name are linked into seipbot:\n%s", strings.Join(reflective, "\n"))
	}
	mods, err := exec.Command("go", "version", "-m", out).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, mods)
	}
	for _, m := range []string{"prometheus/client_golang", "google.golang.org/protobuf", "aws-sdk-go-v2/service/kms", "aws-sdk-go-v2/service/sts"} {
		if strings.Contains(string(mods), m) {
			t.Errorf("%s is linked into seipbot again", m)
		}
	}
}

// tail is the end of a long output, enough to show a build error.
func tail(b []byte) string {
	const n = 4000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
