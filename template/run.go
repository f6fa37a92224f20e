package template

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"text/template/parse"
)

// maxDepth bounds how deeply {{template}} calls nest, so that a template
// that calls itself stops with an error well before its goroutine's stack
// could overflow.
const maxDepth = 10000

// run is one execution of a template. Compiled templates are shared by
// every goroutine that executes them; whatever an execution changes lives
// here instead.
type run struct {
	w       io.Writer
	missing missingKey
	depth   int // {{template}} calls in progress, the outermost included

	// vars holds the variable slots of every template call in progress;
	// those of the running template start at frame.
	vars  []reflect.Value
	frame int

	// args is a stack on which calls gather their arguments, so that a
	// call allocates nothing once the stack has grown.
	args []reflect.Value

	// The stacks start in these, which suffices for most templates.
	varSpace, argSpace [8]reflect.Value
}

// execute runs p on data, writing to w.
func (p *program) execute(w io.Writer, data any, missing missingKey) error {
	r := &run{w: w, missing: missing}
	r.vars = r.varSpace[:0]
	r.args = r.argSpace[:0]
	return p.call(r, reflect.ValueOf(data))
}

// call runs p with dot as its data and a fresh set of variables, in which
// $ is dot.
func (p *program) call(r *run, dot reflect.Value) error {
	frame, caller := len(r.vars), r.frame
	r.vars = append(r.vars, make([]reflect.Value, p.slots)...)
	r.vars[frame] = dot
	r.frame = frame
	r.depth++
	err := p.body(r, dot)
	r.depth--
	r.frame = caller
	r.vars = r.vars[:frame]
	return err
}

// errBreak and errContinue travel up from {{break}} and {{continue}} to
// the innermost {{range}}, which is the only thing that stops them: the
// parser accepts the two only inside a range.
var (
	errBreak    = errors.New("break outside range")
	errContinue = errors.New("continue outside range")
)

// site is a place in a template where evaluation can fail; errors name it.
type site struct {
	tree *parse.Tree
	node parse.Node
}

func (c *compiler) site(n parse.Node) *site { return &site{tree: c.tree, node: n} }

// fail makes err an execution error at s.
func (s *site) fail(err error) error { return &execError{at: s, err: err} }

func (s *site) failf(format string, args ...any) error { return s.fail(fmt.Errorf(format, args...)) }

// execError is an execution failure and where it happened. A writer's
// error is returned as it is instead.
type execError struct {
	at  *site
	err error
}

func (e *execError) Error() string {
	location, context := e.at.tree.ErrorContext(e.at.node)
	return fmt.Sprintf("template %s: in {{%s}}: %v", location, context, e.err)
}

func (e *execError) Unwrap() error { return e.err }
