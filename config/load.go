package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load builds a Config from Defaults, the YAML file at path (skipped when
// path is empty) and env, a list of "KEY=value" entries as os.Environ
// returns, and validates it. The error lists every problem, one per line:
// all unknown keys and badly typed values in the file and the environment
// together, or, once those read cleanly, everything Validate finds.
func Load(path string, env []string) (*Config, error) {
	cfg := Defaults()
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		errs = append(errs, decodeFile(path, data, cfg)...)
	}
	getenv := lookupIn(env)
	if _, err := applyEnv(reflect.ValueOf(cfg).Elem(), envPrefix, getenv); err != nil {
		errs = append(errs, err)
	}
	// Validation waits until the file and the environment read cleanly: a
	// value that failed to decode keeps its default or stays empty, and would
	// be reported a second time, misleadingly, as missing.
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.derivePaths(getenv)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeFile applies the YAML in data to cfg. It walks the parsed nodes
// itself rather than using yaml.v3's KnownFields, which stops at the first
// unknown key and names neither its path nor, for type errors, the key.
func decodeFile(name string, data []byte, cfg *Config) []error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return []error{fmt.Errorf("%s: %w", name, err)}
	}
	d := decoder{file: name, merging: make(map[*yaml.Node]bool)}
	d.value(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.fail(&next, "", "a second YAML document starts here; keep all settings in one document")
	case !errors.Is(err, io.EOF):
		d.errs = append(d.errs, fmt.Errorf("%s: %w", name, err))
	}
	return d.errs
}

// decoder sets Go values from YAML nodes, collecting every error rather than
// stopping at the first.
type decoder struct {
	file    string
	errs    []error
	merging map[*yaml.Node]bool // the mappings being merged, to catch loops
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s", d.file, n.Line, msg))
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isText(v) {
		d.scalar(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Pointer:
		// Allocate even for an empty value: "shell:" alone turns the shell
		// adapter on with its defaults.
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return // an empty section keeps its defaults
	}
	fields, names := yamlFields(v.Type())
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping with keys %s, got %s", strings.Join(names, ", "), describeNode(n))
		return
	}
	// Merged mappings ("<<: *anchor") go first so that keys written here
	// override them, as YAML specifies.
	for i := 0; i < len(n.Content); i += 2 {
		if key := n.Content[i]; key.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := make(map[string]int)
	for i := 0; i < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.ShortTag() == "!!merge" {
			continue
		}
		p := joinPath(path, key.Value)
		if line, ok := seen[key.Value]; ok {
			d.fail(key, p, "set twice (first on line %d); keep one", line)
			continue
		}
		seen[key.Value] = key.Line
		index, ok := fields[key.Value]
		if !ok {
			d.fail(key, p, "unknown key; use one of %s", strings.Join(names, ", "))
			continue
		}
		d.value(val, v.Field(index), p)
	}
}

// merge applies "<<: *anchor" or "<<: [*a, *b]"; with a list, earlier
// mappings win, so they are applied last.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	// The walk's depth is bounded by the Go types everywhere but here: a
	// mapping that merges itself would recurse until the stack overflows.
	if d.merging[n] {
		d.fail(n, path, "merges itself through <<; remove the loop")
		return
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	if n.Kind != yaml.SequenceNode {
		d.mapping(n, v, path)
		return
	}
	for i := len(n.Content) - 1; i >= 0; i-- {
		d.merge(n.Content[i], v, path)
	}
}

// dict reads a mapping whose keys are names the user chooses (groups,
// roles), into a map from string.
func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping of names, got %s", describeNode(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := make(map[string]int)
	for i := 0; i < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		p := joinPath(path, key.Value)
		switch {
		case key.ShortTag() == "!!merge":
			d.fail(key, path, "<< is not supported in a mapping of names; write the entries out")
			continue
		case key.Kind != yaml.ScalarNode || key.Value == "":
			d.fail(key, path, "want a name as the key, got %s", describeNode(key))
			continue
		}
		if line, ok := seen[key.Value]; ok {
			d.fail(key, p, "set twice (first on line %d); keep one", line)
			continue
		}
		seen[key.Value] = key.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, elem, p)
		m.SetMapIndex(reflect.ValueOf(key.Value), elem)
	}
	v.Set(m)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", describeNode(n))
		return
	}
	list := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, list.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(list)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return // "key:" with no value keeps the default
	}
	ok := n.Kind == yaml.ScalarNode && n.Decode(v.Addr().Interface()) == nil
	// yaml.v3 truncates 1.5 to 1 when decoding into an int; a count must be
	// written as a whole number.
	if v.CanInt() && !isText(v) && n.ShortTag() != "!!int" {
		ok = false
	}
	if ok {
		return
	}
	got := describeNode(n)
	if v.Type() == secretType && n.Kind == yaml.ScalarNode {
		got = "a value that cannot be read as text" // never echo a secret
	}
	d.fail(n, path, "want %s, got %s", describe(v.Type()), got)
}

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[Duration]()
)

// isText reports whether v reads itself from text, as Duration does, and so
// is a single value in YAML and in the environment whatever its Go kind.
func isText(v reflect.Value) bool {
	_, ok := v.Addr().Interface().(encoding.TextUnmarshaler)
	return ok
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// yamlFields maps each yaml key of struct type t to its field index, and
// lists the keys in declaration order for messages.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	fields := make(map[string]int, t.NumField())
	var names []string
	for i := range t.NumField() {
		if name, ok := yamlKey(t.Field(i)); ok {
			fields[name] = i
			names = append(names, name)
		}
	}
	return fields, names
}

func yamlKey(f reflect.StructField) (string, bool) {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name, f.IsExported() && name != "" && name != "-"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names what a value of type t looks like, for "want ..." messages.
func describe(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s or 15m"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.String:
		return "text"
	}
	return "a " + t.String()
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}
