package script

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	secretToken = "s3cret-token-do-not-print"
	secretKey   = "file-key-do-not-print"
)

const cveManifest = `
type: http
timeout: 2s
http:
  base_url_env: CVE_API_URL
  headers:
    - {name: Authorization, prefix: "Bearer ", from_env: CVE_API_TOKEN}
    - {name: X-Api-Key, from_file: key.txt}
commands:
  - words: cve
    help: look up a CVE
    args:
      - {name: id, kind: word, pattern: "CVE-[0-9]{4}-[0-9]{4,}"}
      - {name: detail, kind: word, flag: true, default: short}
    path: /api/cve/{id}?detail={detail}
    template: "{{.JSON.id}} (CVSS {{.JSON.cvss}}): {{.JSON.summary}}{{with .JSON.echo}} [{{.}}]{{end}}"
  - words: raw path
    help: any word in a path
    args: [{name: p, kind: word}]
    path: /raw/{p}
    template: "{{.JSON.path}}"
`

// cveAPI answers like an internal CVE API that insists on both secrets;
// CVE-2024-0002 echoes the Authorization header back, as a careless API
// might.
func cveAPI(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secretToken || r.Header.Get("X-Api-Key") != secretKey {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if p, ok := strings.CutPrefix(r.URL.EscapedPath(), "/raw/"); ok {
			json.NewEncoder(w).Encode(map[string]string{"path": p + "?" + r.URL.RawQuery})
			return
		}
		resp := map[string]any{"id": strings.TrimPrefix(r.URL.Path, "/api/cve/"), "cvss": json.Number("9.8"), "summary": "detail=" + r.URL.Query().Get("detail")}
		switch resp["id"] {
		case "CVE-2024-0002":
			resp["echo"] = r.Header.Get("Authorization")
		case "CVE-2024-4040":
			http.NotFound(w, r)
			return
		case "CVE-2024-5000":
			http.Error(w, "database down "+r.Header.Get("Authorization"), http.StatusInternalServerError)
			return
		case "CVE-2024-9999":
			w.Write([]byte(strings.Repeat("x", 2<<20)))
			return
		}
		json.NewEncoder(w).Encode(resp)
	}))
}

func TestHTTPCommand(t *testing.T) {
	srv := cveAPI(t)
	defer srv.Close()
	env := map[string]string{"CVE_API_URL": srv.URL, "CVE_API_TOKEN": secretToken}
	fx := open(t, Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		map[string]string{"cve.yaml": cveManifest, "key.txt": secretKey + "\n"})
	tests := []struct {
		line, want string
	}{
		{"cve CVE-2024-1234", "CVE-2024-1234 (CVSS 9.8): detail=short"},
		{"cve CVE-2024-1234 --detail full&x=1", "CVE-2024-1234 (CVSS 9.8): detail=full&x=1"},
		{"cve CVE-2024-0002", "CVE-2024-0002 (CVSS 9.8): detail=short [Bearer [redacted]]"},
		{"cve CVE-2024-4040", `"cve" found nothing for that.`},
		{"cve CVE-2024-5000", `"cve" failed: its API answered 500 Internal Server Error`},
		{"cve CVE-2024-9999", "larger than 1048576 bytes"},
		{"cve ../../admin", "is not in the form"},
		{"raw path a/b?c=d#e", "a%2Fb%3Fc=d%23e?"},
		{"raw path ..", `<p> cannot be ".."`},
	}
	for _, tt := range tests {
		got := fx.say(t, tt.line)
		if len(got) != 1 || !strings.Contains(got[0], tt.want) {
			t.Errorf("%q answers %q, want %q", tt.line, got, tt.want)
		}
		for _, g := range got {
			if strings.Contains(g, secretToken) || strings.Contains(g, secretKey) {
				t.Errorf("%q: the reply shows a secret: %q", tt.line, g)
			}
		}
	}
	log := fx.log.String()
	if strings.Contains(log, secretToken) || strings.Contains(log, secretKey) {
		t.Errorf("the log shows a secret:\n%s", log)
	}
	if !strings.Contains(log, "http command ran") {
		t.Errorf("runs are not logged:\n%s", log)
	}
}

func TestHTTPMissingSecret(t *testing.T) {
	srv := cveAPI(t)
	defer srv.Close()
	env := map[string]string{"CVE_API_URL": srv.URL}
	fx := open(t, Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		map[string]string{"cve.yaml": cveManifest, "key.txt": secretKey})
	got := fx.say(t, "cve CVE-2024-1234")
	if len(got) != 1 || !strings.HasPrefix(got[0], "That failed (error id ") {
		t.Errorf("answers %q, want an internal error", got)
	}
	if !strings.Contains(fx.log.String(), "variable CVE_API_TOKEN is not set") || strings.Contains(fx.log.String(), secretKey) {
		t.Errorf("log:\n%s", fx.log)
	}
}

func TestURLTemplate(t *testing.T) {
	args := []*arg{{Name: "a"}, {Name: "b"}}
	ut, err := parseURLTemplate("/x/{a}/y?q={b}&r={a}", args)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ut.expand(map[string]string{"a": "a b/../c?d", "b": "1&x=2 #"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/x/a%20b%2F..%2Fc%3Fd/y?q=1%26x%3D2+%23&r=a+b%2F..%2Fc%3Fd"; got != want {
		t.Errorf("expand = %q, want %q", got, want)
	}
}
