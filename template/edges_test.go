package template_test

import (
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	gotemplate "text/template"

	"github.com/seipbot/seipbot/template"
)

type ptrStringer struct{ N int }

func (p *ptrStringer) String() string { return fmt.Sprint("ps", p.N) }

type edgeData struct {
	Ch       chan int
	Send     chan<- int
	Seq      iter.Seq[int]
	Seq2     iter.Seq2[string, int]
	NilSeq   iter.Seq[int]
	Fn       func(int) int
	FnErr    func() (int, error)
	Var      func(string, ...int) string
	Arr      [3]int
	Err      error
	PS       *ptrStringer
	V        ptrStringer
	MapAny   map[any]int
	MapBool  map[bool]string
	MapFloat map[float64]int
	Iface    fmt.Stringer
	PP       **inner
	Lvl      level
	Empty    []int
	U8       uint8
	I8       int8
}

func newEdgeData() any {
	ch := make(chan int, 3)
	ch <- 1
	ch <- 2
	close(ch)
	in := &inner{Name: "pp"}
	return &edgeData{
		Ch: ch, Send: make(chan int),
		Seq:      func(yield func(int) bool) { _ = yield(10) && yield(20) && yield(30) },
		Seq2:     func(yield func(string, int) bool) { _ = yield("a", 1) && yield("b", 2) },
		Fn:       func(i int) int { return i * 2 },
		FnErr:    func() (int, error) { return 0, errors.New("fn failed") },
		Var:      func(s string, n ...int) string { return fmt.Sprint(s, n) },
		Arr:      [3]int{1, 2, 3},
		Err:      errors.New("boom"),
		PS:       &ptrStringer{7},
		V:        ptrStringer{8},
		MapAny:   map[any]int{"b": 1, "a": 2, 3: 3, 1: 4},
		MapBool:  map[bool]string{true: "t", false: "f"},
		MapFloat: map[float64]int{2.5: 1, -1: 2},
		PP:       &in,
		Lvl:      1,
		Empty:    []int{},
		U8:       200,
		I8:       -3,
	}
}

// compareEach runs text in both engines, each on data of its own from mk
// (so that data executing changes, such as a channel, is fresh for each),
// and fails when their output or failure differ.
func compareEach(t *testing.T, text string, mk func() any, option string) {
	t.Helper()
	goT := gotemplate.New("t")
	ours := template.New("t")
	if option != "" {
		goT.Option(option)
		ours.Option(option)
	}
	if _, err := goT.Parse(text); err != nil {
		t.Fatalf("%s: text/template does not parse it: %v", text, err)
	}
	if _, err := ours.Parse(text); err != nil {
		t.Fatalf("%s: parse: %v", text, err)
	}
	var want, got strings.Builder
	data := mk()
	wantErr := goT.Execute(&want, data)
	gotErr := ours.Execute(&got, mk())
	if (wantErr == nil) != (gotErr == nil) {
		t.Errorf("%s (%T, %s): error %v; text/template's: %v", text, data, option, gotErr, wantErr)
		return
	}
	if wantErr == nil && got.String() != want.String() {
		t.Errorf("%s (%T, %s):\n got %q\nwant %q", text, data, option, got.String(), want.String())
	}
}

// TestEdgesSameAsGo compares the engines on the corners of the language:
// variables a branch or an and/or argument may not have set, constants
// of every spelling, comparisons across kinds, method arguments given as
// constants, the built-ins' failures, and ranges over channels,
// iterators and maps of mixed keys.
func TestEdgesSameAsGo(t *testing.T) {
	for _, line := range strings.Split(edgeCases, "\n") {
		if line == "" {
			continue
		}
		for _, opt := range []string{"", "missingkey=zero", "missingkey=error"} {
			d := fixture()
			compareEach(t, line, func() any { return d }, opt)
			compareEach(t, line, func() any { return *d }, opt)
		}
	}
	for _, line := range strings.Split(edgeMethods, "\n") {
		if line != "" {
			d := fixture()
			compareEach(t, line, func() any { return d }, "")
		}
	}
	for _, line := range strings.Split(edgeOther, "\n") {
		if line != "" {
			compareEach(t, line, newEdgeData, "")
		}
	}
}
