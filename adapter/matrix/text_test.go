package matrix

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// sampleHTML is how adaptertest.MarkupSample reaches a Matrix client.
const sampleHTML = `<strong>Scan done</strong>: see <a href="https://example.com/r/1">the report</a>` +
	"<pre><code>open 22/tcp ssh\nopen 443/tcp https\n</code></pre>" +
	"Run <code>scan ports</code> again."

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name, in, body, html string
	}{
		{"sample", adaptertest.MarkupSample,
			"Scan done: see the report (https://example.com/r/1)\n```\nopen 22/tcp ssh\nopen 443/tcp https\n```\nRun `scan ports` again.",
			sampleHTML},
		{"plain text gets no HTML", "a < b & c\nnext line", "a < b & c\nnext line", ""},
		{"escaped", "**<b>** & `<i>`", "<b> & `<i>`", "<strong>&lt;b&gt;</strong> &amp; <code>&lt;i&gt;</code>"},
		{"line breaks", "**x**\ny", "x\ny", "<strong>x</strong><br>y"},
		{"language", "```go\nfmt.Println(1)\n```", "```go\nfmt.Println(1)\n```",
			`<pre><code class="language-go">fmt.Println(1)` + "\n</code></pre>"},
		{"unsafe link", "[click](javascript:alert(1))", "click (javascript:alert(1))", ""},
		{"bare link", "[https://x.org](https://x.org)", "https://x.org", `<a href="https://x.org">https://x.org</a>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, html := render(tc.in)
			if body != tc.body {
				t.Errorf("body = %q; want %q", body, tc.body)
			}
			if tc.name == "unsafe link" {
				// The regexp stops the URL at the first ")": what matters is
				// that no href is made of it.
				if strings.Contains(html, "href") {
					t.Errorf("html = %q; a javascript: URL became a link", html)
				}
				return
			}
			if html != tc.html {
				t.Errorf("html = %q; want %q", html, tc.html)
			}
		})
	}
}

func TestChunks(t *testing.T) {
	long := strings.Repeat("é€😀 ", 100)
	for _, tc := range []struct {
		name string
		in   string
		n    int
	}{
		{"short", "one\ntwo", 100},
		{"lines", strings.Repeat("a line of text\n", 50), 64},
		{"long line", long, 50},
		{"code block", "intro\n```\n" + strings.Repeat("code line\n", 30) + "```\nafter", 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := chunks(tc.in, tc.n)
			var joined strings.Builder
			for i, p := range parts {
				if len(p) > tc.n {
					t.Errorf("part %d is %d bytes; limit %d", i, len(p), tc.n)
				}
				if !utf8.ValidString(p) {
					t.Errorf("part %d is not valid UTF-8: %q", i, p)
				}
				if strings.Count(p, "```")%2 != 0 {
					t.Errorf("part %d leaves a code block open: %q", i, p)
				}
				joined.WriteString(p)
			}
			flat := func(s string) string {
				return strings.NewReplacer("\n", "", "```", "").Replace(s)
			}
			if flat(joined.String()) != flat(tc.in) {
				t.Errorf("parts do not add up to the text:\n%q\nwant\n%q", joined.String(), tc.in)
			}
		})
	}
}
