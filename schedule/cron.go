package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec is a parsed schedule: a five-field cron expression or one of the
// shorthands @hourly, @daily, @weekly and @every <duration>. The zero Spec
// never fires.
type Spec struct {
	text string
	// every is set only for @every; the cron fields are then unused.
	every time.Duration

	minute, hour, dom, month, dow bitset
	// domStar and dowStar record a day field written starting with '*'.
	// Cron matches a day when either day field matches if both are
	// restricted, but only when both match if either is a wildcard; this is
	// Vixie cron's rule, which users of crontab(5) expect.
	domStar, dowStar bool
}

// bitset holds the allowed values of one field; every field fits in 0-63.
type bitset uint64

func (b bitset) has(v int) bool { return b&(1<<uint(v)) != 0 }

// field describes one of the five cron columns.
type field struct {
	name     string
	min, max int
	// names maps three-letter names to values, for month and day-of-week.
	names map[string]int
}

var (
	minuteField = field{name: "minute", min: 0, max: 59}
	hourField   = field{name: "hour", min: 0, max: 23}
	domField    = field{name: "day-of-month", min: 1, max: 31}
	monthField  = field{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	// Day-of-week accepts 7 as well as 0 for Sunday, as crontab(5) does;
	// parse folds 7 onto 0 so matching needs only time.Weekday.
	dowField = field{name: "day-of-week", min: 0, max: 7, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}}
)

// shorthands are the @ forms other than @every, as their cron equivalents.
var shorthands = map[string]string{
	"@hourly": "0 * * * *",
	"@daily":  "0 0 * * *",
	"@weekly": "0 0 * * 0",
}

// ParseSpec parses a cron expression (minute hour day-of-month month
// day-of-week, each a '*', a value, a range a-b, a list a,b and an optional
// step /n; months and days of the week also by three-letter name) or one of
// @hourly, @daily, @weekly and @every <duration> (at least one second).
func ParseSpec(s string) (Spec, error) {
	// Names, shorthands and duration units are all read in lower case.
	spec, err := parseSpec(strings.ToLower(strings.TrimSpace(s)))
	if err != nil {
		return Spec{}, fmt.Errorf("cron spec %q: %w", s, err)
	}
	spec.text = s
	return spec, nil
}

func parseSpec(s string) (Spec, error) {
	if rest, ok := strings.CutPrefix(s, "@every"); ok {
		return parseEvery(strings.TrimSpace(rest))
	}
	if strings.HasPrefix(s, "@") {
		cron, ok := shorthands[s]
		if !ok {
			return Spec{}, fmt.Errorf("unknown shorthand %s; use @hourly, @daily, @weekly or @every <duration>", s)
		}
		s = cron
	}
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return Spec{}, fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week), got %d", len(fields))
	}
	var spec Spec
	var err error
	parts := []struct {
		dst *bitset
		f   field
	}{
		{&spec.minute, minuteField},
		{&spec.hour, hourField},
		{&spec.dom, domField},
		{&spec.month, monthField},
		{&spec.dow, dowField},
	}
	for i, p := range parts {
		if *p.dst, err = p.f.parse(fields[i]); err != nil {
			return Spec{}, err
		}
	}
	if spec.dow.has(7) {
		spec.dow = spec.dow&^(1<<7) | 1
	}
	spec.domStar = strings.HasPrefix(fields[2], "*")
	spec.dowStar = strings.HasPrefix(fields[4], "*")
	if spec.dowStar && !spec.domStar && !spec.daysExist() {
		return Spec{}, errors.New("no month given has any of the days of the month given, so it would never run")
	}
	return spec, nil
}

func parseEvery(d string) (Spec, error) {
	every, err := time.ParseDuration(d)
	if err != nil {
		return Spec{}, fmt.Errorf("@every needs a duration like 90s or 1h30m, not %q", d)
	}
	// Shorter intervals would turn a typo into a busy loop against the
	// store, which records every run.
	if every < time.Second {
		return Spec{}, fmt.Errorf("@every duration %s is below the minimum of 1s", every)
	}
	return Spec{every: every}, nil
}

// daysExist reports whether some chosen month has some chosen day of the
// month, so that a spec like "0 0 30 2 *" is refused instead of never
// running.
func (s Spec) daysExist() bool {
	// February counts with 29 days: a leap day is rare but does come.
	longest := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		for d := 1; d <= longest[m]; d++ {
			if s.month.has(m) && s.dom.has(d) {
				return true
			}
		}
	}
	return false
}

// parse reads one comma-separated field.
func (f field) parse(text string) (bitset, error) {
	var set bitset
	for item := range strings.SplitSeq(text, ",") {
		lo, hi, step, err := f.parseItem(item)
		if err != nil {
			return 0, err
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

// parseItem reads one list item: '*', a value or a range, with an optional
// step. A single value with a step (5/15) runs from that value to the end of
// the field's range, as most cron implementations read it.
func (f field) parseItem(item string) (lo, hi, step int, err error) {
	rng, stepText, hasStep := strings.Cut(item, "/")
	step = 1
	if hasStep {
		step, err = strconv.Atoi(stepText)
		if err != nil || step < 1 {
			return 0, 0, 0, fmt.Errorf("%s step %q must be a whole number of at least 1", f.name, stepText)
		}
	}
	if rng == "*" {
		return f.min, f.max, step, nil
	}
	loText, hiText, isRange := strings.Cut(rng, "-")
	if lo, err = f.value(loText); err != nil {
		return 0, 0, 0, err
	}
	switch {
	case isRange:
		if hi, err = f.value(hiText); err != nil {
			return 0, 0, 0, err
		}
		if lo > hi {
			return 0, 0, 0, fmt.Errorf("%s range %s runs backwards; write it as a list of two ranges", f.name, rng)
		}
	case hasStep:
		hi = f.max
	default:
		hi = lo
	}
	return lo, hi, step, nil
}

// value reads a number or a name and checks it against the field's range.
func (f field) value(text string) (int, error) {
	if v, ok := f.names[text]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(text)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%s %q is neither a number nor a three-letter name", f.name, text)
		}
		return 0, fmt.Errorf("%s %q is not a number", f.name, text)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%s %d is out of range %d-%d", f.name, v, f.min, f.max)
	}
	return v, nil
}

// String returns the spec as it was written.
func (s Spec) String() string { return s.text }

// searchYears bounds the search in Next. ParseSpec refuses specs that can
// never match, and the rarest match it accepts (29 February, possibly
// skipping a century year) recurs within eight years.
const searchYears = 9

// Next returns the first time after after at which the spec fires, in
// after's location (the Scheduler passes times in its Options.Location).
//
// Cron fields are matched against wall-clock time. A wall-clock time skipped
// by a daylight-saving jump forward fires at the moment of the jump, so a
// daily 02:30 job still runs that day; a wall-clock time that occurs twice
// when clocks go back fires only at its first occurrence. @every ignores the
// wall clock and returns after plus the interval. The zero Spec returns the
// zero Time.
func (s Spec) Next(after time.Time) time.Time {
	if s.every > 0 {
		return after.Add(s.every)
	}
	loc := after.Location()
	// Walk candidate wall-clock times as UTC values, where adding an hour
	// or a day is plain arithmetic, and convert each match back to loc.
	c := civil(after).Truncate(time.Minute).Add(time.Minute)
	limit := c.AddDate(searchYears, 0, 0)
	for c.Before(limit) {
		switch {
		case !s.month.has(int(c.Month())):
			c = time.Date(c.Year(), c.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !s.dayMatches(c):
			c = time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, time.UTC)
		case !s.hour.has(c.Hour()):
			c = c.Truncate(time.Hour).Add(time.Hour)
		case !s.minute.has(c.Minute()):
			c = c.Add(time.Minute)
		default:
			if t := instant(c, loc); t.After(after) {
				return t
			}
			// The match is a wall-clock time whose first occurrence is
			// not after after: after lies in a repeated hour.
			c = c.Add(time.Minute)
		}
	}
	return time.Time{}
}

func (s Spec) dayMatches(c time.Time) bool {
	dom := s.dom.has(c.Day())
	dow := s.dow.has(int(c.Weekday()))
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// civil returns t's wall-clock reading in its own location as a UTC time.
func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant returns the first moment at which loc's clocks show the wall-clock
// time c, or the moment of the jump if the clocks skip c. time.Date alone
// does not do this: for both cases it picks one side of the transition
// depending on the zone's offset.
func instant(c time.Time, loc *time.Location) time.Time {
	t := time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute(), 0, 0, loc)
	start, end := t.ZoneBounds()
	if shown := civil(t); !shown.Equal(c) {
		// c falls in a gap. time.Date moved it past the jump (start is the
		// jump) or before it (end is the jump).
		if shown.After(c) {
			return start
		}
		return end
	}
	if start.IsZero() {
		return t
	}
	// If the clocks went back at start, c may have shown before it too,
	// one offset difference earlier.
	_, offset := t.Zone()
	_, before := start.Add(-time.Second).Zone()
	if earlier := t.Add(time.Duration(offset-before) * time.Second); earlier.Before(t) && civil(earlier.In(loc)).Equal(c) {
		return earlier
	}
	return t
}
