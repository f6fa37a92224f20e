package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// envPrefix starts every variable that overrides a setting.
const envPrefix = "SEIPBOT"

// lookupIn turns a list of "KEY=value" entries into a lookup; a later entry
// wins, as it does for a process environment.
func lookupIn(env []string) func(string) (string, bool) {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

// applyEnv sets each setting below v whose variable, name plus the upper-cased
// key path, getenv finds. It reports whether it set anything, so that an
// adapter's pointer is allocated only when one of its variables is given.
func applyEnv(v reflect.Value, name string, getenv func(string) (string, bool)) (bool, error) {
	if isText(v) {
		return setFromEnv(v, name, getenv)
	}
	switch v.Kind() {
	case reflect.Struct:
		var set bool
		var errs []error
		for i := range v.NumField() {
			key, ok := yamlKey(v.Type().Field(i))
			if !ok {
				continue
			}
			fieldSet, err := applyEnv(v.Field(i), name+"_"+strings.ToUpper(key), getenv)
			set = set || fieldSet
			errs = append(errs, err)
		}
		return set, errors.Join(errs...)
	case reflect.Pointer:
		target := v
		if v.IsNil() {
			target = reflect.New(v.Type().Elem())
		}
		set, err := applyEnv(target.Elem(), name, getenv)
		if set && v.IsNil() {
			v.Set(target)
		}
		return set, err
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			// Lists of rules (commands, hears) have no sensible form as one
			// variable; they come from the file only.
			return false, nil
		}
	case reflect.Map:
		// Nor have named sets (groups, roles).
		return false, nil
	}
	return setFromEnv(v, name, getenv)
}

// setFromEnv sets one value from its variable. A Secret may instead come
// from the file named by name_FILE, as Docker and Kubernetes secrets are
// mounted; errors then name the variable and the path but never the
// content.
func setFromEnv(v reflect.Value, name string, getenv func(string) (string, bool)) (bool, error) {
	text, ok := getenv(name)
	if v.Type() == secretType {
		path, fromFile := getenv(name + "_FILE")
		switch {
		case ok && fromFile:
			return false, fmt.Errorf("%s and %s_FILE are both set; unset one of them", name, name)
		case fromFile:
			data, err := os.ReadFile(path)
			if err != nil {
				return false, fmt.Errorf("%s_FILE: %w; point it at a readable file", name, err)
			}
			text, ok = strings.TrimRight(string(data), "\r\n"), true
		}
	}
	if !ok {
		return false, nil
	}
	if err := parseText(v, text); err != nil {
		return false, fmt.Errorf("%s: want %s, got %q", name, describe(v.Type()), text)
	}
	return true, nil
}

// parseText sets v from one variable's text by v's type; lists are
// comma-separated.
func parseText(v reflect.Value, text string) error {
	if isText(v) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Slice:
		var items []string
		for item := range strings.SplitSeq(text, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		list := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			if err := parseText(list.Index(i), item); err != nil {
				return err
			}
		}
		v.Set(list)
	default:
		return fmt.Errorf("no way to read %s from the environment", v.Type())
	}
	return nil
}
