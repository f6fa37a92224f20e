// Package worldtime answers "time in <place>" for a city or an IANA time
// zone, which a team spread over several offices asks before paging someone.
package worldtime

import (
	"context"
	"strings"
	"time"
	// The zone database is compiled in because the bot's container image
	// has no /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/seipbot/seipbot/bot"
)

// Plugin is the "time in" command.
type Plugin struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Name returns "worldtime".
func (p *Plugin) Name() string { return "worldtime" }

// Register declares "time in".
func (p *Plugin) Register(r *bot.Registry) error {
	if p.Now == nil {
		p.Now = time.Now
	}
	r.Command(bot.Command{
		Words:    "time in",
		Args:     []bot.Arg{{Name: "place", Kind: bot.Rest, Help: "a city, or an IANA time zone such as Europe/Berlin"}},
		Help:     "show the current time in a city or time zone",
		Examples: []string{"time in new york", "time in Asia/Kolkata", "time in utc"},
		Handler:  bot.HandlerFunc(p.timeIn),
	})
	return nil
}

func (p *Plugin) timeIn(ctx context.Context, w bot.Responder, m *bot.Message) error {
	place := m.Args.String("place")
	name, loc, ok := locate(place)
	if !ok {
		return bot.Userf("I don't know the place %q; try a larger city nearby or an IANA time zone such as Europe/Berlin.", strings.TrimSpace(place))
	}
	return w.Reply(ctx, name+": "+format(p.Now().In(loc)))
}

// format renders t as "15:04 (Mon 2 Jan, CET, UTC+01:00)". Zones without
// an abbreviation of their own report a numeric one ("+04"), which would
// only repeat the offset, so it is left out.
func format(t time.Time) string {
	zone, _ := t.Zone()
	if strings.HasPrefix(zone, "+") || strings.HasPrefix(zone, "-") {
		return t.Format("15:04 (Mon 2 Jan, UTC-07:00)")
	}
	return t.Format("15:04 (Mon 2 Jan, MST, UTC-07:00)")
}

// locate finds the zone of a city from the table or of an IANA zone name
// typed in any case, and the name to show for it.
func locate(place string) (string, *time.Location, bool) {
	// People end a question with a question mark.
	typed := strings.TrimSpace(strings.TrimRight(place, "?!. "))
	key := strings.ToLower(strings.Join(strings.Fields(typed), " "))
	if name, ok := cityNames[key]; ok {
		loc, err := time.LoadLocation(cities[name])
		return name, loc, err == nil
	}
	if !isZoneName(key) {
		return "", nil, false
	}
	for _, name := range []string{typed, canonicalZone(key), strings.ToUpper(key)} {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc.String(), loc, true
		}
	}
	return "", nil, false
}

// isZoneName reports whether s can be a zone name at all. LoadLocation
// reads files when the host has a zone database, so only the characters
// zone names use reach it, and "local" (the server's own zone, which means
// nothing to the person asking) is refused.
func isZoneName(s string) bool {
	if s == "" || s == "local" || strings.Contains(s, "..") || strings.HasPrefix(s, "/") {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.ContainsRune("/_-+", c)) {
			return false
		}
	}
	return true
}

// canonicalZone turns a lower-case zone name into the database's spelling
// for the regular names: "america/port_of_spain" → "America/Port_of_Spain",
// "etc/gmt+2" → "Etc/GMT+2", "us/pacific" → "US/Pacific". The few names with
// other capitals (Antarctica/McMurdo) must be typed exactly.
func canonicalZone(s string) string {
	// A short first part is an abbreviation (US, NZ, EST, PRC), apart from
	// Etc.
	first, rest, found := strings.Cut(s, "/")
	switch {
	case len(first) > 3 || first == "etc":
		return canonicalWords(s)
	case found:
		return strings.ToUpper(first) + "/" + canonicalWords(rest)
	}
	return strings.ToUpper(first)
}

// canonicalWords capitalises each word of a zone name.
func canonicalWords(s string) string {
	b := []byte(s)
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && !strings.ContainsRune("/_-+", rune(b[i])) {
			continue
		}
		switch word := s[start:i]; {
		case word == "of" || word == "es" || word == "au":
			// Port_of_Spain, Dar_es_Salaam, Port-au-Prince
		case word == "gmt" || word == "utc" || word == "uct":
			copy(b[start:i], strings.ToUpper(word))
		case word != "" && 'a' <= word[0] && word[0] <= 'z':
			b[start] -= 'a' - 'A'
		}
		start = i + 1
	}
	return string(b)
}
