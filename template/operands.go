package template

import (
	"fmt"
	"reflect"
	"text/template/parse"
)

// operands are a call's compiled arguments, the piped value last. Those
// at a position params covers are converted to that parameter's type.
type operands struct {
	at      *site
	exprs   []expr
	piped   bool
	pipedTo reflect.Type // the piped value's parameter type, if params has it
}

var noOperands = new(operands)

func (c *compiler) operands(at *site, args []parse.Node, piped bool, params []reflect.Type) *operands {
	o := &operands{at: at, piped: piped}
	for i, arg := range args {
		if i < len(params) {
			o.exprs = append(o.exprs, c.typedArg(arg, params[i]))
		} else {
			o.exprs = append(o.exprs, c.arg(arg))
		}
	}
	if piped && len(args) < len(params) {
		o.pipedTo = params[len(args)]
	}
	return o
}

func (o *operands) count() int {
	if o.piped {
		return len(o.exprs) + 1
	}
	return len(o.exprs)
}

// push evaluates the operands onto r.args; the caller pops them.
func (o *operands) push(r *run, dot, piped reflect.Value) error {
	for _, e := range o.exprs {
		v, err := e(r, dot, reflect.Value{})
		if err != nil {
			return err
		}
		r.args = append(r.args, v)
	}
	if !o.piped {
		return nil
	}
	if o.pipedTo != nil {
		var err error
		if piped, err = convert(piped, o.pipedTo); err != nil {
			return o.at.fail(err)
		}
	}
	r.args = append(r.args, piped)
	return nil
}

// typedArg compiles an operand for a parameter of type t: a constant
// becomes a t if it can; any other value must be assignable to t.
func (c *compiler) typedArg(n parse.Node, t reflect.Type) expr {
	at := c.site(n)
	switch n := n.(type) {
	case *parse.NilNode:
		if !nilable(t) {
			return failing(at.failf("nil cannot be a %s", t))
		}
		return constant(reflect.Zero(t))
	case *parse.BoolNode, *parse.StringNode, *parse.NumberNode:
		v, err := typedConstant(n, t)
		if err != nil {
			return failing(at.fail(err))
		}
		return constant(v)
	}
	e := c.arg(n)
	return func(r *run, dot, _ reflect.Value) (reflect.Value, error) {
		v, err := e(r, dot, reflect.Value{})
		if err != nil {
			return reflect.Value{}, err
		}
		if v, err = convert(v, t); err != nil {
			return reflect.Value{}, at.fail(err)
		}
		return v, nil
	}
}

// typedConstant makes a constant a t. The parameters of the built-ins and
// of methods.go's methods are strings, durations and times, so strings
// and integers are the constants there is a use for.
func typedConstant(n parse.Node, t reflect.Type) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	switch n := n.(type) {
	case *parse.StringNode:
		if t.Kind() == reflect.String {
			v.SetString(n.Text)
			return v, nil
		}
	case *parse.NumberNode:
		if n.IsInt && v.CanInt() {
			v.SetInt(n.Int64)
			return v, nil
		}
	}
	return reflect.Value{}, fmt.Errorf("%s cannot be a %s", n, t)
}

// convert makes v a value of type t if Go could assign it, through an
// interface or one pointer if need be.
func convert(v reflect.Value, t reflect.Type) (reflect.Value, error) {
	if !v.IsValid() {
		if nilable(t) {
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("a %s is needed and there is no value", t)
	}
	if v.Kind() == reflect.Interface && !v.IsNil() && !v.Type().AssignableTo(t) {
		v = v.Elem()
	}
	switch {
	case v.Type().AssignableTo(t):
		return v, nil
	case v.Kind() == reflect.Pointer && v.Type().Elem().AssignableTo(t):
		if v.IsNil() {
			return reflect.Value{}, fmt.Errorf("a %s is needed and the pointer to one is nil", t)
		}
		return v.Elem(), nil
	case v.CanAddr() && reflect.PointerTo(v.Type()).AssignableTo(t):
		return v.Addr(), nil
	}
	return reflect.Value{}, fmt.Errorf("a %s is needed, not a %s", t, v.Type())
}

// argFor makes v a t for a map key or a called function's argument: nil
// for what can be nil, v itself if assignable, and any integer for any
// other integer type.
func argFor(v reflect.Value, t reflect.Type) (reflect.Value, error) {
	switch {
	case !v.IsValid() && nilable(t):
		return reflect.Zero(t), nil
	case !v.IsValid():
		return reflect.Value{}, fmt.Errorf("nil cannot be a %s", t)
	case v.Type().AssignableTo(t):
		return v, nil
	case isInteger(v.Kind()) && isInteger(t.Kind()):
		return v.Convert(t), nil
	}
	return reflect.Value{}, fmt.Errorf("a %s is needed, not a %s", t, v.Type())
}

func isInteger(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uintptr
}
