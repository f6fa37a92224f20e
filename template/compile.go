package template

import (
	"reflect"
	"text/template/parse"
)

// A template is compiled once, when it is parsed, into a tree of
// closures: an emitFn for each node that writes and an expr for each
// expression. Executing it only calls them, so the parse tree is not
// inspected again, variables are slots found at compile time and a
// {{template}} call already holds its callee.

// emitFn writes what a node of the template produces for dot.
type emitFn func(r *run, dot reflect.Value) error

// program is one template of a set, compiled.
type program struct {
	body  emitFn
	slots int // variable slots a call needs; slot 0 holds $
}

// compileSet compiles every template parse.Parse returned. The programs
// exist before any body is compiled so that templates may call each
// other, and themselves, in any order.
func compileSet(trees map[string]*parse.Tree) map[string]*program {
	progs := make(map[string]*program, len(trees))
	for name := range trees {
		progs[name] = new(program)
	}
	for name, tree := range trees {
		c := &compiler{tree: tree, progs: progs}
		c.declare("$")
		progs[name].body = c.list(tree.Root)
		progs[name].slots = c.slots
	}
	return progs
}

// compiler compiles one template's tree.
type compiler struct {
	tree  *parse.Tree
	progs map[string]*program

	// scope lists the variables in scope, innermost last, as the parser
	// saw them; each has its own slot.
	scope []binding
	slots int

	// skippable counts the and/or arguments being compiled that may not
	// be evaluated: a variable they declare may not exist at run time.
	skippable int
}

type binding struct {
	name     string
	slot     int
	mayBeSet bool // declared inside an and/or argument that may be skipped
}

// declare brings a new variable into scope and returns its slot.
func (c *compiler) declare(name string) int {
	slot := c.slots
	c.slots++
	c.scope = append(c.scope, binding{name: name, slot: slot, mayBeSet: c.skippable > 0})
	return slot
}

// nothing is what an empty list writes.
func nothing(*run, reflect.Value) error { return nil }

func (c *compiler) list(l *parse.ListNode) emitFn {
	if l == nil {
		return nothing
	}
	var steps []emitFn
	for _, n := range l.Nodes {
		if step := c.node(n); step != nil {
			steps = append(steps, step)
		}
	}
	switch len(steps) {
	case 0:
		return nothing
	case 1:
		return steps[0]
	}
	return func(r *run, dot reflect.Value) error {
		for _, step := range steps {
			if err := step(r, dot); err != nil {
				return err
			}
		}
		return nil
	}
}

// node compiles one node of a list; comments compile to nothing.
func (c *compiler) node(n parse.Node) emitFn {
	switch n := n.(type) {
	case *parse.TextNode:
		text := n.Text
		return func(r *run, _ reflect.Value) error {
			_, err := r.w.Write(text)
			return err
		}
	case *parse.CommentNode:
		return nil
	case *parse.ActionNode:
		return c.action(n)
	case *parse.IfNode:
		return c.branch(n.Pipe, n.List, n.ElseList, false)
	case *parse.WithNode:
		return c.branch(n.Pipe, n.List, n.ElseList, true)
	case *parse.RangeNode:
		return c.rangeLoop(n)
	case *parse.TemplateNode:
		return c.include(n)
	case *parse.BreakNode:
		return func(*run, reflect.Value) error { return errBreak }
	case *parse.ContinueNode:
		return func(*run, reflect.Value) error { return errContinue }
	}
	// The parser makes no other nodes in a list.
	err := c.site(n).failf("%s cannot be executed", n)
	return func(*run, reflect.Value) error { return err }
}

// action prints its pipeline's value, unless the pipeline declares or
// assigns variables: then the value only goes to them.
func (c *compiler) action(n *parse.ActionNode) emitFn {
	pipe := c.pipeline(n.Pipe)
	if len(n.Pipe.Decl) > 0 {
		return func(r *run, dot reflect.Value) error {
			_, err := pipe(r, dot, reflect.Value{})
			return err
		}
	}
	at := c.site(n)
	return func(r *run, dot reflect.Value) error {
		v, err := pipe(r, dot, reflect.Value{})
		if err != nil {
			return err
		}
		return r.print(at, v)
	}
}

// branch compiles if and with. The else part cannot see variables the
// first part declares: at run time they were never set.
func (c *compiler) branch(pipe *parse.PipeNode, list, elseList *parse.ListNode, with bool) emitFn {
	outer := len(c.scope)
	cond := c.pipeline(pipe)
	inner := len(c.scope)
	then := c.list(list)
	c.scope = c.scope[:inner]
	otherwise := c.list(elseList)
	c.scope = c.scope[:outer]
	return func(r *run, dot reflect.Value) error {
		v, err := cond(r, dot, reflect.Value{})
		if err != nil {
			return err
		}
		if !truth(indirectInterface(v)) {
			return otherwise(r, dot)
		}
		if with {
			dot = v
		}
		return then(r, dot)
	}
}

// include compiles {{template "name" pipeline}}.
func (c *compiler) include(n *parse.TemplateNode) emitFn {
	at := c.site(n)
	callee := c.progs[n.Name]
	var arg expr
	if n.Pipe != nil {
		arg = c.pipeline(n.Pipe)
	}
	return func(r *run, dot reflect.Value) error {
		if callee == nil {
			return at.failf("there is no template named %q", n.Name)
		}
		if r.depth >= maxDepth {
			return at.failf("template calls nest deeper than the maximum template depth, %d", maxDepth)
		}
		var data reflect.Value
		if arg != nil {
			var err error
			if data, err = arg(r, dot, reflect.Value{}); err != nil {
				return err
			}
		}
		return callee.call(r, data)
	}
}
