package template

import (
	"fmt"
	"io"
	"reflect"
)

var (
	stringType = reflect.TypeFor[string]()
	errorType  = reflect.TypeFor[error]()
)

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
