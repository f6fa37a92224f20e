// Package metrics keeps seipbot's counters, gauges and histograms and serves
// them in the Prometheus text exposition format (version 0.0.4) on /metrics.
//
// It is deliberately small: the bot needs a few labelled vectors, gauges
// read at scrape time and the process's and Go runtime's figures. A full
// client library costs one to two megabytes of memory and two milliseconds of
// start-up in package initialisation alone, paid even by a bot that never
// serves /metrics; nothing here runs before it is used.
package metrics

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ContentType is what a Registry serves: the text exposition format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Collector is a metric, or a set of them, that a Registry serves. The
// vectors, gauge funcs and runtime collectors of this package are the
// Collectors there are; the methods are unexported so that the registry
// can rely on what collect produces.
type Collector interface {
	// names lists every family collect may produce, so Register can refuse
	// a name already taken.
	names() []string
	// collect appends the current values, each family's series in order.
	collect(fs []family) []family
}

// Registerer is what takes metrics for serving; a *Registry is one. Code
// that exports metrics only when asked takes a Registerer, nil meaning not.
type Registerer interface {
	Register(Collector) error
}

// Registry holds the collectors /metrics serves. Its zero value is not
// usable; make one with NewRegistry.
type Registry struct {
	mu         sync.Mutex
	collectors []Collector
	taken      map[string]bool // family names
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{taken: map[string]bool{}} }

// Register adds c. It fails, adding nothing, when one of c's names is
// already registered: two families of one name would make the exposition
// invalid, and Prometheus would reject the whole scrape.
func (r *Registry) Register(c Collector) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := c.names()
	for i, name := range names {
		if r.taken[name] || slices.Contains(names[:i], name) {
			return fmt.Errorf("metrics: %s is already registered", name)
		}
	}
	for _, name := range names {
		r.taken[name] = true
	}
	r.collectors = append(r.collectors, c)
	return nil
}

// MustRegister registers each collector and panics on the first that
// Register refuses: for set-up code whose names are constants, where a
// clash is a bug to catch in tests.
func (r *Registry) MustRegister(cs ...Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// WriteTo writes every registered metric in the text exposition format,
// families sorted by name. Families without a series yet are left out.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var fs []family
	for _, c := range cs {
		fs = c.collect(fs)
	}
	slices.SortFunc(fs, func(a, b family) int { return strings.Compare(a.name, b.name) })
	var b []byte
	for _, f := range fs {
		b = f.appendText(b)
	}
	n, err := w.Write(b)
	return int64(n), err
}

// ServeHTTP serves the metrics for Prometheus to scrape.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	r.WriteTo(&buf) // a bytes.Buffer does not fail
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// kind is a family's TYPE.
type kind string

const (
	counterKind   kind = "counter"
	gaugeKind     kind = "gauge"
	histogramKind kind = "histogram"
	summaryKind   kind = "summary"
)

// family is one metric as collect reports it: what the HELP and TYPE lines
// say and its sample lines, in the order they are written.
type family struct {
	name, help string
	kind       kind
	samples    []sample
}

// sample is one line: the family's name with suffix ("_bucket", "_sum",
// ...), labels and a value. extra is the label a histogram bucket or a
// summary quantile adds after the series' own ("le" or "quantile").
type sample struct {
	suffix     string
	labels     []string // names, shared by a vector's series
	values     []string
	extra      string
	extraValue string
	value      float64
}

func (f *family) appendText(b []byte) []byte {
	if len(f.samples) == 0 {
		return b
	}
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.kind...)
	b = append(b, '\n')
	for _, s := range f.samples {
		b = append(b, f.name...)
		b = append(b, s.suffix...)
		if len(s.labels) > 0 || s.extra != "" {
			b = append(b, '{')
			for i, name := range s.labels {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendLabel(b, name, s.values[i])
			}
			if s.extra != "" {
				if len(s.labels) > 0 {
					b = append(b, ',')
				}
				b = appendLabel(b, s.extra, s.extraValue)
			}
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = appendFloat(b, s.value)
		b = append(b, '\n')
	}
	return b
}

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, `="`...)
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped escapes what the format requires: backslash and line feed
// everywhere, and in a label value the double quote that would end it.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat writes v as Prometheus parses it: Go's shortest form, with
// the infinities and NaN spelt the way the format spells them.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// checkNames panics when a metric or label name is not one Prometheus
// accepts: names are constants in the code, so a bad one is a bug, and the
// first test that builds the metric should fail rather than a scrape.
func checkNames(name string, labels []string, reserved ...string) {
	if !validName(name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for i, l := range labels {
		switch {
		case !validName(l, false) || strings.HasPrefix(l, "__"):
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", name, l))
		case slices.Contains(reserved, l):
			panic(fmt.Sprintf("metrics: %s: label %q is reserved", name, l))
		case slices.Contains(labels[:i], l):
			panic(fmt.Sprintf("metrics: %s: label %q given twice", name, l))
		}
	}
}

// validName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*, colons also
// allowed in a metric name.
func validName(s string, metric bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			i > 0 && '0' <= c && c <= '9' || metric && c == ':'
		if !ok {
			return false
		}
	}
	return s != ""
}
