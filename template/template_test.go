package template_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	gotemplate "text/template"
	"time"

	"github.com/seipbot/seipbot/template"
)

type level int

func (l level) String() string { return [...]string{"low", "high"}[l] }

type inner struct {
	Name  string
	Tags  []string
	Count int
}

type record struct {
	inner
	Title   string
	Match   []string
	Labels  map[string]string
	Since   time.Time
	For     time.Duration
	Level   level
	Ptr     *inner
	Nil     *inner
	Any     any
	Nums    map[int]string
	Flag    bool
	Ratio   float64
	Big     uint
	private string
}

var since = time.Date(2026, 11, 30, 19, 5, 7, 0, time.UTC)

func fixture() *record {
	return &record{
		inner:   inner{Name: "svc", Tags: []string{"a", "b", "c"}, Count: 3},
		Title:   "disk <full> & \"hot\"",
		Match:   []string{"INC-42", "42"},
		Labels:  map[string]string{"zone": "eu", "app": "web", "env": "prod"},
		Since:   since,
		For:     90 * time.Second,
		Level:   1,
		Ptr:     &inner{Name: "ptr", Count: 7},
		Any:     []any{1, "two", 3.5},
		Nums:    map[int]string{10: "ten", 2: "two", -1: "minus"},
		Ratio:   0.25,
		Big:     5,
		private: "hidden",
	}
}

func jsonDoc(t *testing.T) map[string]any {
	var doc map[string]any
	err := json.Unmarshal([]byte(`{"alert":{"name":"CPU","severity":"critical","hosts":["a","b"],"n":3,"nested":{"x":1.5}},"empty":"","list":[],"t":true}`), &doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every template here runs through text/template and through this
// package, on the same data; output and failure must agree.
var sameAsGo = []string{
	"plain text",
	"{{.Title}}",
	"{{.Name}} {{.Count}} {{.inner.Name}}",
	"{{index .Match 1}}",
	"{{index .Labels \"zone\"}} {{index .Labels \"none\"}}",
	"{{.Labels.app}}-{{.Labels.none}}",
	"{{range .Tags}}[{{.}}]{{end}}",
	"{{range $i, $t := .Tags}}{{$i}}={{$t}} {{end}}",
	"{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}",
	"{{range $k, $v := .Nums}}{{$k}}:{{$v}};{{end}}",
	"{{range .Nil}}x{{else}}none{{end}}",
	"{{range 3}}{{.}}{{end}}",
	"{{range $i := 4}}{{if eq $i 2}}{{break}}{{end}}{{$i}}{{end}}",
	"{{range .Tags}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
	"{{if .Flag}}yes{{else if .Count}}count{{else}}no{{end}}",
	"{{with .Ptr}}{{.Name}}/{{.Count}}{{end}}",
	"{{with .Nil}}x{{else}}nil ptr{{end}}",
	"{{with $x := .Title}}{{$x}}{{end}}",
	"{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}",
	"{{.Since}}",
	"{{.Since.Format \"15:04 MST\"}} {{.Since.UTC.Year}} {{.Since.Unix}}",
	"{{.Since.Month}} {{.Since.Weekday}} {{.Since.Day}}",
	"{{.For}} {{.For.Minutes}} {{.For.Seconds}}",
	"{{.Level}} {{.Level.String}}",
	"{{printf \"%s has %d tags\" .Name (len .Tags)}}",
	"{{print .Count \"x\" 2}} {{println .Name}}",
	"{{.Title | html}} {{js .Title}} {{urlquery .Title \"a b\"}}",
	"{{.Title | printf \"%q\"}}",
	"{{len .Labels}} {{len .Title}} {{len .Any}}",
	"{{slice .Tags 1}} {{slice .Title 0 4}} {{slice .Tags 0 1 2}}",
	"{{index .Any 1}} {{index .Nums 10}} {{index .Nums 3}}",
	"{{and .Flag .Count}} {{or .Flag .Count}} {{or .Flag 0}} {{and 1 2 3}} {{not .Flag}}",
	"{{eq .Count 3}} {{eq .Name \"x\" \"svc\"}} {{ne .Count 4}} {{eq .Big 5}} {{eq .Count .Big}}",
	"{{lt 1 2}} {{le 2 2}} {{gt .Ratio 0.5}} {{ge \"b\" \"a\"}} {{lt -1 .Big}}",
	"{{eq .Nil nil}} {{eq .Ptr .Ptr}}",
	"{{/* a comment */}}kept",
	"{{- \" trimmed \" -}}  !",
	"{{define \"inner\"}}<{{.}}>{{end}}{{template \"inner\" .Name}}{{template \"inner\" 5}}",
	"{{block \"b\" .Tags}}{{range .}}{{.}}{{end}}{{end}}",
	"{{.Any}} {{.Labels}} {{.Nums}} {{.Ptr}} {{.Nil}}",
	"{{1.5}} {{1e3}} {{0x10}} {{'a'}} {{\"s\"}} {{true}} {{nil | print}}",
	"{{(index .Match 0) | printf \"%s!\"}}",
	"{{$.Title}} {{with .Ptr}}{{$.Name}}{{end}}",
	"{{.Ptr.Name}}",
	"{{.For.Abs}} {{.Since.Nanosecond}} {{.Since.Compare .Since}} {{.Since.Add 60}}",
	"{{$x := 5}}{{and false ($x := 2)}}{{$x}} {{if false}}{{$x := 1}}{{else}}{{$x}}{{end}}",
	"{{printf \"%T %T %T %T\" 1e3 'a' 0x1e 1i}} {{-0x1e}}",
	// Failures.
	"{{.Missing}}",
	"{{.private}}",
	"{{.Nil.Name}}",
	"{{index .Match 5}}",
	"{{index .Count 1}}",
	"{{len .Count}}",
	"{{eq .Name 1}}",
	"{{lt .Flag true}}",
	"{{template \"nope\"}}",
	"{{.Title 1}}",
	"{{printf}}",
	"{{not 1 2}}",
	"{{slice .Tags 2 1}}",
	"{{.Since.Format}}",
	"{{nil}}",
	"{{range .Count 1}}{{end}}",
	"{{range .Flag}}{{end}}",
}

func TestSameAsGo(t *testing.T) {
	for _, text := range sameAsGo {
		for _, data := range []any{fixture(), *fixture()} {
			compare(t, text, data, "")
		}
	}
}

var sameAsGoOnJSON = []string{
	"{{.alert.name}} {{.alert.severity}} {{.alert.n}} {{.alert.nested.x}}",
	"{{.missing}} {{.alert.missing}}",
	"{{range .alert.hosts}}{{.}},{{end}}",
	"{{if .empty}}set{{else}}empty{{end}} {{if .list}}list{{end}} {{if .t}}t{{end}}",
	"{{index .alert \"name\"}} {{len .alert.hosts}}",
	"{{with .alert}}{{.name}}{{end}}",
	"{{eq .alert.severity \"critical\"}} {{eq .alert.n 3.0}}",
	"{{range $k, $v := .alert}}{{$k}} {{end}}",
	"{{.alert.name.deeper}}",
	"{{.missing.deeper}}",
}

func TestSameAsGoOnJSON(t *testing.T) {
	for _, text := range sameAsGoOnJSON {
		for _, opt := range []string{"missingkey=default", "missingkey=zero", "missingkey=error"} {
			compare(t, text, jsonDoc(t), opt)
		}
	}
}

// compare runs text on data in both engines and fails when their output
// or failure differ.
func compare(t *testing.T, text string, data any, option string) {
	t.Helper()
	compareEach(t, text, func() any { return data }, option)
}

func TestErrorsNameTheAction(t *testing.T) {
	tm := template.Must(template.New("reply").Parse("line one\n{{index .Match 9}}"))
	err := tm.Execute(new(strings.Builder), fixture())
	if err == nil || !strings.Contains(err.Error(), "reply:2:") || !strings.Contains(err.Error(), "index .Match 9") {
		t.Fatalf("error = %v; want the template's name, line and action", err)
	}
}

func TestParseErrorIsGos(t *testing.T) {
	_, err := template.New("reply").Parse("{{.Title")
	_, goErr := gotemplate.New("reply").Parse("{{.Title")
	if err == nil || err.Error() != goErr.Error() {
		t.Fatalf("parse error %v; want text/template's %v", err, goErr)
	}
	if _, err := template.New("reply").Parse("{{nosuchfunc 1}}"); err == nil {
		t.Fatal("an unknown function parsed")
	}
}

func TestText(t *testing.T) {
	plain := template.Must(template.New("r").Parse("just text"))
	if s, ok := plain.Text(); !ok || s != "just text" {
		t.Fatalf("Text() = %q, %v; want the text", s, ok)
	}
	tm := template.Must(template.New("r").Parse("hi {{.Name}}"))
	if _, ok := tm.Text(); ok {
		t.Fatal("a template with an action says it is plain text")
	}
}

func TestRecursionStops(t *testing.T) {
	tm := template.Must(template.New("r").Parse(`{{define "loop"}}{{template "loop" .}}{{end}}{{template "loop" .}}`))
	err := tm.Execute(new(strings.Builder), nil)
	if err == nil || !strings.Contains(err.Error(), "maximum template depth") {
		t.Fatalf("error = %v; want the depth limit", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk gone") }

func TestWriterErrorIsReturned(t *testing.T) {
	tm := template.Must(template.New("r").Parse("{{.Name}}"))
	if err := tm.Execute(failingWriter{}, fixture()); err == nil || err.Error() != "disk gone" {
		t.Fatalf("error = %v; want the writer's", err)
	}
}

func FuzzSameAsGo(f *testing.F) {
	for _, s := range sameAsGo {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if _, err := gotemplate.New("t").Parse(text); err != nil {
			return
		}
		// Templates that loop for long or call themselves are not what
		// this compares.
		if strings.Contains(text, "template") || strings.Contains(text, "block") || strings.Contains(text, "range") {
			return
		}
		compare(t, text, fixture(), "")
	})
}
