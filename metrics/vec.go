package metrics

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Counter is a value that only goes up. It is safe for concurrent use.
type Counter struct {
	// Whole increments, the common case, take one atomic add; fractions
	// take a compare-and-swap loop on the float's bits.
	whole atomic.Uint64
	frac  atomic.Uint64 // math.Float64bits
}

// Inc adds 1.
func (c *Counter) Inc() { c.whole.Add(1) }

// Add adds v. A negative v or NaN is ignored: a counter that went down
// would read as a restart to Prometheus, and a NaN would stay for good.
func (c *Counter) Add(v float64) {
	switch {
	case !(v >= 0):
	case v < 1<<53 && v == math.Trunc(v):
		c.whole.Add(uint64(v))
	default:
		addFloat(&c.frac, v)
	}
}

func (c *Counter) value() float64 {
	return float64(c.whole.Load()) + math.Float64frombits(c.frac.Load())
}

// Gauge is a value that is set. It is safe for concurrent use.
type Gauge struct{ bits atomic.Uint64 }

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

func (g *Gauge) value() float64 { return math.Float64frombits(g.bits.Load()) }

// Histogram counts observations into buckets. It is safe for concurrent
// use.
type Histogram struct {
	bounds []float64 // upper bounds, ascending, without +Inf
	// counts holds each bucket's own count, the last one above every
	// bound; the exposition adds them up. The total count is their sum
	// rather than a counter of its own, so that it always equals the +Inf
	// bucket, as Prometheus requires, even in a scrape that races an
	// Observe.
	counts []atomic.Uint64
	sum    atomic.Uint64 // math.Float64bits
}

// Observe adds one observation of v.
func (h *Histogram) Observe(v float64) {
	// The first bound at or above v: buckets are "less than or equal".
	h.counts[sort.SearchFloat64s(h.bounds, v)].Add(1)
	addFloat(&h.sum, v)
}

func addFloat(u *atomic.Uint64, v float64) {
	for {
		old := u.Load()
		if u.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// ExponentialBuckets returns n bucket bounds, the first start and each
// next one factor times the one before.
func ExponentialBuckets(start, factor float64, n int) []float64 {
	if start <= 0 || factor <= 1 || n < 1 {
		panic(fmt.Sprintf("metrics: ExponentialBuckets(%v, %v, %d): want start > 0, factor > 1, n >= 1", start, factor, n))
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// vec is a metric with labels, one series per distinct set of label
// values. A series is made on first use and kept: label values are small
// fixed sets (adapters, commands, sources), never user input.
type vec[T any] struct {
	name, help string
	kind       kind
	labels     []string
	init       func(*T)                            // readies a new series; nil if the zero T is ready
	samples    func([]sample, *series[T]) []sample // a series' lines
	mu         sync.RWMutex
	series     map[string]*series[T] // by key(values)
}

type series[T any] struct {
	labels, values []string
	m              T
}

func newVec[T any](name, help string, k kind, labels []string, samples func([]sample, *series[T]) []sample) vec[T] {
	var reserved []string
	if k == histogramKind {
		reserved = []string{"le"}
	}
	checkNames(name, labels, reserved...)
	return vec[T]{name: name, help: help, kind: k, labels: slices.Clone(labels), samples: samples, series: map[string]*series[T]{}}
}

// with returns the series of these label values, one for each label in
// the order the vector was made with, making it if it is new. It panics
// when the number of values is wrong. For values seen before it takes a
// read lock and allocates nothing: it runs for every message the bot
// receives.
func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", v.name, len(v.labels), len(values)))
	}
	var buf [128]byte
	k := appendKey(buf[:0], values)
	v.mu.RLock()
	s := v.series[string(k)] // the conversion in an index does not allocate
	v.mu.RUnlock()
	if s == nil {
		s = v.add(string(k), values)
	}
	return &s.m
}

func (v *vec[T]) add(k string, values []string) *series[T] {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.series[k]; s != nil {
		return s
	}
	s := &series[T]{labels: v.labels, values: slices.Clone(values)}
	if v.init != nil {
		v.init(&s.m)
	}
	v.series[k] = s
	return s
}

// appendKey encodes label values so that different lists never meet: each
// value is prefixed with its length.
func appendKey(b []byte, values []string) []byte {
	for _, s := range values {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func (v *vec[T]) names() []string { return []string{v.name} }

// collect reports the series sorted by their label values.
func (v *vec[T]) collect(fs []family) []family {
	v.mu.RLock()
	list := make([]*series[T], 0, len(v.series))
	for _, s := range v.series {
		list = append(list, s)
	}
	v.mu.RUnlock()
	slices.SortFunc(list, func(a, b *series[T]) int { return slices.Compare(a.values, b.values) })
	f := family{name: v.name, help: v.help, kind: v.kind}
	for _, s := range list {
		f.samples = v.samples(f.samples, s)
	}
	return append(fs, f)
}

// CounterVec is a counter with labels.
type CounterVec struct{ vec[Counter] }

// WithLabelValues returns the counter of these label values, given in the
// order of the vector's labels; it panics when their number is wrong.
func (v *CounterVec) WithLabelValues(values ...string) *Counter { return v.with(values) }

// NewCounterVec returns a counter vector; its name should end in _total.
func NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{newVec(name, help, counterKind, labels, func(out []sample, s *series[Counter]) []sample {
		return append(out, sample{labels: s.labels, values: s.values, value: s.m.value()})
	})}
}

// GaugeVec is a gauge with labels.
type GaugeVec struct{ vec[Gauge] }

// WithLabelValues returns the gauge of these label values, given in the
// order of the vector's labels; it panics when their number is wrong.
func (v *GaugeVec) WithLabelValues(values ...string) *Gauge { return v.with(values) }

// NewGaugeVec returns a gauge vector.
func NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	return &GaugeVec{newVec(name, help, gaugeKind, labels, func(out []sample, s *series[Gauge]) []sample {
		return append(out, sample{labels: s.labels, values: s.values, value: s.m.value()})
	})}
}

// HistogramVec is a histogram with labels.
type HistogramVec struct{ vec[Histogram] }

// WithLabelValues returns the histogram of these label values, given in the
// order of the vector's labels; it panics when their number is wrong.
func (v *HistogramVec) WithLabelValues(values ...string) *Histogram { return v.with(values) }

// NewHistogramVec returns a histogram vector with these bucket bounds,
// which must ascend; the +Inf bucket is always there and need not be
// given. Its labels may not include "le", which the buckets use.
func NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	bounds := slices.Clone(buckets)
	if n := len(bounds); n > 0 && math.IsInf(bounds[n-1], +1) {
		bounds = bounds[:n-1]
	}
	les := make([]string, len(bounds)+1)
	for i, b := range bounds {
		if math.IsNaN(b) || i > 0 && b <= bounds[i-1] {
			panic(fmt.Sprintf("metrics: %s: bucket bounds %v do not ascend", name, buckets))
		}
		les[i] = string(appendFloat(nil, b))
	}
	les[len(bounds)] = "+Inf"
	h := &HistogramVec{newVec(name, help, histogramKind, labels, func(out []sample, s *series[Histogram]) []sample {
		var n uint64
		for i := range s.m.counts {
			n += s.m.counts[i].Load()
			out = append(out, sample{suffix: "_bucket", labels: s.labels, values: s.values, extra: "le", extraValue: les[i], value: float64(n)})
		}
		return append(out,
			sample{suffix: "_sum", labels: s.labels, values: s.values, value: math.Float64frombits(s.m.sum.Load())},
			sample{suffix: "_count", labels: s.labels, values: s.values, value: float64(n)})
	})}
	h.init = func(m *Histogram) {
		m.bounds = bounds
		m.counts = make([]atomic.Uint64, len(bounds)+1)
	}
	return h
}

// GaugeFunc is a gauge whose value a function gives at each scrape.
type GaugeFunc struct {
	name, help string
	f          func() float64
}

// NewGaugeFunc returns a gauge that reads f when scraped; f must be safe
// to call from the scraping goroutine.
func NewGaugeFunc(name, help string, f func() float64) *GaugeFunc {
	checkNames(name, nil)
	return &GaugeFunc{name: name, help: help, f: f}
}

func (g *GaugeFunc) names() []string { return []string{g.name} }

func (g *GaugeFunc) collect(fs []family) []family {
	return append(fs, one(g.name, gaugeKind, g.help, g.f(), true))
}
