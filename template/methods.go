package template

import (
	"fmt"
	"reflect"
	"time"
)

// methodCall runs a method on its receiver with the template's arguments.
type methodCall func(args []reflect.Value) (reflect.Value, error)

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

// method finds the method name of v among those templates may call:
// String and Error on any value that has them, and the methods of
// time.Time and time.Duration that give one value (or a value and an
// error) from arguments a template can write. They are found by type, not
// looked up by name through reflection (see the package comment).
func method(v reflect.Value, name string) (methodCall, bool) {
	v = indirectInterface(v)
	if !v.IsValid() {
		return nil, false
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() && (v.Type().Elem() == timeType || v.Type().Elem() == durationType) {
		v = v.Elem()
	}
	switch v.Type() {
	case timeType:
		if call, ok := timeMethod(v.Interface().(time.Time), name); ok {
			return call, true
		}
	case durationType:
		if call, ok := durationMethod(time.Duration(v.Int()), name); ok {
			return call, true
		}
	}
	switch name {
	case "String":
		if s, ok := as[fmt.Stringer](v); ok {
			return niladic(name, func() any { return s.String() }), true
		}
	case "Error":
		if e, ok := as[error](v); ok {
			return niladic(name, func() any { return e.Error() }), true
		}
	}
	return nil, false
}

// as gives v as an I, through its address where the method has a pointer
// receiver and v is addressable, as a method call in Go would.
func as[I any](v reflect.Value) (I, bool) {
	var zero I
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return zero, false
	}
	if v.CanInterface() {
		if i, ok := v.Interface().(I); ok {
			return i, true
		}
	}
	if v.CanAddr() && v.Addr().CanInterface() {
		if i, ok := v.Addr().Interface().(I); ok {
			return i, true
		}
	}
	return zero, false
}

func timeMethod(t time.Time, name string) (methodCall, bool) {
	var f func() any
	switch name {
	case "Format":
		return func(args []reflect.Value) (reflect.Value, error) {
			layout, err := oneArg[string](name, args)
			if err != nil {
				return reflect.Value{}, err
			}
			return reflect.ValueOf(t.Format(layout)), nil
		}, true
	case "Add", "Round", "Truncate":
		return func(args []reflect.Value) (reflect.Value, error) {
			d, err := oneArg[time.Duration](name, args)
			if err != nil {
				return reflect.Value{}, err
			}
			switch name {
			case "Add":
				return reflect.ValueOf(t.Add(d)), nil
			case "Round":
				return reflect.ValueOf(t.Round(d)), nil
			}
			return reflect.ValueOf(t.Truncate(d)), nil
		}, true
	case "Sub", "Before", "After", "Equal", "Compare":
		return func(args []reflect.Value) (reflect.Value, error) {
			u, err := oneArg[time.Time](name, args)
			if err != nil {
				return reflect.Value{}, err
			}
			switch name {
			case "Sub":
				return reflect.ValueOf(t.Sub(u)), nil
			case "Before":
				return reflect.ValueOf(t.Before(u)), nil
			case "After":
				return reflect.ValueOf(t.After(u)), nil
			case "Compare":
				return reflect.ValueOf(t.Compare(u)), nil
			}
			return reflect.ValueOf(t.Equal(u)), nil
		}, true
	case "In":
		return func(args []reflect.Value) (reflect.Value, error) {
			loc, err := oneArg[*time.Location](name, args)
			if err != nil {
				return reflect.Value{}, err
			}
			return reflect.ValueOf(t.In(loc)), nil
		}, true
	case "AddDate":
		return func(args []reflect.Value) (reflect.Value, error) {
			if len(args) != 3 {
				return reflect.Value{}, fmt.Errorf("%s takes three arguments, and was given %d", name, len(args))
			}
			var n [3]int
			for i, a := range args {
				var err error
				if n[i], err = oneArg[int](name, []reflect.Value{a}); err != nil {
					return reflect.Value{}, err
				}
			}
			return reflect.ValueOf(t.AddDate(n[0], n[1], n[2])), nil
		}, true
	case "MarshalJSON", "MarshalText", "MarshalBinary", "GobEncode":
		return func(args []reflect.Value) (reflect.Value, error) {
			if len(args) != 0 {
				return reflect.Value{}, fmt.Errorf("%s takes no arguments, and was given %d", name, len(args))
			}
			encode := t.GobEncode
			switch name {
			case "MarshalJSON":
				encode = t.MarshalJSON
			case "MarshalText":
				encode = t.MarshalText
			case "MarshalBinary":
				encode = t.MarshalBinary
			}
			b, err := encode()
			return reflect.ValueOf(b), err
		}, true
	case "UTC":
		f = func() any { return t.UTC() }
	case "Local":
		f = func() any { return t.Local() }
	case "Unix":
		f = func() any { return t.Unix() }
	case "UnixMilli":
		f = func() any { return t.UnixMilli() }
	case "UnixMicro":
		f = func() any { return t.UnixMicro() }
	case "UnixNano":
		f = func() any { return t.UnixNano() }
	case "IsDST":
		f = func() any { return t.IsDST() }
	case "Location":
		f = func() any { return t.Location() }
	case "GoString":
		f = func() any { return t.GoString() }
	case "IsZero":
		f = func() any { return t.IsZero() }
	case "Year":
		f = func() any { return t.Year() }
	case "Month":
		f = func() any { return t.Month() }
	case "Day":
		f = func() any { return t.Day() }
	case "Weekday":
		f = func() any { return t.Weekday() }
	case "YearDay":
		f = func() any { return t.YearDay() }
	case "Hour":
		f = func() any { return t.Hour() }
	case "Minute":
		f = func() any { return t.Minute() }
	case "Second":
		f = func() any { return t.Second() }
	case "Nanosecond":
		f = func() any { return t.Nanosecond() }
	default:
		return nil, false
	}
	return niladic(name, f), true
}

func durationMethod(d time.Duration, name string) (methodCall, bool) {
	var f func() any
	switch name {
	case "Round", "Truncate":
		return func(args []reflect.Value) (reflect.Value, error) {
			m, err := oneArg[time.Duration](name, args)
			if err != nil {
				return reflect.Value{}, err
			}
			if name == "Round" {
				return reflect.ValueOf(d.Round(m)), nil
			}
			return reflect.ValueOf(d.Truncate(m)), nil
		}, true
	case "Hours":
		f = func() any { return d.Hours() }
	case "Minutes":
		f = func() any { return d.Minutes() }
	case "Seconds":
		f = func() any { return d.Seconds() }
	case "Milliseconds":
		f = func() any { return d.Milliseconds() }
	case "Microseconds":
		f = func() any { return d.Microseconds() }
	case "Nanoseconds":
		f = func() any { return d.Nanoseconds() }
	case "Abs":
		f = func() any { return d.Abs() }
	default:
		return nil, false
	}
	return niladic(name, f), true
}

// niladic makes a call of a method that takes no arguments.
func niladic(name string, f func() any) methodCall {
	return func(args []reflect.Value) (reflect.Value, error) {
		if len(args) != 0 {
			return reflect.Value{}, fmt.Errorf("%s takes no arguments, and was given %d", name, len(args))
		}
		return reflect.ValueOf(f()), nil
	}
}

// methodParams gives the parameter types of the methods above named
// name, so that the executor can make a template's arguments those types
// (a constant 60 a time.Duration, say) before the call. A name means the
// same parameters on every receiver that has it.
func methodParams(name string) []reflect.Type {
	switch name {
	case "Format":
		return []reflect.Type{reflect.TypeFor[string]()}
	case "Add", "Round", "Truncate":
		return []reflect.Type{durationType}
	case "Sub", "Before", "After", "Equal", "Compare":
		return []reflect.Type{timeType}
	case "In":
		return []reflect.Type{reflect.TypeFor[*time.Location]()}
	case "AddDate":
		i := reflect.TypeFor[int]()
		return []reflect.Type{i, i, i}
	}
	return nil
}

// oneArg takes a method's one argument, of type T.
func oneArg[T any](name string, args []reflect.Value) (T, error) {
	var zero T
	if len(args) != 1 {
		return zero, fmt.Errorf("%s takes one argument, and was given %d", name, len(args))
	}
	if v := args[0]; v.IsValid() && v.CanInterface() {
		if t, ok := v.Interface().(T); ok {
			return t, nil
		}
	}
	return zero, fmt.Errorf("%s takes a %s, not a %s", name, reflect.TypeFor[T](), typeString(args[0]))
}
