package template

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/template/parse"
)

// maxDepth bounds nested {{template}} calls, so a template that calls
// itself fails instead of exhausting the stack.
const maxDepth = 10000

// state is one execution: where it writes, the variables in scope, and the
// node being evaluated, for error messages.
type state struct {
	t     *Template
	tree  *parse.Tree
	w     io.Writer
	node  parse.Node
	vars  []variable
	depth int
}

type variable struct {
	name  string
	value reflect.Value
}

// execError carries an execution error up through the walk, which panics
// with it so that every evaluation step need not return an error.
type execError struct{ err error }

// writeError is a failure of the writer, reported as it is.
type writeError struct{ err error }

// Loop control inside range.
var (
	errBreak    = errors.New("break")
	errContinue = errors.New("continue")
)

func execute(t *Template, tree *parse.Tree, w io.Writer, data any) (err error) {
	value, ok := data.(reflect.Value)
	if !ok {
		value = reflect.ValueOf(data)
	}
	s := &state{t: t, tree: tree, w: w, vars: []variable{{"$", value}}}
	defer func() {
		switch e := recover().(type) {
		case nil:
		case execError:
			err = e.err
		case writeError:
			err = e.err
		default:
			panic(e)
		}
	}()
	s.walk(value, tree.Root)
	return nil
}

// errorf stops the execution with an error that names the template, the
// position and the action being evaluated, as text/template's do.
func (s *state) errorf(format string, args ...any) {
	name := s.tree.Name
	msg := fmt.Sprintf(format, args...)
	if s.node == nil {
		panic(execError{fmt.Errorf("template: %s: %s", name, msg)})
	}
	location, context := s.tree.ErrorContext(s.node)
	panic(execError{fmt.Errorf("template: %s: executing %q at <%s>: %s", location, name, context, msg)})
}

func (s *state) at(n parse.Node) { s.node = n }

func (s *state) write(b []byte) {
	if _, err := s.w.Write(b); err != nil {
		panic(writeError{err})
	}
}

func (s *state) push(name string, v reflect.Value) { s.vars = append(s.vars, variable{name, v}) }

func (s *state) mark() int { return len(s.vars) }

func (s *state) pop(mark int) { s.vars = s.vars[:mark] }

func (s *state) setTop(v reflect.Value) { s.vars[len(s.vars)-1].value = v }

// setVar assigns to the innermost variable of that name, for {{$x = …}}.
func (s *state) setVar(name string, v reflect.Value) {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			s.vars[i].value = v
			return
		}
	}
	s.errorf("undefined variable: %s", name)
}

func (s *state) varValue(name string) reflect.Value {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			return s.vars[i].value
		}
	}
	s.errorf("undefined variable: %s", name)
	return reflect.Value{}
}

// walk executes node with dot as the value of ".".
func (s *state) walk(dot reflect.Value, node parse.Node) {
	s.at(node)
	switch n := node.(type) {
	case *parse.ActionNode:
		v := s.evalPipeline(dot, n.Pipe)
		if len(n.Pipe.Decl) == 0 {
			s.printValue(n, v)
		}
	case *parse.BreakNode:
		panic(errBreak)
	case *parse.ContinueNode:
		panic(errContinue)
	case *parse.CommentNode:
	case *parse.IfNode:
		s.walkIfOrWith(parse.NodeIf, dot, n.Pipe, n.List, n.ElseList)
	case *parse.WithNode:
		s.walkIfOrWith(parse.NodeWith, dot, n.Pipe, n.List, n.ElseList)
	case *parse.ListNode:
		for _, c := range n.Nodes {
			s.walk(dot, c)
		}
	case *parse.RangeNode:
		s.walkRange(dot, n)
	case *parse.TemplateNode:
		s.walkTemplate(dot, n)
	case *parse.TextNode:
		s.write(n.Text)
	default:
		s.errorf("unknown node: %s", node)
	}
}

func (s *state) walkIfOrWith(typ parse.NodeType, dot reflect.Value, pipe *parse.PipeNode, list, elseList *parse.ListNode) {
	defer s.pop(s.mark())
	v := s.evalPipeline(dot, pipe)
	truth, ok := isTrue(indirectInterface(v))
	if !ok {
		s.errorf("if/with can't use %v", v)
	}
	switch {
	case truth && typ == parse.NodeWith:
		s.walk(v, list)
	case truth:
		s.walk(dot, list)
	case elseList != nil:
		s.walk(dot, elseList)
	}
}

func (s *state) walkRange(dot reflect.Value, r *parse.RangeNode) {
	s.at(r)
	defer s.pop(s.mark())
	v, _ := indirect(s.evalPipeline(dot, r.Pipe))
	mark := s.mark()
	// each runs the body once; it reports false when {{break}} ended the
	// loop.
	each := func(key, elem reflect.Value) (more bool) {
		if len(r.Pipe.Decl) > 0 {
			if r.Pipe.IsAssign {
				if len(r.Pipe.Decl) > 1 {
					s.setVar(r.Pipe.Decl[0].Ident[0], key)
					s.setVar(r.Pipe.Decl[1].Ident[0], elem)
				} else {
					s.setVar(r.Pipe.Decl[0].Ident[0], elem)
				}
			} else {
				s.setTop(elem)
				if len(r.Pipe.Decl) > 1 {
					s.vars[len(s.vars)-2].value = key
				}
			}
		}
		defer s.pop(mark)
		defer func() {
			switch recover := recover(); recover {
			case nil:
			case errBreak:
				more = false
			case errContinue:
				more = true
			default:
				panic(recover)
			}
		}()
		s.walk(elem, r.List)
		return true
	}
	ran := false
	switch v.Kind() {
	case reflect.Array, reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			ran = true
			if !each(reflect.ValueOf(i), v.Index(i)) {
				break
			}
		}
	case reflect.Map:
		for _, k := range sortedKeys(v) {
			ran = true
			if !each(k, v.MapIndex(k)) {
				break
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if len(r.Pipe.Decl) > 1 {
			s.errorf("can't use %v to iterate over more than one variable", v)
		}
		n := v.Int()
		if k := v.Kind(); k >= reflect.Uint && k <= reflect.Uintptr {
			n = int64(v.Uint())
		}
		for i := int64(0); i < n; i++ {
			ran = true
			e := reflect.New(v.Type()).Elem()
			if e.CanInt() {
				e.SetInt(i)
			} else {
				e.SetUint(uint64(i))
			}
			if !each(e, e) {
				break
			}
		}
	case reflect.Invalid:
		// Ranging over nothing runs nothing, as for an empty list.
	default:
		s.errorf("range can't iterate over %v", v)
	}
	if !ran && r.ElseList != nil {
		s.walk(dot, r.ElseList)
	}
}

func (s *state) walkTemplate(dot reflect.Value, n *parse.TemplateNode) {
	s.at(n)
	tree := s.t.trees[n.Name]
	if tree == nil {
		s.errorf("template %q not defined", n.Name)
	}
	if s.depth >= maxDepth {
		s.errorf("exceeded maximum template depth (%v)", maxDepth)
	}
	dot = s.evalPipeline(dot, n.Pipe)
	inner := *s
	inner.depth++
	inner.tree = tree
	inner.vars = []variable{{"$", dot}}
	inner.walk(dot, tree.Root)
}

// evalPipeline runs the commands of pipe, each given the previous one's
// result as its last argument, and declares or assigns its variables.
func (s *state) evalPipeline(dot reflect.Value, pipe *parse.PipeNode) reflect.Value {
	if pipe == nil {
		return reflect.Value{}
	}
	s.at(pipe)
	v := noFinal
	for _, cmd := range pipe.Cmds {
		v = s.evalCommand(dot, cmd, v)
		// A value that came out of an interface stays an interface only
		// as long as it is nil.
		if v.Kind() == reflect.Interface && v.Type().NumMethod() == 0 {
			v = reflect.ValueOf(v.Interface())
		}
	}
	for _, d := range pipe.Decl {
		if pipe.IsAssign {
			s.setVar(d.Ident[0], v)
		} else {
			s.push(d.Ident[0], v)
		}
	}
	return v
}

// missing is the final argument of a command that is first in its
// pipeline: no value at all, where an invalid reflect.Value is a nil one
// that the previous command gave.
type missing struct{}

var noFinal = reflect.ValueOf(missing{})

func isMissing(v reflect.Value) bool { return v.IsValid() && v.Type() == reflect.TypeFor[missing]() }

func (s *state) evalCommand(dot reflect.Value, cmd *parse.CommandNode, final reflect.Value) reflect.Value {
	first := cmd.Args[0]
	switch n := first.(type) {
	case *parse.FieldNode:
		return s.evalFieldChain(dot, dot, n, n.Ident, cmd.Args, final)
	case *parse.ChainNode:
		return s.evalChainNode(dot, n, cmd.Args, final)
	case *parse.IdentifierNode:
		return s.evalFunction(dot, n, cmd, cmd.Args, final)
	case *parse.PipeNode:
		s.notAFunction(cmd.Args, final)
		return s.evalPipeline(dot, n)
	case *parse.VariableNode:
		return s.evalVariableNode(dot, n, cmd.Args, final)
	}
	s.at(first)
	s.notAFunction(cmd.Args, final)
	if v, ok := s.constant(first); ok {
		return v
	}
	switch first.(type) {
	case *parse.DotNode:
		return dot
	case *parse.NilNode:
		s.errorf("nil is not a command")
	}
	s.errorf("can't evaluate command %q", first)
	return reflect.Value{}
}

// constant evaluates a literal boolean, number or string.
func (s *state) constant(n parse.Node) (reflect.Value, bool) {
	switch n := n.(type) {
	case *parse.BoolNode:
		return reflect.ValueOf(n.True), true
	case *parse.NumberNode:
		return s.idealConstant(n), true
	case *parse.StringNode:
		return reflect.ValueOf(n.Text), true
	}
	return reflect.Value{}, false
}

func (s *state) notAFunction(args []parse.Node, final reflect.Value) {
	if len(args) > 1 || !isMissing(final) {
		s.errorf("can't give argument to non-function %s", args[0])
	}
}

// idealConstant gives a number the type text/template gives it: int when
// it is an integer, else float64, else complex128.
func (s *state) idealConstant(n *parse.NumberNode) reflect.Value {
	s.at(n)
	switch {
	case n.IsComplex:
		return reflect.ValueOf(n.Complex128)
	case n.IsFloat && !isHexInt(n.Text) && !isRuneInt(n.Text) && strings.ContainsAny(n.Text, ".eEpP"):
		return reflect.ValueOf(n.Float64)
	case n.IsInt:
		i := int(n.Int64)
		if int64(i) != n.Int64 {
			s.errorf("%s overflows int", n.Text)
		}
		return reflect.ValueOf(i)
	case n.IsUint:
		s.errorf("%s overflows int", n.Text)
	}
	return reflect.ValueOf(n.Float64)
}

func isRuneInt(s string) bool { return len(s) > 0 && s[0] == '\'' }

func isHexInt(s string) bool {
	return len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && !strings.ContainsAny(s, "pP")
}

func (s *state) evalChainNode(dot reflect.Value, chain *parse.ChainNode, args []parse.Node, final reflect.Value) reflect.Value {
	s.at(chain)
	if len(chain.Field) == 0 {
		s.errorf("internal error: no fields in evalChainNode")
	}
	if chain.Node.Type() == parse.NodeNil {
		s.errorf("indirection through explicit nil in %s", chain)
	}
	pipe := s.evalArg(dot, chain.Node)
	return s.evalFieldChain(dot, pipe, chain, chain.Field, args, final)
}

func (s *state) evalVariableNode(dot reflect.Value, v *parse.VariableNode, args []parse.Node, final reflect.Value) reflect.Value {
	s.at(v)
	value := s.varValue(v.Ident[0])
	if len(v.Ident) == 1 {
		s.notAFunction(args, final)
		return value
	}
	return s.evalFieldChain(dot, value, v, v.Ident[1:], args, final)
}

// evalFieldChain follows .A.B.C from receiver; only the last element may
// take arguments.
func (s *state) evalFieldChain(dot, receiver reflect.Value, node parse.Node, ident []string, args []parse.Node, final reflect.Value) reflect.Value {
	n := len(ident)
	for i := 0; i < n-1; i++ {
		receiver = s.evalField(dot, ident[i], node, nil, noFinal, receiver)
	}
	return s.evalField(dot, ident[n-1], node, args, final, receiver)
}

func (s *state) evalField(dot reflect.Value, name string, node parse.Node, args []parse.Node, final, receiver reflect.Value) reflect.Value {
	if !receiver.IsValid() {
		if s.t.missing == missingError {
			s.errorf("nil data; no entry for key %q", name)
		}
		return reflect.Value{}
	}
	if call, ok := method(receiver, name); ok {
		return s.evalMethod(dot, call, node, name, args, final)
	}
	hasArgs := len(args) > 1 || !isMissing(final)
	receiver, isNil := indirect(receiver)
	if receiver.Kind() == reflect.Interface && isNil {
		s.errorf("nil pointer evaluating %s.%s", typeString(receiver), name)
	}
	switch receiver.Kind() {
	case reflect.Struct:
		if f, ok := receiver.Type().FieldByName(name); ok {
			field, err := receiver.FieldByIndexErr(f.Index)
			if !f.IsExported() {
				s.errorf("%s is an unexported field of struct type %s", name, receiver.Type())
			}
			if err != nil {
				s.errorf("%v", err)
			}
			if hasArgs {
				s.errorf("%s has arguments but cannot be invoked as function", name)
			}
			return field
		}
	case reflect.Map:
		key := reflect.ValueOf(name)
		if key.Type().AssignableTo(receiver.Type().Key()) {
			if hasArgs {
				s.errorf("%s is not a method but has arguments", name)
			}
			v := receiver.MapIndex(key)
			if !v.IsValid() {
				switch s.t.missing {
				case missingZero:
					v = reflect.Zero(receiver.Type().Elem())
				case missingError:
					s.errorf("map has no entry for key %q", name)
				}
			}
			return v
		}
	case reflect.Pointer:
		if isNil {
			s.errorf("nil pointer evaluating %s.%s", typeString(receiver), name)
		}
	}
	s.errorf("can't evaluate field %s in type %s", name, typeString(receiver))
	return reflect.Value{}
}

// evalMethod calls one of the methods methods.go offers with the
// command's arguments.
func (s *state) evalMethod(dot reflect.Value, call methodCall, node parse.Node, name string, args []parse.Node, final reflect.Value) reflect.Value {
	var in []reflect.Value
	if len(args) > 1 {
		for _, a := range args[1:] {
			in = append(in, s.evalArg(dot, a))
		}
	}
	if !isMissing(final) {
		in = append(in, final)
	}
	s.at(node)
	v, err := call(in)
	if err != nil {
		s.errorf("error calling %s: %v", name, err)
	}
	return v
}

// evalArg evaluates an argument of a function or method to a value of
// whatever type it has.
func (s *state) evalArg(dot reflect.Value, n parse.Node) reflect.Value {
	s.at(n)
	switch arg := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.NilNode:
		return reflect.Value{}
	case *parse.FieldNode:
		return s.evalFieldChain(dot, dot, arg, arg.Ident, nil, noFinal)
	case *parse.VariableNode:
		return s.evalVariableNode(dot, arg, nil, noFinal)
	case *parse.PipeNode:
		return s.evalPipeline(dot, arg)
	case *parse.IdentifierNode:
		return s.evalFunction(dot, arg, arg, nil, noFinal)
	case *parse.ChainNode:
		return s.evalChainNode(dot, arg, nil, noFinal)
	}
	if v, ok := s.constant(n); ok {
		return v
	}
	s.errorf("can't handle %s as an argument", n)
	return reflect.Value{}
}

// printValue writes v as text/template does: through fmt, with
// "<no value>" for nothing.
func (s *state) printValue(n parse.Node, v reflect.Value) {
	s.at(n)
	iface, ok := printable(v)
	if !ok {
		s.errorf("can't print %s of type %s", n, v.Type())
	}
	if str, isString := iface.(string); isString {
		if _, err := io.WriteString(s.w, str); err != nil {
			panic(writeError{err})
		}
		return
	}
	if _, err := fmt.Fprint(s.w, iface); err != nil {
		panic(writeError{err})
	}
}

func printable(v reflect.Value) (any, bool) {
	if v.Kind() == reflect.Pointer {
		v, _ = indirect(v)
	}
	if !v.IsValid() {
		return "<no value>", true
	}
	if !v.Type().Implements(errorType) && !v.Type().Implements(stringerType) {
		if v.CanAddr() && (reflect.PointerTo(v.Type()).Implements(errorType) || reflect.PointerTo(v.Type()).Implements(stringerType)) {
			v = v.Addr()
		} else if k := v.Kind(); k == reflect.Chan || k == reflect.Func {
			return nil, false
		}
	}
	return v.Interface(), true
}

var (
	errorType    = reflect.TypeFor[error]()
	stringerType = reflect.TypeFor[fmt.Stringer]()
)

// typeString names v's type, or says it has none.
func typeString(v reflect.Value) string {
	if !v.IsValid() {
		return "<nil>"
	}
	return v.Type().String()
}

// indirect follows pointers and interfaces to the value underneath,
// reporting whether it met a nil one.
func indirect(v reflect.Value) (reflect.Value, bool) {
	for ; v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface; v = v.Elem() {
		if v.IsNil() {
			return v, true
		}
	}
	return v, false
}

// indirectInterface takes the value out of a non-nil interface.
func indirectInterface(v reflect.Value) reflect.Value {
	if v.Kind() != reflect.Interface || v.IsNil() {
		return v
	}
	return v.Elem()
}

// isTrue is text/template's truth: the value is not its type's zero and,
// for a container, not empty. ok is false for a value that has no truth.
func isTrue(v reflect.Value) (truth, ok bool) {
	if !v.IsValid() {
		return false, true
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0, true
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Complex64, reflect.Complex128:
		return v.Complex() != 0, true
	case reflect.Chan, reflect.Func, reflect.Pointer, reflect.Interface, reflect.UnsafePointer:
		return !v.IsNil(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() != 0, true
	case reflect.Float32, reflect.Float64:
		return v.Float() != 0, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() != 0, true
	case reflect.Struct:
		return true, true
	}
	return false, false
}
