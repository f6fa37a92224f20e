package irc

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		in   string
		want line
	}{
		{"PING :irc.localhost", line{command: "PING", params: []string{"irc.localhost"}}},
		{":alice!~a@host PRIVMSG #test :seipbot: ping  now", line{prefix: "alice!~a@host", command: "PRIVMSG", params: []string{"#test", "seipbot: ping  now"}}},
		{"@account=al\\sice;time=2026-01-02T03:04:05.000Z :alice!a@h privmsg seipbot :hi", line{
			tags:   map[string]string{"account": "al ice", "time": "2026-01-02T03:04:05.000Z"},
			prefix: "alice!a@h", command: "PRIVMSG", params: []string{"seipbot", "hi"},
		}},
		{":irc.localhost 433 * seipbot :Nickname already in use", line{prefix: "irc.localhost", command: "433", params: []string{"*", "seipbot", "Nickname already in use"}}},
		{"CAP * LS :sasl=PLAIN,EXTERNAL account-tag", line{command: "CAP", params: []string{"*", "LS", "sasl=PLAIN,EXTERNAL account-tag"}}},
	}
	for _, tt := range tests {
		got, err := parseLine(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseLine(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseLine(":prefix.only"); err == nil {
		t.Error("a line without a command parsed")
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"plain", []string{"plain"}},
		{"**bold** and `code`", []string{"\x02bold\x02 and code"}},
		{"see [docs](https://x.test/d) or https://y.test", []string{"see docs (https://x.test/d) or https://y.test"}},
		{"[https://x.test](https://x.test)", []string{"https://x.test"}},
		{"before\n```go\nfmt.Println(\"**not bold**\")\n\n```\nafter", []string{"before", "fmt.Println(\"**not bold**\")", "after"}},
		{"```one line```", []string{"one line"}},
		{"a\r\nQUIT :injected\x00", []string{"a", "QUIT :injected"}},
		{"\n\n", nil},
	}
	for _, tt := range tests {
		if got := render(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("render(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	s := strings.Repeat("a€😀", 50)
	for _, n := range []int{1, 3, 4, 5, 7, 100, 1000} {
		parts := split(s, n)
		if strings.Join(parts, "") != s {
			t.Fatalf("split(_, %d) lost text", n)
		}
		for i, p := range parts {
			if !utf8.ValidString(p) || len(p) > max(n, 4) || p == "" {
				t.Fatalf("split(_, %d) part %d = %q", n, i, p)
			}
			// Every part but the last is as long as the limit allows.
			if i < len(parts)-1 && n >= 4 && len(p)+4 <= n {
				t.Fatalf("split(_, %d) part %d is %d bytes: cut too early", n, i, len(p))
			}
		}
	}
}

func TestJoinLine(t *testing.T) {
	got := joinLine([]string{"#a", "#keyed", "#b"}, map[string]string{"#keyed": "k"})
	if want := "JOIN #keyed,#a,#b k"; got != want {
		t.Errorf("joinLine = %q; want %q", got, want)
	}
}
