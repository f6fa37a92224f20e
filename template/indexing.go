package template

import (
	"fmt"
	"math"
	"reflect"
)

// The built-ins that reach into collections: len, index and slice.

func length(args []reflect.Value) (reflect.Value, error) {
	v, isNil := indirect(args[0])
	switch {
	case isNil:
		return reflect.Value{}, fmt.Errorf("a nil %s has no length", v.Type())
	case !v.IsValid():
		return reflect.Value{}, fmt.Errorf("no value has no length")
	}
	switch v.Kind() {
	case reflect.Array, reflect.Chan, reflect.Map, reflect.Slice, reflect.String:
		return reflect.ValueOf(v.Len()), nil
	}
	return reflect.Value{}, fmt.Errorf("a %s has no length", v.Type())
}

// index gives args[0][args[1]][args[2]]...; a key a map lacks gives the
// zero value of its elements.
func index(args []reflect.Value) (reflect.Value, error) {
	v := indirectInterface(args[0])
	if !v.IsValid() {
		return reflect.Value{}, fmt.Errorf("nil cannot be indexed")
	}
	for _, key := range args[1:] {
		key = indirectInterface(key)
		var isNil bool
		if v, isNil = indirect(v); isNil {
			return reflect.Value{}, fmt.Errorf("a nil %s cannot be indexed", v.Type())
		}
		switch v.Kind() {
		case reflect.Array, reflect.Slice, reflect.String:
			i, err := position(key, v.Len()-1)
			if err != nil {
				return reflect.Value{}, err
			}
			v = v.Index(i)
		case reflect.Map:
			k, err := argFor(key, v.Type().Key())
			if err != nil {
				return reflect.Value{}, err
			}
			if e := v.MapIndex(k); e.IsValid() {
				v = e
			} else {
				v = reflect.Zero(v.Type().Elem())
			}
		default:
			return reflect.Value{}, fmt.Errorf("a %s cannot be indexed", v.Type())
		}
	}
	return v, nil
}

// position reads an integer index that must lie in [0, most].
func position(v reflect.Value, most int) (int, error) {
	var i int64
	switch {
	case v.CanInt():
		i = v.Int()
	case v.CanUint():
		i = int64(min(v.Uint(), math.MaxInt64))
	case !v.IsValid():
		return 0, fmt.Errorf("an index cannot be nil")
	default:
		return 0, fmt.Errorf("an index must be an integer, not a %s", v.Type())
	}
	if i < 0 || i > int64(most) {
		return 0, fmt.Errorf("index %d is out of range [0, %d]", i, most)
	}
	return int(i), nil
}

// slice gives args[0][i:j:k] for the one to three indexes that follow.
func slice(args []reflect.Value) (reflect.Value, error) {
	v, idx := indirectInterface(args[0]), args[1:]
	if !v.IsValid() {
		return reflect.Value{}, fmt.Errorf("nil cannot be sliced")
	}
	if len(idx) > 3 {
		return reflect.Value{}, fmt.Errorf("a slice takes three indexes at most, not %d", len(idx))
	}
	var most int
	switch v.Kind() {
	case reflect.String:
		if len(idx) == 3 {
			return reflect.Value{}, fmt.Errorf("a string cannot be sliced with three indexes")
		}
		most = v.Len()
	case reflect.Array, reflect.Slice:
		most = v.Cap()
	default:
		return reflect.Value{}, fmt.Errorf("a %s cannot be sliced", v.Type())
	}
	bounds := []int{0, v.Len(), 0}
	for i, x := range idx {
		var err error
		if bounds[i], err = position(x, most); err != nil {
			return reflect.Value{}, err
		}
	}
	if bounds[0] > bounds[1] || len(idx) == 3 && bounds[1] > bounds[2] {
		return reflect.Value{}, fmt.Errorf("slice indexes %v are out of order", bounds[:max(2, len(idx))])
	}
	if len(idx) < 3 {
		return v.Slice(bounds[0], bounds[1]), nil
	}
	return v.Slice3(bounds[0], bounds[1], bounds[2]), nil
}
