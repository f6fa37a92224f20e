package template

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"text/template/parse"
)

// chain compiles .A.B.C applied to what recv gives: each name is a struct
// field, a map key or a method (see methods.go). Only the last name takes
// the command's arguments and piped value, and only a method can use
// them.
func (c *compiler) chain(recv expr, names []string, n parse.Node, args []parse.Node, piped bool) expr {
	at := c.site(n)
	steps := make([]*access, len(names))
	for i, name := range names {
		steps[i] = &access{name: name, key: reflect.ValueOf(name), at: at, args: noOperands}
	}
	last := steps[len(steps)-1]
	last.args = c.operands(at, args, piped, methodParams(last.name))
	return func(r *run, dot, pipedValue reflect.Value) (reflect.Value, error) {
		v, err := recv(r, dot, reflect.Value{})
		for _, step := range steps {
			if err != nil {
				break
			}
			v, err = step.from(r, dot, v, pipedValue)
		}
		return v, err
	}
}

// access is one name of a chain.
type access struct {
	name string
	key  reflect.Value // the name as a map key
	at   *site
	args *operands // none but for the last name of a chain
	// seen remembers the struct type last looked in and what was found,
	// as a site usually sees one type only.
	seen atomic.Pointer[structField]
}

type structField struct {
	in       reflect.Type
	index    []int
	found    bool
	exported bool
}

// from evaluates the name on recv.
func (a *access) from(r *run, dot, recv, piped reflect.Value) (reflect.Value, error) {
	if !recv.IsValid() {
		if r.missing == missingError {
			return reflect.Value{}, a.at.failf("there is no value to take %s from", a.name)
		}
		return reflect.Value{}, nil
	}
	typ := recv.Type()
	recv, isNil := indirect(recv)
	if isNil && recv.Kind() == reflect.Interface {
		return reflect.Value{}, a.at.failf("%s of a nil %s", a.name, typ)
	}
	if m, ok := method(recv, a.name); ok {
		return a.invoke(r, dot, piped, m)
	}
	hasArgs := a.args.count() > 0
	switch recv.Kind() {
	case reflect.Struct:
		f := a.field(recv.Type())
		if !f.found {
			break
		}
		if !f.exported {
			return reflect.Value{}, a.at.failf("field %s of %s is unexported", a.name, typ)
		}
		v, err := recv.FieldByIndexErr(f.index)
		if err != nil {
			return reflect.Value{}, a.at.fail(err)
		}
		if hasArgs {
			return reflect.Value{}, a.at.failf("field %s is not a method and takes no arguments", a.name)
		}
		return v, nil
	case reflect.Map:
		if !a.key.Type().AssignableTo(recv.Type().Key()) {
			break
		}
		if hasArgs {
			return reflect.Value{}, a.at.failf("map key %s is not a method and takes no arguments", a.name)
		}
		if v := recv.MapIndex(a.key); v.IsValid() {
			return v, nil
		}
		switch r.missing {
		case missingZero:
			return reflect.Zero(recv.Type().Elem()), nil
		case missingError:
			return reflect.Value{}, a.at.failf("the map has no key %q", a.name)
		}
		return reflect.Value{}, nil
	}
	if isNil {
		return reflect.Value{}, a.at.failf("%s of a nil %s", a.name, typ)
	}
	return reflect.Value{}, a.at.failf("%s has no field or method %s", typ, a.name)
}

func (a *access) field(t reflect.Type) *structField {
	if f := a.seen.Load(); f != nil && f.in == t {
		return f
	}
	sf, ok := t.FieldByName(a.name)
	f := &structField{in: t, index: sf.Index, found: ok, exported: sf.IsExported()}
	a.seen.Store(f)
	return f
}

// invoke runs a method with the chain's arguments.
func (a *access) invoke(r *run, dot, piped reflect.Value, m methodCall) (reflect.Value, error) {
	base := len(r.args)
	defer func() { r.args = r.args[:base] }()
	if err := a.args.push(r, dot, piped); err != nil {
		return reflect.Value{}, err
	}
	v, err := guard(m, r.args[base:])
	if err != nil {
		return reflect.Value{}, a.at.failf("%s: %w", a.name, err)
	}
	return v, nil
}

// guard calls f, turning a panic in it into an error, as a template's
// execution must not bring its program down.
func guard(f func([]reflect.Value) (reflect.Value, error), args []reflect.Value) (v reflect.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", p)
			}
		}
	}()
	return f(args)
}
