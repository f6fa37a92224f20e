package worldtime

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
)

func TestTimeIn(t *testing.T) {
	// Monday 5 January 2026, 14:04 UTC: winter in the north, summer in
	// the south.
	now := time.Date(2026, 1, 5, 14, 4, 0, 0, time.UTC)
	tests := []struct {
		place string
		want  string
	}{
		{"berlin", "Berlin: 15:04 (Mon 5 Jan, CET, UTC+01:00)"},
		{"New  York?", "New York: 09:04 (Mon 5 Jan, EST, UTC-05:00)"},
		{"nyc", "New York: 09:04 (Mon 5 Jan, EST, UTC-05:00)"},
		{"São Paulo", "Sao Paulo: 11:04 (Mon 5 Jan, UTC-03:00)"},
		{"sydney", "Sydney: 01:04 (Tue 6 Jan, AEDT, UTC+11:00)"},
		{"mumbai", "Mumbai: 19:34 (Mon 5 Jan, IST, UTC+05:30)"},
		{"utc", "UTC: 14:04 (Mon 5 Jan, UTC, UTC+00:00)"},
		{"Europe/Berlin", "Europe/Berlin: 15:04 (Mon 5 Jan, CET, UTC+01:00)"},
		{"europe/berlin", "Europe/Berlin: 15:04 (Mon 5 Jan, CET, UTC+01:00)"},
		{"asia/dubai", "Asia/Dubai: 18:04 (Mon 5 Jan, UTC+04:00)"},
		{"america/argentina/buenos_aires", "America/Argentina/Buenos_Aires: 11:04 (Mon 5 Jan, UTC-03:00)"},
		{"america/port_of_spain", "America/Port_of_Spain: 10:04 (Mon 5 Jan, AST, UTC-04:00)"},
		{"america/port-au-prince", "America/Port-au-Prince: 09:04 (Mon 5 Jan, EST, UTC-05:00)"},
		{"us/pacific", "US/Pacific: 06:04 (Mon 5 Jan, PST, UTC-08:00)"},
		{"etc/gmt+2", "Etc/GMT+2: 12:04 (Mon 5 Jan, UTC-02:00)"},
		{"est5edt", "EST5EDT: 09:04 (Mon 5 Jan, EST, UTC-05:00)"},
		{"Antarctica/McMurdo", "Antarctica/McMurdo: 03:04 (Tue 6 Jan, NZDT, UTC+13:00)"},
		{"atlantis", `I don't know the place "atlantis"; try a larger city nearby or an IANA time zone such as Europe/Berlin.`},
		{"local", `I don't know the place "local"; try a larger city nearby or an IANA time zone such as Europe/Berlin.`},
		{"../../etc/passwd", `I don't know the place "../../etc/passwd"; try a larger city nearby or an IANA time zone such as Europe/Berlin.`},
	}
	for _, tt := range tests {
		t.Run(tt.place, func(t *testing.T) {
			b, err := bot.New(bot.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Use(&Plugin{Now: func() time.Time { return now }}); err != nil {
				t.Fatal(err)
			}
			rec := bottest.NewAdapter("test", &bot.Message{Adapter: "test", Text: "time in " + tt.place, Direct: true, User: bot.User{ID: "test:a"}})
			b.AddAdapter(rec)
			if err := b.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rec.Sent() {
				got = append(got, r.Text)
			}
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("time in %q: got %q, want %q", tt.place, got, tt.want)
			}
		})
	}
}

// Every city's zone must exist, or "time in" that city would say it does
// not know the place.
func TestCityZonesExist(t *testing.T) {
	for name, zone := range cities {
		if _, err := time.LoadLocation(zone); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for alias, name := range aliases {
		if _, ok := cities[name]; !ok {
			t.Errorf("alias %q names %q, which is not a city", alias, name)
		}
	}
}
