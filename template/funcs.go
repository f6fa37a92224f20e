package template

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template/parse"

	gotemplate "text/template"
)

// builtinNames are the functions a template may call: text/template's
// built-ins. The parser only checks that a name has a non-nil entry.
var builtinNames = func() map[string]any {
	m := map[string]any{}
	for _, name := range []string{"and", "or", "not", "len", "index", "slice", "print", "printf", "println",
		"html", "js", "urlquery", "eq", "ne", "lt", "le", "gt", "ge", "call"} {
		m[name] = true
	}
	return m
}()

// evalFunction calls a built-in with the command's arguments, the
// pipeline's previous value last.
func (s *state) evalFunction(dot reflect.Value, id *parse.IdentifierNode, cmd parse.Node, args []parse.Node, final reflect.Value) reflect.Value {
	s.at(id)
	name := id.Ident
	if len(args) > 0 {
		args = args[1:]
	}
	n := len(args)
	if !isMissing(final) {
		n++
	}
	switch name {
	case "and", "or":
		s.argCount(name, n, 1, true)
		// Arguments are evaluated only until one decides the result.
		var v reflect.Value
		for _, a := range args {
			v = s.evalArg(dot, a)
			if truth(v) == (name == "or") {
				return v
			}
		}
		if !isMissing(final) {
			v = final
		}
		return v
	}
	argv := make([]reflect.Value, 0, n)
	for _, a := range args {
		argv = append(argv, s.evalArg(dot, a))
	}
	if !isMissing(final) {
		argv = append(argv, final)
	}
	s.at(cmd)
	var (
		v   reflect.Value
		err error
	)
	switch name {
	case "not":
		s.argCount(name, n, 1, false)
		v = reflect.ValueOf(!truth(argv[0]))
	case "len":
		s.argCount(name, n, 1, false)
		v, err = length(argv[0])
	case "index":
		s.argCount(name, n, 1, true)
		v, err = index(argv[0], argv[1:])
	case "slice":
		s.argCount(name, n, 1, true)
		v, err = slice(argv[0], argv[1:])
	case "print", "println":
		out := interfaces(argv)
		if name == "print" {
			v = reflect.ValueOf(fmt.Sprint(out...))
		} else {
			v = reflect.ValueOf(fmt.Sprintln(out...))
		}
	case "printf":
		s.argCount(name, n, 1, true)
		format := indirectInterface(argv[0])
		if format.Kind() != reflect.String {
			s.errorf("wrong type for value; expected string; got %s", typeString(argv[0]))
		}
		v = reflect.ValueOf(fmt.Sprintf(format.String(), interfaces(argv[1:])...))
	case "html":
		v = reflect.ValueOf(gotemplate.HTMLEscapeString(joinArgs(argv)))
	case "js":
		v = reflect.ValueOf(gotemplate.JSEscapeString(joinArgs(argv)))
	case "urlquery":
		v = reflect.ValueOf(gotemplate.URLQueryEscaper(joinArgs(argv)))
	case "eq", "ne":
		if name == "ne" {
			s.argCount(name, n, 2, false)
		} else {
			s.argCount(name, n, 1, true)
		}
		var same bool
		same, err = eq(argv[0], argv[1:]...)
		v = reflect.ValueOf(same == (name == "eq"))
	case "lt", "le", "gt", "ge":
		s.argCount(name, n, 2, false)
		var b bool
		b, err = compare(name, argv[0], argv[1])
		v = reflect.ValueOf(b)
	case "call":
		s.argCount(name, n, 1, true)
		v, err = call(argv[0], argv[1:])
	default:
		s.errorf("%q is not a defined function", name)
	}
	if err != nil {
		s.errorf("error calling %s: %v", name, err)
	}
	return v
}

// argCount checks a built-in's number of arguments: exactly want, or at
// least want when variadic.
func (s *state) argCount(name string, got, want int, variadic bool) {
	switch {
	case variadic && got < want:
		s.errorf("wrong number of args for %s: want at least %d got %d", name, want, got)
	case !variadic && got != want:
		s.errorf("wrong number of args for %s: want %d got %d", name, want, got)
	}
}

func truth(v reflect.Value) bool {
	t, _ := isTrue(indirectInterface(v))
	return t
}

// interfaces turns values into fmt's arguments, nothing into nil.
func interfaces(vs []reflect.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		if v.IsValid() {
			out[i] = v.Interface()
		}
	}
	return out
}

// joinArgs is what html, js and urlquery escape: their one string
// argument, or all of them printed as an action prints them.
func joinArgs(vs []reflect.Value) string {
	if len(vs) == 1 {
		if v := indirectInterface(vs[0]); v.IsValid() && v.Type() == reflect.TypeFor[string]() {
			return v.String()
		}
	}
	out := interfaces(vs)
	for i, v := range vs {
		if p, ok := printable(v); ok && v.IsValid() {
			out[i] = p
		}
	}
	return fmt.Sprint(out...)
}

func length(item reflect.Value) (reflect.Value, error) {
	item, isNil := indirect(item)
	if isNil {
		return reflect.Value{}, errors.New("len of nil pointer")
	}
	switch item.Kind() {
	case reflect.Array, reflect.Chan, reflect.Map, reflect.Slice, reflect.String:
		return reflect.ValueOf(item.Len()), nil
	}
	return reflect.Value{}, fmt.Errorf("len of type %s", typeString(item))
}

func index(item reflect.Value, indexes []reflect.Value) (reflect.Value, error) {
	item = indirectInterface(item)
	if !item.IsValid() {
		return reflect.Value{}, errors.New("index of untyped nil")
	}
	for _, i := range indexes {
		i = indirectInterface(i)
		var isNil bool
		if item, isNil = indirect(item); isNil {
			return reflect.Value{}, errors.New("index of nil pointer")
		}
		switch item.Kind() {
		case reflect.Array, reflect.Slice, reflect.String:
			x, err := position(i, item.Len())
			if err != nil {
				return reflect.Value{}, err
			}
			if x == item.Len() {
				return reflect.Value{}, fmt.Errorf("index out of range: %d", x)
			}
			item = item.Index(x)
		case reflect.Map:
			key, err := assignable(i, item.Type().Key())
			if err != nil {
				return reflect.Value{}, err
			}
			if v := item.MapIndex(key); v.IsValid() {
				item = v
			} else {
				item = reflect.Zero(item.Type().Elem())
			}
		case reflect.Invalid:
			return reflect.Value{}, errors.New("index of untyped nil")
		default:
			return reflect.Value{}, fmt.Errorf("can't index item of type %s", item.Type())
		}
	}
	return item, nil
}

// position reads an index, which may equal limit (for slicing).
func position(i reflect.Value, limit int) (int, error) {
	var x int64
	switch {
	case i.CanInt():
		x = i.Int()
	case i.CanUint():
		x = int64(i.Uint())
	case !i.IsValid():
		return 0, errors.New("cannot index slice/array with nil")
	default:
		return 0, fmt.Errorf("cannot index slice/array with type %s", i.Type())
	}
	if x < 0 || int(x) < 0 || int(x) > limit {
		return 0, fmt.Errorf("index out of range: %d", x)
	}
	return int(x), nil
}

// assignable converts v for use as a value of type t, as a map key must
// be.
func assignable(v reflect.Value, t reflect.Type) (reflect.Value, error) {
	switch {
	case !v.IsValid():
		if canBeNil(t) {
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("value is nil; should be of type %s", t)
	case v.Type().AssignableTo(t):
		return v, nil
	case v.CanInt() && reflect.Zero(t).CanInt(), v.CanUint() && reflect.Zero(t).CanUint():
		// Constants in a template are int; keys of other integer types
		// take them as Go would.
		if v.Type().ConvertibleTo(t) {
			return v.Convert(t), nil
		}
	case v.Kind() == reflect.Pointer && v.Type().Elem().AssignableTo(t):
		return v.Elem(), nil
	}
	return reflect.Value{}, fmt.Errorf("value has type %s; should be %s", v.Type(), t)
}

func canBeNil(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice:
		return true
	}
	return false
}

func slice(item reflect.Value, indexes []reflect.Value) (reflect.Value, error) {
	item = indirectInterface(item)
	if !item.IsValid() {
		return reflect.Value{}, errors.New("slice of untyped nil")
	}
	item, isNil := indirect(item)
	if isNil {
		return reflect.Value{}, errors.New("slice of nil pointer")
	}
	if len(indexes) > 3 {
		return reflect.Value{}, fmt.Errorf("too many slice indexes: %d", len(indexes))
	}
	var limit int
	switch item.Kind() {
	case reflect.String:
		if len(indexes) == 3 {
			return reflect.Value{}, errors.New("cannot 3-index slice a string")
		}
		limit = item.Len()
	case reflect.Array, reflect.Slice:
		limit = item.Cap()
	default:
		return reflect.Value{}, fmt.Errorf("can't slice item of type %s", item.Type())
	}
	idx := [3]int{0, item.Len()}
	for i, x := range indexes {
		p, err := position(indirectInterface(x), limit)
		if err != nil {
			return reflect.Value{}, err
		}
		idx[i] = p
	}
	if idx[0] > idx[1] {
		return reflect.Value{}, fmt.Errorf("invalid slice index: %d > %d", idx[0], idx[1])
	}
	if len(indexes) < 3 {
		return item.Slice(idx[0], idx[1]), nil
	}
	if idx[1] > idx[2] {
		return reflect.Value{}, fmt.Errorf("invalid slice index: %d > %d", idx[1], idx[2])
	}
	return item.Slice3(idx[0], idx[1], idx[2]), nil
}

// kind groups the kinds that compare alike.
type kind int

const (
	otherKind kind = iota
	boolKind
	complexKind
	intKind
	floatKind
	stringKind
	uintKind
)

func kindOf(v reflect.Value) kind {
	switch {
	case v.Kind() == reflect.Bool:
		return boolKind
	case v.CanInt():
		return intKind
	case v.CanUint():
		return uintKind
	case v.CanFloat():
		return floatKind
	case v.CanComplex():
		return complexKind
	case v.Kind() == reflect.String:
		return stringKind
	}
	return otherKind
}

var errNoComparison = errors.New("missing argument for comparison")

// eq reports whether a equals any of bs; integers compare across
// signedness, other values must have the same kind of type.
func eq(a reflect.Value, bs ...reflect.Value) (bool, error) {
	a = indirectInterface(a)
	if len(bs) == 0 {
		return false, errNoComparison
	}
	ka := kindOf(a)
	for _, b := range bs {
		b = indirectInterface(b)
		kb := kindOf(b)
		var same bool
		switch {
		case ka == intKind && kb == uintKind:
			same = a.Int() >= 0 && uint64(a.Int()) == b.Uint()
		case ka == uintKind && kb == intKind:
			same = b.Int() >= 0 && a.Uint() == uint64(b.Int())
		case ka != kb:
			if a.IsValid() && b.IsValid() {
				return false, fmt.Errorf("incompatible types for comparison: %v and %v", a.Type(), b.Type())
			}
		case ka == boolKind:
			same = a.Bool() == b.Bool()
		case ka == complexKind:
			same = a.Complex() == b.Complex()
		case ka == floatKind:
			same = a.Float() == b.Float()
		case ka == intKind:
			same = a.Int() == b.Int()
		case ka == stringKind:
			same = a.String() == b.String()
		case ka == uintKind:
			same = a.Uint() == b.Uint()
		default:
			var err error
			if same, err = eqOther(a, b); err != nil {
				return false, err
			}
		}
		if same {
			return true, nil
		}
	}
	return false, nil
}

// eqOther compares values that are not numbers, strings or booleans:
// nil against nil, otherwise with Go's == where the types allow it (two
// pointers of different types are unequal, not an error).
func eqOther(a, b reflect.Value) (bool, error) {
	if a.IsValid() && b.IsValid() && a.Kind() != b.Kind() {
		return false, fmt.Errorf("non-comparable types %s: %v, %s: %v", a, a.Type(), b.Type(), b)
	}
	if isNil(a) || isNil(b) {
		return isNil(a) == isNil(b), nil
	}
	if !b.Type().Comparable() {
		return false, fmt.Errorf("non-comparable type %s: %v", b, b.Type())
	}
	return a.Interface() == b.Interface(), nil
}

func isNil(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	return canBeNil(v.Type()) && v.IsNil()
}

var errBadComparisonType = errors.New("invalid type for comparison")

// compare evaluates lt, le, gt or ge on two numbers or strings.
func compare(op string, a, b reflect.Value) (bool, error) {
	lt, err := less(a, b)
	if err != nil {
		return false, err
	}
	switch op {
	case "lt":
		return lt, nil
	case "ge":
		return !lt, nil
	}
	same, err := eq(a, b)
	if err != nil {
		return false, err
	}
	if op == "le" {
		return lt || same, nil
	}
	return !lt && !same, nil
}

func less(a, b reflect.Value) (bool, error) {
	a, b = indirectInterface(a), indirectInterface(b)
	ka, kb := kindOf(a), kindOf(b)
	if ka == otherKind || kb == otherKind {
		return false, errBadComparisonType
	}
	switch {
	case ka == intKind && kb == uintKind:
		return a.Int() < 0 || uint64(a.Int()) < b.Uint(), nil
	case ka == uintKind && kb == intKind:
		return b.Int() >= 0 && a.Uint() < uint64(b.Int()), nil
	case ka != kb:
		return false, fmt.Errorf("incompatible types for comparison: %v and %v", a.Type(), b.Type())
	case ka == boolKind, ka == complexKind:
		return false, errBadComparisonType
	case ka == floatKind:
		return a.Float() < b.Float(), nil
	case ka == intKind:
		return a.Int() < b.Int(), nil
	case ka == stringKind:
		return a.String() < b.String(), nil
	}
	return a.Uint() < b.Uint(), nil
}

// call calls a function value held in the data, as the built-in call
// does: it must return one value, or a value and an error.
func call(fn reflect.Value, args []reflect.Value) (reflect.Value, error) {
	fn = indirectInterface(fn)
	if !fn.IsValid() {
		return reflect.Value{}, errors.New("call of nil")
	}
	t := fn.Type()
	if t.Kind() != reflect.Func {
		return reflect.Value{}, fmt.Errorf("non-function of type %s", t)
	}
	if n := t.NumOut(); n == 0 || n > 2 || n == 2 && t.Out(1) != errorType {
		return reflect.Value{}, fmt.Errorf("function called with %d args; should be 1 or 2", n)
	}
	if fn.IsNil() {
		return reflect.Value{}, errors.New("call of nil")
	}
	want := t.NumIn()
	if t.IsVariadic() && len(args) < want-1 || !t.IsVariadic() && len(args) != want {
		return reflect.Value{}, fmt.Errorf("wrong number of args: got %d want %d", len(args), want)
	}
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		pt := t.In(min(i, want-1))
		if t.IsVariadic() && i >= want-1 {
			pt = pt.Elem()
		}
		v, err := assignable(indirectInterface(a), pt)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("arg %d: %w", i, err)
		}
		in[i] = v
	}
	out := fn.Call(in)
	if len(out) == 2 && !out[1].IsNil() {
		return out[0], out[1].Interface().(error)
	}
	return out[0], nil
}

// sortedKeys orders a map's keys for range: numbers by value, strings
// and everything else by their printed form.
func sortedKeys(m reflect.Value) []reflect.Value {
	keys := m.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		switch kindOf(a) {
		case intKind:
			return cmp.Compare(a.Int(), b.Int())
		case uintKind:
			return cmp.Compare(a.Uint(), b.Uint())
		case floatKind:
			return cmp.Compare(a.Float(), b.Float())
		case stringKind:
			return strings.Compare(a.String(), b.String())
		case boolKind:
			return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool()))
		}
		return strings.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
	})
	return keys
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
