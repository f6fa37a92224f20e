package template_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/seipbot/seipbot/template"
)

// A compiled template is shared: executions from many goroutines must
// neither disturb one another nor race (go test -race).
func TestConcurrentExecute(t *testing.T) {
	tm := template.Must(template.New("r").Parse(`{{define "tag"}}<{{.}}>{{end}}` +
		`{{$n := 0}}{{range $i, $t := .Tags}}{{$n = $i}}{{template "tag" $t}}{{end}} {{$n}} {{.Ptr.Name}} {{and .Count (index .Match 1)}}`))
	want := "<a><b><c> 2 ptr 42"
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				var b strings.Builder
				if err := tm.Execute(&b, fixture()); err != nil || b.String() != want {
					t.Errorf("got %q, %v; want %q", b.String(), err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
