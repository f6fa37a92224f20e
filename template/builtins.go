package template

import (
	"fmt"
	"reflect"
	gotemplate "text/template"
	"text/template/parse"
)

// function is a built-in function that evaluates all its arguments
// before it runs: every one but and and or.
type function struct {
	min, max int            // how many arguments it takes; max -1 for any number
	params   []reflect.Type // the types its leading arguments must have, if any
	impl     func(args []reflect.Value) (reflect.Value, error)
}

var functions = map[string]function{
	"not":      {1, 1, nil, not},
	"len":      {1, 1, nil, length},
	"index":    {1, -1, nil, index},
	"slice":    {1, -1, nil, slice},
	"print":    {0, -1, nil, text(fmt.Sprint)},
	"println":  {0, -1, nil, text(fmt.Sprintln)},
	"printf":   {1, -1, []reflect.Type{stringType}, printf},
	"html":     {0, -1, nil, text(gotemplate.HTMLEscaper)},
	"js":       {0, -1, nil, text(gotemplate.JSEscaper)},
	"urlquery": {0, -1, nil, text(gotemplate.URLQueryEscaper)},
	"eq":       {1, -1, nil, eq},
	"ne":       {2, 2, nil, ne},
	"lt":       {2, 2, nil, lt},
	"le":       {2, 2, nil, le},
	"gt":       {2, 2, nil, gt},
	"ge":       {2, 2, nil, ge},
	"call":     {1, -1, nil, call},
}

// builtinNames are the functions the parser accepts: those above, and
// and or. It only checks that a name has a non-nil entry.
var builtinNames = func() map[string]any {
	names := map[string]any{"and": true, "or": true}
	for name := range functions {
		names[name] = true
	}
	return names
}()

// function compiles a call of the built-in name.
func (c *compiler) function(name string, at *site, args []parse.Node, piped bool) expr {
	if name == "and" || name == "or" {
		return c.andOr(name == "or", at, args, piped)
	}
	f := functions[name]
	ops := c.operands(at, args, piped, f.params)
	if n := ops.count(); n < f.min || f.max >= 0 && n > f.max {
		return failing(at.failf("%s cannot take %d arguments", name, n))
	}
	return func(r *run, dot, piped reflect.Value) (reflect.Value, error) {
		base := len(r.args)
		defer func() { r.args = r.args[:base] }()
		if err := ops.push(r, dot, piped); err != nil {
			return reflect.Value{}, err
		}
		v, err := guard(f.impl, r.args[base:])
		if err != nil {
			return reflect.Value{}, at.failf("%s: %w", name, err)
		}
		return v, nil
	}
}

// andOr compiles and and or, which evaluate their arguments only until
// one decides the result, and give that argument: the first false one for
// and, the first true one for or, or else the last. A variable declared in
// an argument after the first may so never be set (see variable).
func (c *compiler) andOr(or bool, at *site, args []parse.Node, piped bool) expr {
	if len(args) == 0 && !piped {
		return failing(at.failf("and and or need at least one argument"))
	}
	var exprs []expr
	if len(args) > 0 {
		exprs = append(exprs, c.arg(args[0]))
	}
	first := c.slots // the slots of what the later arguments declare
	c.skippable++
	for _, arg := range args[min(1, len(args)):] {
		exprs = append(exprs, c.arg(arg))
	}
	c.skippable--
	last := c.slots
	return func(r *run, dot, pipedValue reflect.Value) (reflect.Value, error) {
		for slot := first; slot < last; slot++ {
			r.vars[r.frame+slot] = skipped
		}
		var v reflect.Value
		for _, e := range exprs {
			var err error
			if v, err = e(r, dot, reflect.Value{}); err != nil || truth(indirectInterface(v)) == or {
				return v, err
			}
		}
		if piped {
			v = pipedValue
		}
		return v, nil
	}
}

func not(args []reflect.Value) (reflect.Value, error) {
	return reflect.ValueOf(!truth(indirectInterface(args[0]))), nil
}

// text adapts a function of fmt's kind, which takes anything and makes a
// string of it.
func text(f func(...any) string) func([]reflect.Value) (reflect.Value, error) {
	return func(args []reflect.Value) (reflect.Value, error) {
		return reflect.ValueOf(f(interfaces(args)...)), nil
	}
}

func printf(args []reflect.Value) (reflect.Value, error) {
	return reflect.ValueOf(fmt.Sprintf(args[0].String(), interfaces(args[1:])...)), nil
}

// interfaces gives values as fmt takes them; no value is nil.
func interfaces(vs []reflect.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		if v.IsValid() {
			out[i] = v.Interface()
		}
	}
	return out
}

// call calls the function args[0] with the arguments that follow. The
// function gives one value, or a value and an error.
func call(args []reflect.Value) (reflect.Value, error) {
	fn, in := indirectInterface(args[0]), args[1:]
	if fn.Kind() != reflect.Func {
		return reflect.Value{}, fmt.Errorf("%s is not a function", typeString(fn))
	}
	if fn.IsNil() {
		return reflect.Value{}, fmt.Errorf("the function is nil")
	}
	t := fn.Type()
	if t.NumOut() != 1 && (t.NumOut() != 2 || t.Out(1) != errorType) {
		return reflect.Value{}, fmt.Errorf("a %s gives neither a value nor a value and an error", t)
	}
	fixed := t.NumIn()
	if t.IsVariadic() {
		fixed--
	}
	if len(in) < fixed || !t.IsVariadic() && len(in) > fixed {
		return reflect.Value{}, fmt.Errorf("a %s cannot take %d arguments", t, len(in))
	}
	argv := make([]reflect.Value, len(in))
	for i, arg := range in {
		pt := t.In(min(i, t.NumIn()-1))
		if i >= fixed {
			pt = pt.Elem()
		}
		var err error
		if argv[i], err = argFor(indirectInterface(arg), pt); err != nil {
			return reflect.Value{}, fmt.Errorf("argument %d: %w", i+1, err)
		}
	}
	out := fn.Call(argv)
	if len(out) == 2 && !out[1].IsNil() {
		return out[0], out[1].Interface().(error)
	}
	return out[0], nil
}
