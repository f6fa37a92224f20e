package schedule

import (
	"testing"
	"time"
)

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		spec, want string
	}{
		{"61 * * * *", `cron spec "61 * * * *": minute 61 is out of range 0-59`},
		{"* 24 * * *", `cron spec "* 24 * * *": hour 24 is out of range 0-23`},
		{"* * 0 * *", `cron spec "* * 0 * *": day-of-month 0 is out of range 1-31`},
		{"* * * 13 *", `cron spec "* * * 13 *": month 13 is out of range 1-12`},
		{"* * * * 8", `cron spec "* * * * 8": day-of-week 8 is out of range 0-7`},
		{"* * * *", `cron spec "* * * *": want 5 fields (minute hour day-of-month month day-of-week), got 4`},
		{"x * * * *", `cron spec "x * * * *": minute "x" is not a number`},
		{"* * * * funday", `cron spec "* * * * funday": day-of-week "funday" is neither a number nor a three-letter name`},
		{"*/0 * * * *", `cron spec "*/0 * * * *": minute step "0" must be a whole number of at least 1`},
		{"* 5-3 * * *", `cron spec "* 5-3 * * *": hour range 5-3 runs backwards; write it as a list of two ranges`},
		{"0 0 30 feb *", `cron spec "0 0 30 feb *": no month given has any of the days of the month given, so it would never run`},
		{"@yearly", `cron spec "@yearly": unknown shorthand @yearly; use @hourly, @daily, @weekly or @every <duration>`},
		{"@every soon", `cron spec "@every soon": @every needs a duration like 90s or 1h30m, not "soon"`},
		{"@every 10ms", `cron spec "@every 10ms": @every duration 10ms is below the minimum of 1s`},
		{"1,,2 * * * *", `cron spec "1,,2 * * * *": minute "" is not a number`},
	}
	for _, tt := range tests {
		_, err := ParseSpec(tt.spec)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSpec(%q) error = %v, want %s", tt.spec, err, tt.want)
		}
	}
}

func TestSpecNext(t *testing.T) {
	berlin := mustLocation(t, "Europe/Berlin")
	newYork := mustLocation(t, "America/New_York")
	tests := []struct {
		name, spec string
		loc        *time.Location
		after      string
		want       []string // successive results, each from the one before
	}{
		{"every minute", "* * * * *", time.UTC, "2026-01-01T10:00:30Z",
			[]string{"2026-01-01T10:01:00Z", "2026-01-01T10:02:00Z"}},
		{"steps and lists", "*/20 8,17 * * *", time.UTC, "2026-01-01T08:30:00Z",
			[]string{"2026-01-01T08:40:00Z", "2026-01-01T17:00:00Z", "2026-01-01T17:20:00Z", "2026-01-01T17:40:00Z", "2026-01-02T08:00:00Z"}},
		{"range with step", "0 9-17/4 * * *", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"}},
		{"value with step", "50/5 * * * *", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T00:50:00Z", "2026-01-01T00:55:00Z", "2026-01-01T01:50:00Z"}},
		{"weekday names", "0 9 * * mon-fri", time.UTC, "2026-01-02T09:00:00Z", // a Friday
			[]string{"2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"}},
		{"sunday as 7", "0 0 * * 7", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"31st skips short months", "0 12 31 * *", time.UTC, "2026-01-31T12:00:00Z",
			[]string{"2026-03-31T12:00:00Z", "2026-05-31T12:00:00Z"}},
		{"month end into new year", "59 23 * dec *", time.UTC, "2026-12-31T23:59:00Z",
			[]string{"2027-12-01T23:59:00Z"}},
		{"leap day", "0 0 29 2 *", time.UTC, "2024-03-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"both day fields restricted match either", "0 0 13 * fri", time.UTC, "2026-02-01T00:00:00Z",
			[]string{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-06T00:00:00Z"}},
		{"starred day field matches both", "0 0 */10 * fri", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-05-01T00:00:00Z", "2026-07-31T00:00:00Z"}},
		{"names in any case", "0 0 1 JAN,Jul *", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"@weekly", "@weekly", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"@every", "@Every 1h30m", time.UTC, "2026-01-01T00:10:00Z",
			[]string{"2026-01-01T01:40:00Z", "2026-01-01T03:10:00Z"}},
		{"in a location", "@daily", berlin, "2026-01-01T00:00:00+01:00",
			[]string{"2026-01-02T00:00:00+01:00", "2026-01-03T00:00:00+01:00"}},
		// 29 March 2026: Berlin's clocks jump from 02:00 CET to 03:00 CEST.
		{"berlin skipped time fires at the jump", "30 2 * * *", berlin, "2026-03-28T02:30:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin hourly over the jump", "0 * * * *", berlin, "2026-03-29T00:30:00+01:00",
			[]string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		// 25 October 2026: Berlin's clocks go back from 03:00 CEST to 02:00 CET.
		{"berlin repeated time fires once", "30 2 * * *", berlin, "2026-10-24T02:30:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"berlin half-hourly over the repeat", "*/30 * * * *", berlin, "2026-10-25T02:00:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-25T03:00:00+01:00"}},
		{"inside the second occurrence", "*/30 * * * *", berlin, "2026-10-25T02:10:00+01:00",
			[]string{"2026-10-25T03:00:00+01:00"}},
		// 8 March 2026: New York jumps from 02:00 EST to 03:00 EDT; time.Date
		// resolves the gap the other way round from Berlin.
		{"new york skipped time fires at the jump", "30 2 * * *", newYork, "2026-03-07T02:30:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		// 1 November 2026: New York goes back from 02:00 EDT to 01:00 EST.
		{"new york repeated time fires once", "30 1 * * *", newYork, "2026-10-31T01:30:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := ParseSpec(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			after := mustTime(t, tt.after).In(tt.loc)
			for _, w := range tt.want {
				got := spec.Next(after)
				if want := mustTime(t, w); !got.Equal(want) {
					t.Fatalf("Next(%s) = %s, want %s", after, got, want)
				}
				if got.Location() != tt.loc {
					t.Fatalf("Next(%s) is in %s, want %s", after, got.Location(), tt.loc)
				}
				after = got
			}
		})
	}
}

func TestZeroSpecNeverFires(t *testing.T) {
	if got := (Spec{}).Next(time.Now()); !got.IsZero() {
		t.Errorf("Spec{}.Next = %s, want the zero time", got)
	}
}

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
