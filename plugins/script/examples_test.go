package script

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestExamples runs the plugins shipped under examples/plugins, the CVE
// lookup against a local stand-in for the internal API.
func TestExamples(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer example-token" || r.URL.Path != "/api/v1/cve/CVE-2021-44228" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "CVE-2021-44228", "cvss": json.Number("10.0"), "severity": "critical",
			"summary":    "Log4Shell: remote code execution in Apache Log4j 2.",
			"references": []string{"https://logging.apache.org/log4j/2.x/security.html"},
		})
	}))
	defer api.Close()
	env := map[string]string{"CVE_API_URL": api.URL, "CVE_API_TOKEN": "example-token"}
	log := &syncBuffer{}
	f, err := Open(Options{
		Dir:        "../../examples/plugins",
		Logger:     slog.New(slog.NewTextHandler(log, nil)),
		LookupEnv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ScopeCheck: inScope,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := f.Reload(t.Context()); len(rep.Problems) > 0 {
		t.Fatalf("the examples do not load: %v", rep.Problems)
	}
	fx := &fixture{log: log, f: f}
	tests := []struct {
		line string
		want []string
	}{
		{"hash sha256 hello world", []string{"```\nb94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9\n```"}},
		{"hash md5 $(reboot)", []string{"```\n" + "00b71c9561f4ada3aaeb438e86cb4f48" + "\n```"}},
		{"cve CVE-2021-44228", []string{"**CVE-2021-44228** CVSS 10.0 (critical)\nLog4Shell: remote code execution in Apache Log4j 2.\n- https://logging.apache.org/log4j/2.x/security.html"}},
		{"cve CVE-2021-4", []string{`<id> "CVE-2021-4" is not in the form "cve" expects; see "help cve".`}},
		{"lookup 8.8.8.8", []string{"8.8.8.8 is outside the scope this bot may touch; ask an admin to add it to the scan scope."}},
		{"lookup 10.0.0.1", []string{"0% — resolving 10.0.0.1", "10.0.0.1 resolves to:\n```\n10.0.0.1\n```"}},
	}
	for _, tt := range tests {
		if got := fx.say(t, tt.line); !slices.Equal(got, tt.want) {
			t.Errorf("%q answers\n%q\nwant\n%q", tt.line, got, tt.want)
		}
	}
	if strings.Contains(log.String(), "example-token") {
		t.Errorf("the log shows the token:\n%s", log)
	}
}
