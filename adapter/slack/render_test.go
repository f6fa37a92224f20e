package slack

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	tests := []struct{ in, want string }{
		{"**bold** and plain", "*bold* and plain"},
		{"see [the report](https://example.com/r?a=1&b=2)", "see <https://example.com/r?a=1&amp;b=2|the report>"},
		{"[a|b](https://x.example/p|q)", "<https://x.example/p%7Cq|a|b>"},
		{"```\nif a < b && c > d {}\n```", "```\nif a &lt; b &amp;&amp; c &gt; d {}\n```"},
		{"`**not bold**` and `[not](https://link)`", "`**not bold**` and `[not](https://link)`"},
		{"<!channel> & <@U0BOSS>", "&lt;!channel&gt; &amp; &lt;@U0BOSS&gt;"},
		{"**[bold link](https://e.example)**", "*<https://e.example|bold link>*"},
		{"[not a link](javascript:alert(1))", "[not a link](javascript:alert(1))"},
		{"unclosed **bold and `code", "unclosed **bold and `code"},
		{"2 * 3 = 6, a[1]", "2 * 3 = 6, a[1]"},
	}
	for _, tt := range tests {
		if got := render(tt.in); got != tt.want {
			t.Errorf("render(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	const limit = 64
	tests := []struct {
		name string
		in   string
	}{
		{"lines", strings.Repeat("a short line\n", 20)},
		{"one long line of wide characters", strings.Repeat("é€😀 ", 60)},
		{"escapes", strings.Repeat("&amp;&lt;&gt;", 30)},
		{"links", strings.Repeat("see <https://example.com/a/long/path|the report> ", 6)},
		{"code block", "before\n```\n" + strings.Repeat("open 22/tcp ssh\n", 20) + "```\nafter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := split(tt.in, limit)
			var joined strings.Builder
			for i, p := range parts {
				if len(p) > limit {
					t.Errorf("part %d is %d bytes: %q", i, len(p), p)
				}
				if !utf8.ValidString(p) {
					t.Errorf("part %d is not valid UTF-8: %q", i, p)
				}
				if strings.Count(p, fence)%2 != 0 {
					t.Errorf("part %d leaves a code block open: %q", i, p)
				}
				if j := strings.LastIndexByte(p, '&'); j >= 0 && !strings.Contains(p[j:], ";") {
					t.Errorf("part %d cuts an escape: %q", i, p)
				}
				if j := strings.LastIndexByte(p, '<'); j >= 0 && !strings.Contains(p[j:], ">") {
					t.Errorf("part %d cuts a link: %q", i, p)
				}
				joined.WriteString(p)
			}
			// Only line breaks and the fences that close and reopen a
			// code block across parts may be added.
			flat := func(s string) string { return strings.NewReplacer("\n", "", fence, "").Replace(s) }
			if flat(joined.String()) != flat(tt.in) {
				t.Errorf("the parts do not add up:\n got %q\nwant %q", joined.String(), tt.in)
			}
		})
	}
}

func TestPlain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"scan web <http://example.com|example.com>", "scan web example.com"},
		{"scan web <https://example.com/a?b=1&amp;c=2>", "scan web https://example.com/a?b=1&c=2"},
		{"a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"},
		{"ask <@U0ADA> in <#C0ROOM|soc>, <!here>", "ask <@U0ADA> in <#C0ROOM|soc>, <!here>"},
		{"unclosed <https://x", "unclosed <https://x"},
	}
	for _, tt := range tests {
		if got := plain(tt.in); got != tt.want {
			t.Errorf("plain(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSeenSetForgets(t *testing.T) {
	now := time.Unix(0, 0)
	s := newSeenSet(2, time.Minute, func() time.Time { return now })
	s.add("a")
	s.add("b")
	if !s.any("a") || !s.any("x", "b") || s.any("x") {
		t.Fatal("the set does not remember what was added")
	}
	s.add("c") // over the size: the oldest goes
	if s.any("a") || !s.any("c") {
		t.Error("the oldest key was not forgotten first")
	}
	now = now.Add(2 * time.Minute)
	if s.any("b") || s.any("c") {
		t.Error("keys outlived their time to live")
	}
}
