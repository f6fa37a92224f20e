// Package template runs the templates of the configuration — canned
// replies, hear rules, alert and webhook layouts, scheduled messages,
// http plugin answers — in Go's text/template language.
//
// Templates are parsed by text/template/parse, so the syntax and its error
// messages are Go's own; this package compiles each parse tree, once, into
// closures that Execute calls. It does not
// use text/template's executor because that one looks methods up by name
// at run time, which makes the linker keep every exported method of every
// type the binary might hold: the bot's binary was 15 MB larger for it, and
// its resident memory 3 MB larger. The language is the same (fields, map
// keys, variables, pipelines, if, with, range, break, continue, define,
// template, block and the built-in functions); the one difference is
// method calls, which reach String and Error on any value and the methods
// of times and durations (see methods.go) instead of every method.
package template

import (
	"fmt"
	"io"
	"text/template/parse"
)

// Template is a parsed template, safe to execute from many goroutines.
type Template struct {
	name    string
	trees   map[string]*parse.Tree
	progs   map[string]*program // the trees compiled, by name
	missing missingKey
}

// missingKey is what a missing map key gives, as text/template's
// missingkey option says.
type missingKey int

const (
	missingInvalid missingKey = iota // prints "<no value>"
	missingZero                      // the zero value of the map's element
	missingError                     // stops with an error
)

// New returns an empty template named name.
func New(name string) *Template { return &Template{name: name} }

// Option sets options as text/template does; only "missingkey=default",
// "missingkey=invalid", "missingkey=zero" and "missingkey=error" exist.
// An unknown option is a programming error and panics.
func (t *Template) Option(opts ...string) *Template {
	for _, o := range opts {
		switch o {
		case "missingkey=default", "missingkey=invalid":
			t.missing = missingInvalid
		case "missingkey=zero":
			t.missing = missingZero
		case "missingkey=error":
			t.missing = missingError
		default:
			panic("template: unknown option " + o)
		}
	}
	return t
}

// Parse parses text as the template's body; {{define}} and {{block}} add
// templates that {{template}} can call.
func (t *Template) Parse(text string) (*Template, error) {
	trees, err := parse.Parse(t.name, text, "", "", builtinNames)
	if err != nil {
		return nil, err
	}
	t.trees = trees
	t.progs = compileSet(trees)
	return t, nil
}

// Must returns t, panicking if err is not nil; for templates the program
// itself holds.
func Must(t *Template, err error) *Template {
	if err != nil {
		panic(err)
	}
	return t
}

// Text returns the template's text when it is plain text with no actions,
// so that a caller can skip executing it.
func (t *Template) Text() (string, bool) {
	tree := t.trees[t.name]
	if tree == nil || len(t.trees) > 1 {
		return "", false
	}
	text := ""
	for _, n := range tree.Root.Nodes {
		tn, ok := n.(*parse.TextNode)
		if !ok {
			return "", false
		}
		text += string(tn.Text)
	}
	return text, true
}

// Execute writes the template applied to data to w. Output written before
// an error stays written.
func (t *Template) Execute(w io.Writer, data any) error {
	tree := t.trees[t.name]
	if tree == nil || tree.Root == nil {
		return fmt.Errorf("template: %q is an incomplete or empty template", t.name)
	}
	return t.progs[t.name].execute(w, data, t.missing)
}
