package template_test

import (
	"io"
	"testing"

	"github.com/seipbot/seipbot/template"
)

// BenchmarkExecute runs a canned reply of the kind the configuration
// holds: two index calls on a match and the text between them.
func BenchmarkExecute(b *testing.B) {
	tm := template.Must(template.New("reply").Parse("Incident {{index .Match 1}}: https://tracker.example/INC-{{index .Match 1}}"))
	data := struct{ Match []string }{Match: []string{"INC-42", "42"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := tm.Execute(io.Discard, data); err != nil {
			b.Fatal(err)
		}
	}
}
