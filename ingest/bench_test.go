package ingest_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/ingest"
)

func BenchmarkVerify(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "github_push.json"))
	if err != nil {
		b.Fatal(err)
	}
	gh := &ingest.GitHub{Secret: secret}
	ghReq := httptest.NewRequest("POST", "/hooks/github", strings.NewReader(""))
	ghReq.Header.Set("X-Hub-Signature-256", githubSig(secret, body))
	gen := &ingest.Generic{Secret: secret, Now: clock}
	genReq := httptest.NewRequest("POST", "/hooks/generic", strings.NewReader(""))
	ts, sig := ingest.Sign(secret, now, body)
	genReq.Header.Set("X-Seipbot-Timestamp", ts)
	genReq.Header.Set("X-Seipbot-Signature", sig)
	for _, bc := range []struct {
		name   string
		verify func() error
	}{
		{"github", func() error { _, err := gh.Verify(ghReq, body); return err }},
		{"generic", func() error { _, err := gen.Verify(genReq, body); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := bc.verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
