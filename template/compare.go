package template

import (
	"errors"
	"fmt"
	"reflect"
)

// The comparison functions compare basic values by value across sizes
// and, for integers, across signedness; other values Go can compare
// with == are compared with ==, and only by eq and ne.

// basic is the family a value of a basic type belongs to.
type basic int

const (
	notBasic basic = iota
	boolean
	signed
	unsigned
	float
	complexNumber
	str
)

func basicOf(v reflect.Value) basic {
	switch {
	case v.Kind() == reflect.Bool:
		return boolean
	case v.CanInt():
		return signed
	case v.CanUint():
		return unsigned
	case v.CanFloat():
		return float
	case v.CanComplex():
		return complexNumber
	case v.Kind() == reflect.String:
		return str
	}
	return notBasic
}

var errMixed = errors.New("values of different kinds cannot be compared")

// eq tells whether args[0] equals any of the values after it.
func eq(args []reflect.Value) (reflect.Value, error) {
	if len(args) < 2 {
		return reflect.Value{}, errors.New("eq needs something to compare with")
	}
	a := indirectInterface(args[0])
	for _, b := range args[1:] {
		same, err := equal(a, indirectInterface(b))
		if err != nil || same {
			return reflect.ValueOf(same), err
		}
	}
	return reflect.ValueOf(false), nil
}

func ne(args []reflect.Value) (reflect.Value, error) {
	same, err := equal(indirectInterface(args[0]), indirectInterface(args[1]))
	return reflect.ValueOf(!same), err
}

func lt(args []reflect.Value) (reflect.Value, error) {
	c, err := order(args, false)
	return reflect.ValueOf(c < 0), err
}

func le(args []reflect.Value) (reflect.Value, error) {
	c, err := order(args, true)
	return reflect.ValueOf(c <= 0), err
}

// gt and ge are the negations of le and lt, which for a NaN is not what
// > and >= would say, but is what text/template says.
func gt(args []reflect.Value) (reflect.Value, error) {
	c, err := order(args, true)
	return reflect.ValueOf(err == nil && c > 0), err
}

func ge(args []reflect.Value) (reflect.Value, error) {
	c, err := order(args, false)
	return reflect.ValueOf(err == nil && c >= 0), err
}

// order compares two basic values: -1 if the first is less, 0 if they are
// equal, 1 otherwise (NaN included). Equality is only worked out when
// withEqual asks for it.
func order(args []reflect.Value, withEqual bool) (int, error) {
	a, b := indirectInterface(args[0]), indirectInterface(args[1])
	less, err := lessThan(a, b)
	switch {
	case err != nil:
		return 0, err
	case less:
		return -1, nil
	case !withEqual:
		return 1, nil
	}
	if same, err := equal(a, b); err != nil || !same {
		return 1, err
	}
	return 0, nil
}

func lessThan(a, b reflect.Value) (bool, error) {
	ka, kb := basicOf(a), basicOf(b)
	switch {
	case ka == notBasic || kb == notBasic:
		return false, fmt.Errorf("a %s and a %s cannot be ordered", typeString(a), typeString(b))
	case ka == signed && kb == unsigned:
		return a.Int() < 0 || uint64(a.Int()) < b.Uint(), nil
	case ka == unsigned && kb == signed:
		return b.Int() >= 0 && a.Uint() < uint64(b.Int()), nil
	case ka != kb:
		return false, errMixed
	}
	switch ka {
	case signed:
		return a.Int() < b.Int(), nil
	case unsigned:
		return a.Uint() < b.Uint(), nil
	case float:
		return a.Float() < b.Float(), nil
	case str:
		return a.String() < b.String(), nil
	}
	return false, fmt.Errorf("%ss have no order", a.Type())
}

func equal(a, b reflect.Value) (bool, error) {
	ka, kb := basicOf(a), basicOf(b)
	switch {
	case ka == signed && kb == unsigned:
		return a.Int() >= 0 && uint64(a.Int()) == b.Uint(), nil
	case ka == unsigned && kb == signed:
		return b.Int() >= 0 && a.Uint() == uint64(b.Int()), nil
	case ka != kb && a.IsValid() && b.IsValid():
		return false, errMixed
	case ka != kb:
		return false, nil
	}
	switch ka {
	case boolean:
		return a.Bool() == b.Bool(), nil
	case signed:
		return a.Int() == b.Int(), nil
	case unsigned:
		return a.Uint() == b.Uint(), nil
	case float:
		return a.Float() == b.Float(), nil
	case complexNumber:
		return a.Complex() == b.Complex(), nil
	case str:
		return a.String() == b.String(), nil
	}
	return equalOther(a, b)
}

// equalOther compares values of no basic type: anything with nil, else
// values of one kind with ==.
func equalOther(a, b reflect.Value) (bool, error) {
	if a.IsValid() && b.IsValid() && a.Kind() != b.Kind() {
		return false, fmt.Errorf("a %s and a %s cannot be compared", a.Type(), b.Type())
	}
	if nilOrNothing(a) || nilOrNothing(b) {
		return nilOrNothing(a) == nilOrNothing(b), nil
	}
	if !b.Type().Comparable() {
		return false, fmt.Errorf("%ss cannot be compared", b.Type())
	}
	return a.Equal(b), nil
}

func nilOrNothing(v reflect.Value) bool {
	return !v.IsValid() || nilable(v.Type()) && v.IsNil()
}
