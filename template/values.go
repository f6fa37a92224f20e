package template

import (
	"fmt"
	"io"
	"reflect"
	"text/template/parse"
)

var (
	stringType = reflect.TypeFor[string]()
	errorType  = reflect.TypeFor[error]()
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

// nilable tells whether nil is a value of type t.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice:
		return true
	}
	return false
}

// indirect follows pointers and interfaces to what they hold, stopping
// at a nil one, and tells whether it did.
func indirect(v reflect.Value) (reflect.Value, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return v, true
		}
		v = v.Elem()
	}
	return v, false
}

// indirectInterface gives the value inside an interface, which for a nil
// interface is no value.
func indirectInterface(v reflect.Value) reflect.Value {
	if v.Kind() == reflect.Interface {
		return v.Elem()
	}
	return v
}

// typeString names v's type, for messages.
func typeString(v reflect.Value) string {
	if !v.IsValid() {
		return "no value"
	}
	return v.Type().String()
}

// truth is what if, with, and, or and not make of a value: false for no
// value, zero numbers, false, empty strings and collections and nil; true
// for anything else, structs included.
func truth(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Invalid:
		return false
	case reflect.Struct:
		return true
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0
	}
	switch {
	case v.CanFloat():
		return v.Float() != 0 // -0 is false too, though not IsZero
	case v.CanComplex():
		return v.Complex() != 0
	}
	return !v.IsZero()
}

// print writes v as an action shows it.
func (r *run) print(at *site, v reflect.Value) error {
	if v.Kind() == reflect.String && v.Type() == stringType {
		_, err := io.WriteString(r.w, v.String())
		return err
	}
	x, ok := printable(v)
	if !ok {
		return at.failf("a %s cannot be printed", v.Type())
	}
	_, err := fmt.Fprint(r.w, x)
	return err
}

// printable gives what fmt should print for v: what a pointer points to,
// unless it is nil; "<no value>" for no value; and the value's address
// when only that has a String or Error method. Functions and channels
// are not printable.
func printable(v reflect.Value) (any, bool) {
	if v.Kind() == reflect.Pointer {
		v, _ = indirect(v)
	}
	if !v.IsValid() {
		return "<no value>", true
	}
	if !hasPrintMethod(v.Type()) {
		switch {
		case v.CanAddr() && hasPrintMethod(reflect.PointerTo(v.Type())):
			v = v.Addr()
		case v.Kind() == reflect.Chan || v.Kind() == reflect.Func:
			return nil, false
		}
	}
	return v.Interface(), true
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

func hasPrintMethod(t reflect.Type) bool {
	return t.Implements(errorType) || t.Implements(stringerType)
}
