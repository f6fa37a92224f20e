package ingest_test

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// raw posts the fuzzed bytes exactly as they are, with no credential, so
// that each source's signature check reads an arbitrary request.
const raw = "raw"

// FuzzWebhook posts arbitrary bodies to every source through the whole
// server (body limit, verification, replay guard, parsing, the alert
// manager's routing and rendering) in every signing mode. Whatever the
// body, the server answers 202, 400 or 401 without panicking; a refused
// request says nothing in a room; a request that is unsigned or signed with
// the wrong secret is refused as unauthorized, before its body is parsed.
func FuzzWebhook(f *testing.F) {
	srcs := cases(f)
	names := slices.Sorted(maps.Keys(srcs))
	modes := []string{valid, invalid, missing, stale, raw}
	for i, name := range names {
		for _, fx := range srcs[name].fixtures {
			body, err := os.ReadFile(filepath.Join("testdata", name+"_"+fx+".json"))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), uint8(0), fx, body)
		}
	}
	f.Fuzz(func(t *testing.T, src, mode uint8, event string, body []byte) {
		name := names[int(src)%len(names)]
		c, m := srcs[name], modes[int(mode)%len(modes)]
		h, rec := newServer(t, c.src)
		var r *http.Request
		if m == raw {
			r = post("/hooks/"+name, body)
		} else {
			// The event names the fixture, which sets GitHub's event header.
			r = c.build(t, event, body, m, "d1")
		}
		w := send(h, r)
		switch w.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("%s, %s: status %d (%s)", name, m, w.Code, strings.TrimSpace(w.Body.String()))
		}
		if said := rec.texts(); w.Code != http.StatusAccepted && len(said) > 0 {
			t.Fatalf("%s, %s: refused with %d, yet said %q", name, m, w.Code, said)
		}
		// Falco's window is on the event's own time, in the body, so a
		// stale or valid Falco request may also be unreadable or too old.
		refuse := m == invalid || m == missing || m == raw || m == stale && c.hasWindow && name != "falco"
		if refuse && w.Code != http.StatusUnauthorized {
			t.Fatalf("%s, %s: status %d (%s), want 401", name, m, w.Code, strings.TrimSpace(w.Body.String()))
		}
		// The SNS case signs the body as a JSON string, which cannot carry
		// invalid UTF-8 as it was signed; SNS itself never sends any.
		if m == valid && name != "falco" && (name != "sns" || utf8.Valid(body)) && w.Code == http.StatusUnauthorized {
			t.Fatalf("%s: a validly signed request was refused as unauthorized (%s)", name, strings.TrimSpace(w.Body.String()))
		}
	})
}
