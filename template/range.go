package template

import (
	"cmp"
	"reflect"
	"slices"
	"text/template/parse"
)

// loop is a compiled {{range}}.
type loop struct {
	at     *site
	source expr
	// index and elem receive each element and its index or key, when
	// the range declares or assigns variables for them.
	index, elem target
	twoVars     bool
	body        emitFn
	otherwise   emitFn // when there is nothing to range over
}

func (c *compiler) rangeLoop(n *parse.RangeNode) emitFn {
	outer := len(c.scope)
	l := &loop{at: c.site(n)}
	var targets []target
	l.source, targets = c.pipelineTargets(n.Pipe)
	switch len(targets) {
	case 1:
		l.elem = targets[0]
	case 2:
		l.index, l.elem, l.twoVars = targets[0], targets[1], true
	}
	inner := len(c.scope)
	l.body = c.list(n.List)
	c.scope = c.scope[:inner]
	l.otherwise = c.list(n.ElseList)
	c.scope = c.scope[:outer]
	return l.run
}

func (l *loop) run(r *run, dot reflect.Value) error {
	v, err := l.source(r, dot, reflect.Value{})
	if err != nil {
		return err
	}
	v, _ = indirect(v)
	ran, err := l.each(r, v)
	if err != nil || ran {
		return err
	}
	return l.otherwise(r, dot)
}

// each runs the body for every element of v and tells whether there was
// any.
func (l *loop) each(r *run, v reflect.Value) (ran bool, err error) {
	switch v.Kind() {
	case reflect.Invalid:
		return false, nil
	case reflect.Array, reflect.Slice:
		for i := range v.Len() {
			if more, err := l.step(r, reflect.ValueOf(i), v.Index(i)); !more {
				return true, err
			}
		}
		return v.Len() > 0, nil
	case reflect.Map:
		for _, e := range sortedEntries(v) {
			if more, err := l.step(r, e.key, e.value); !more {
				return true, err
			}
		}
		return v.Len() > 0, nil
	case reflect.Chan:
		if v.IsNil() {
			return false, nil
		}
		if v.Type().ChanDir() == reflect.SendDir {
			return false, l.at.failf("cannot range over a send-only channel")
		}
		n := 0
		for e, ok := v.Recv(); ok; e, ok = v.Recv() {
			if more, err := l.step(r, reflect.ValueOf(n), e); !more {
				return true, err
			}
			n++
		}
		return n > 0, nil
	case reflect.Func:
		if v.IsNil() {
			return false, l.at.failf("cannot range over a nil iterator")
		}
		switch t := v.Type(); {
		case t.CanSeq():
			if l.twoVars {
				return false, l.at.failf("a range over a one-value iterator takes one variable, not two")
			}
			return l.seq(r, v)
		case t.CanSeq2():
			// With one variable, or none, an iter.Seq2 gives its keys.
			for k, e := range v.Seq2() {
				ran = true
				if !l.twoVars {
					k, e = reflect.Value{}, k
				}
				if more, err := l.step(r, k, e); !more {
					return true, err
				}
			}
			return ran, nil
		}
	}
	if isInteger(v.Kind()) {
		if l.twoVars {
			return false, l.at.failf("a range over an integer has no index: it takes one variable, not two")
		}
		return l.seq(r, v)
	}
	return false, l.at.failf("cannot range over %v, a value of type %s", v, v.Type())
}

// seq ranges over what yields single values: integers and iter.Seq.
func (l *loop) seq(r *run, v reflect.Value) (ran bool, err error) {
	for e := range v.Seq() {
		ran = true
		if more, err := l.step(r, reflect.Value{}, e); !more {
			return true, err
		}
	}
	return ran, nil
}

// step runs the body for one element and tells whether to go on.
func (l *loop) step(r *run, index, elem reflect.Value) (more bool, err error) {
	if l.twoVars {
		if err := l.index(r, index); err != nil {
			return false, err
		}
	}
	if l.elem != nil {
		if err := l.elem(r, elem); err != nil {
			return false, err
		}
	}
	switch err := l.body(r, elem); err {
	case nil, errContinue:
		return true, nil
	case errBreak:
		return false, nil
	default:
		return false, err
	}
}

type entry struct{ key, value reflect.Value }

// sortedEntries gives a map's entries in the order of their keys, the
// order fmt prints maps in.
func sortedEntries(m reflect.Value) []entry {
	entries := make([]entry, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		entries = append(entries, entry{it.Key(), it.Value()})
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return compareKeys(a.key, b.key) })
	return entries
}

// compareKeys orders two map keys of the same type: numbers by value
// (NaN first), strings bytewise, false before true, pointers and channels
// by address, and structs, arrays and interfaces part by part.
func compareKeys(a, b reflect.Value) int {
	switch basicOf(a) {
	case signed:
		return cmp.Compare(a.Int(), b.Int())
	case unsigned:
		return cmp.Compare(a.Uint(), b.Uint())
	case str:
		return cmp.Compare(a.String(), b.String())
	case float:
		return cmp.Compare(a.Float(), b.Float())
	case complexNumber:
		x, y := a.Complex(), b.Complex()
		return cmp.Or(cmp.Compare(real(x), real(y)), cmp.Compare(imag(x), imag(y)))
	case boolean:
		return cmp.Compare(btoi(a.Bool()), btoi(b.Bool()))
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Chan:
		return cmp.Compare(a.Pointer(), b.Pointer())
	case reflect.Struct:
		for i := range a.NumField() {
			if c := compareKeys(a.Field(i), b.Field(i)); c != 0 {
				return c
			}
		}
	case reflect.Array:
		for i := range a.Len() {
			if c := compareKeys(a.Index(i), b.Index(i)); c != 0 {
				return c
			}
		}
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return cmp.Compare(btoi(!a.IsNil()), btoi(!b.IsNil()))
		}
		// Values of different types go in the order of their types'
		// addresses, which is arbitrary but is fmt's.
		if ta, tb := a.Elem().Type(), b.Elem().Type(); ta != tb {
			return cmp.Compare(reflect.ValueOf(ta).Pointer(), reflect.ValueOf(tb).Pointer())
		}
		return compareKeys(a.Elem(), b.Elem())
	}
	return 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
