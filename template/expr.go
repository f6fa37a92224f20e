package template

import (
	"fmt"
	"reflect"
	"strings"
	"text/template/parse"
)

// expr evaluates an expression for dot. When the expression is a command
// after the first of a pipeline, piped is the previous command's value,
// which becomes its last argument; otherwise piped means nothing.
type expr func(r *run, dot, piped reflect.Value) (reflect.Value, error)

// target receives a pipeline's value for a variable.
type target func(r *run, v reflect.Value) error

// failing is an expression that always fails with err. Mistakes the
// parser lets through, such as giving arguments to a number, fail only
// when they are executed, as they do in text/template.
func failing(err error) expr {
	return func(*run, reflect.Value, reflect.Value) (reflect.Value, error) { return reflect.Value{}, err }
}

func (c *compiler) pipeline(p *parse.PipeNode) expr {
	e, _ := c.pipelineTargets(p)
	return e
}

// pipelineTargets compiles a pipeline and the variables it declares or
// assigns. The commands are compiled first: a declared variable does not
// exist for them yet.
func (c *compiler) pipelineTargets(p *parse.PipeNode) (expr, []target) {
	cmds := make([]expr, len(p.Cmds))
	for i, cmd := range p.Cmds {
		cmds[i] = c.command(cmd, i > 0)
	}
	targets := make([]target, len(p.Decl))
	for i, v := range p.Decl {
		if p.IsAssign {
			targets[i] = c.variable(v.Ident[0], c.site(v)).set
		} else {
			targets[i] = slotTarget(c.declare(v.Ident[0]))
		}
	}
	return func(r *run, dot, _ reflect.Value) (reflect.Value, error) {
		var v reflect.Value
		for _, cmd := range cmds {
			var err error
			if v, err = cmd(r, dot, v); err != nil {
				return reflect.Value{}, err
			}
			// What a command gives as an empty interface is passed on
			// as the value inside it.
			if v.Kind() == reflect.Interface && v.NumMethod() == 0 {
				v = v.Elem()
			}
		}
		for _, t := range targets {
			if err := t(r, v); err != nil {
				return reflect.Value{}, err
			}
		}
		return v, nil
	}, targets
}

func slotTarget(slot int) target {
	return func(r *run, v reflect.Value) error {
		r.vars[r.frame+slot] = v
		return nil
	}
}

// command compiles one command of a pipeline; piped says whether it
// receives the previous command's value.
func (c *compiler) command(cmd *parse.CommandNode, piped bool) expr {
	args := cmd.Args[1:]
	if e, ok := c.reference(cmd.Args[0], args, piped); ok {
		return e
	}
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		return c.function(id.Ident, c.site(cmd), args, piped)
	}
	at := c.site(cmd.Args[0])
	if len(args) > 0 || piped {
		return failing(at.failf("%s is not a function: it takes no arguments", cmd.Args[0]))
	}
	if _, ok := cmd.Args[0].(*parse.NilNode); ok {
		return failing(at.failf("nil cannot stand alone as a command"))
	}
	return c.arg(cmd.Args[0])
}

// reference compiles a field, a chain or a variable, given args and, when
// piped, the previous command's value; ok is false for any other node.
func (c *compiler) reference(n parse.Node, args []parse.Node, piped bool) (e expr, ok bool) {
	switch n := n.(type) {
	case *parse.FieldNode:
		return c.chain(dotExpr, n.Ident, n, args, piped), true
	case *parse.ChainNode:
		return c.chain(c.arg(n.Node), n.Field, n, args, piped), true
	case *parse.VariableNode:
		v := c.variable(n.Ident[0], c.site(n))
		if len(n.Ident) > 1 {
			return c.chain(v.get, n.Ident[1:], n, args, piped), true
		}
		if len(args) > 0 || piped {
			return failing(c.site(n).failf("%s is a variable, not a function: it takes no arguments", n)), true
		}
		return v.get, true
	}
	return nil, false
}

// arg compiles an operand that no parameter type constrains.
func (c *compiler) arg(n parse.Node) expr {
	switch n := n.(type) {
	case *parse.DotNode:
		return dotExpr
	case *parse.NilNode:
		return constant(reflect.Value{})
	case *parse.FieldNode, *parse.ChainNode, *parse.VariableNode:
		e, _ := c.reference(n, nil, false)
		return e
	case *parse.PipeNode:
		return c.pipeline(n)
	case *parse.IdentifierNode:
		return c.function(n.Ident, c.site(n), nil, false)
	case *parse.BoolNode:
		return constant(reflect.ValueOf(n.True))
	case *parse.StringNode:
		return constant(reflect.ValueOf(n.Text))
	case *parse.NumberNode:
		v, err := number(n)
		if err != nil {
			return failing(c.site(n).fail(err))
		}
		return constant(v)
	}
	return failing(c.site(n).failf("%s cannot be an argument", n))
}

func dotExpr(_ *run, dot, _ reflect.Value) (reflect.Value, error) { return dot, nil }

func constant(v reflect.Value) expr {
	return func(*run, reflect.Value, reflect.Value) (reflect.Value, error) { return v, nil }
}

// number gives a numeric constant the type its spelling suggests, there
// being no parameter to say: complex if imaginary, float64 if written
// with a fraction or exponent, int otherwise. A rune or hexadecimal
// constant is an int even though the parser also sees a float in it.
func number(n *parse.NumberNode) (reflect.Value, error) {
	hex := len(n.Text) > 2 && n.Text[0] == '0' && strings.ContainsAny(n.Text[1:2], "xX") && !strings.ContainsAny(n.Text, "pP")
	floatish := !hex && !strings.HasPrefix(n.Text, "'") && strings.ContainsAny(n.Text, ".eEpP")
	switch {
	case n.IsComplex:
		return reflect.ValueOf(n.Complex128), nil
	case n.IsFloat && floatish:
		return reflect.ValueOf(n.Float64), nil
	case n.IsInt:
		return reflect.ValueOf(int(n.Int64)), nil
	case n.IsUint:
		return reflect.Value{}, fmt.Errorf("%s does not fit in an int", n.Text)
	}
	return reflect.Value{}, nil
}

// variable is a compiled reference to a variable. Where the name was
// declared inside an and/or argument, that declaration may have been
// skipped at run time, and an outer one of the same name, if any, is
// meant: maybe lists the candidates innermost first.
type variable struct {
	name  string
	at    *site
	maybe []binding
}

func (c *compiler) variable(name string, at *site) *variable {
	v := &variable{name: name, at: at}
	for i := len(c.scope) - 1; i >= 0; i-- {
		if b := c.scope[i]; b.name == name {
			v.maybe = append(v.maybe, b)
			if !b.mayBeSet {
				break
			}
		}
	}
	return v
}

// skipped fills the slot of a variable whose declaration was skipped.
type skippedDecl struct{}

var skipped = reflect.ValueOf(skippedDecl{})

func isSkipped(v reflect.Value) bool { return v.IsValid() && v.Type() == skipped.Type() }

// slot finds the variable's slot in the running template's frame.
func (v *variable) slot(r *run) (int, error) {
	for _, b := range v.maybe {
		if i := r.frame + b.slot; !b.mayBeSet || !isSkipped(r.vars[i]) {
			return i, nil
		}
	}
	return 0, v.at.failf("variable %s is not set here", v.name)
}

func (v *variable) get(r *run, _, _ reflect.Value) (reflect.Value, error) {
	i, err := v.slot(r)
	if err != nil {
		return reflect.Value{}, err
	}
	return r.vars[i], nil
}

func (v *variable) set(r *run, value reflect.Value) error {
	i, err := v.slot(r)
	if err == nil {
		r.vars[i] = value
	}
	return err
}
