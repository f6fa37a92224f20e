package worldtime

import "strings"

// cities maps the places a team is likely to ask about, offices and data
// centres more than capitals, to their zones; the key is the name the
// answer shows. Only places that keep one zone throughout are listed:
// "time in brazil" has no single answer.
var cities = map[string]string{
	"UTC":           "UTC",
	"New York":      "America/New_York",
	"Boston":        "America/New_York",
	"Washington":    "America/New_York",
	"Atlanta":       "America/New_York",
	"Miami":         "America/New_York",
	"Chicago":       "America/Chicago",
	"Dallas":        "America/Chicago",
	"Houston":       "America/Chicago",
	"Austin":        "America/Chicago",
	"Denver":        "America/Denver",
	"Phoenix":       "America/Phoenix",
	"Los Angeles":   "America/Los_Angeles",
	"San Francisco": "America/Los_Angeles",
	"San Jose":      "America/Los_Angeles",
	"Seattle":       "America/Los_Angeles",
	"Anchorage":     "America/Anchorage",
	"Honolulu":      "Pacific/Honolulu",
	"Toronto":       "America/Toronto",
	"Montreal":      "America/Toronto",
	"Vancouver":     "America/Vancouver",
	"Mexico City":   "America/Mexico_City",
	"Bogota":        "America/Bogota",
	"Lima":          "America/Lima",
	"Santiago":      "America/Santiago",
	"Sao Paulo":     "America/Sao_Paulo",
	"Buenos Aires":  "America/Argentina/Buenos_Aires",
	"Reykjavik":     "Atlantic/Reykjavik",
	"London":        "Europe/London",
	"Dublin":        "Europe/Dublin",
	"Lisbon":        "Europe/Lisbon",
	"Madrid":        "Europe/Madrid",
	"Barcelona":     "Europe/Madrid",
	"Paris":         "Europe/Paris",
	"Brussels":      "Europe/Brussels",
	"Amsterdam":     "Europe/Amsterdam",
	"Berlin":        "Europe/Berlin",
	"Frankfurt":     "Europe/Berlin",
	"Munich":        "Europe/Berlin",
	"Hamburg":       "Europe/Berlin",
	"Zurich":        "Europe/Zurich",
	"Geneva":        "Europe/Zurich",
	"Vienna":        "Europe/Vienna",
	"Rome":          "Europe/Rome",
	"Milan":         "Europe/Rome",
	"Copenhagen":    "Europe/Copenhagen",
	"Oslo":          "Europe/Oslo",
	"Stockholm":     "Europe/Stockholm",
	"Helsinki":      "Europe/Helsinki",
	"Warsaw":        "Europe/Warsaw",
	"Prague":        "Europe/Prague",
	"Budapest":      "Europe/Budapest",
	"Bucharest":     "Europe/Bucharest",
	"Athens":        "Europe/Athens",
	"Kyiv":          "Europe/Kyiv",
	"Istanbul":      "Europe/Istanbul",
	"Moscow":        "Europe/Moscow",
	"Tel Aviv":      "Asia/Jerusalem",
	"Cairo":         "Africa/Cairo",
	"Lagos":         "Africa/Lagos",
	"Nairobi":       "Africa/Nairobi",
	"Johannesburg":  "Africa/Johannesburg",
	"Cape Town":     "Africa/Johannesburg",
	"Dubai":         "Asia/Dubai",
	"Karachi":       "Asia/Karachi",
	"Mumbai":        "Asia/Kolkata",
	"Delhi":         "Asia/Kolkata",
	"Bangalore":     "Asia/Kolkata",
	"Hyderabad":     "Asia/Kolkata",
	"Dhaka":         "Asia/Dhaka",
	"Bangkok":       "Asia/Bangkok",
	"Jakarta":       "Asia/Jakarta",
	"Singapore":     "Asia/Singapore",
	"Kuala Lumpur":  "Asia/Kuala_Lumpur",
	"Manila":        "Asia/Manila",
	"Hong Kong":     "Asia/Hong_Kong",
	"Shanghai":      "Asia/Shanghai",
	"Beijing":       "Asia/Shanghai",
	"Taipei":        "Asia/Taipei",
	"Seoul":         "Asia/Seoul",
	"Tokyo":         "Asia/Tokyo",
	"Perth":         "Australia/Perth",
	"Brisbane":      "Australia/Brisbane",
	"Sydney":        "Australia/Sydney",
	"Melbourne":     "Australia/Melbourne",
	"Auckland":      "Pacific/Auckland",
	"Wellington":    "Pacific/Auckland",
}

// aliases are other spellings of the cities above, in lower case: short
// forms, former names, and the accents a person may or may not type.
var aliases = map[string]string{
	"gmt":           "UTC",
	"nyc":           "New York",
	"new york city": "New York",
	"washington dc": "Washington",
	"la":            "Los Angeles",
	"sf":            "San Francisco",
	"bogotá":        "Bogota",
	"são paulo":     "Sao Paulo",
	"reykjavík":     "Reykjavik",
	"münchen":       "Munich",
	"zürich":        "Zurich",
	"wien":          "Vienna",
	"kiev":          "Kyiv",
	"bombay":        "Mumbai",
	"new delhi":     "Delhi",
	"bengaluru":     "Bangalore",
	"peking":        "Beijing",
}

// cityNames finds a city's name from its name in lower case or an alias.
var cityNames = func() map[string]string {
	ix := make(map[string]string, len(cities)+len(aliases))
	for name := range cities {
		ix[strings.ToLower(name)] = name
	}
	for alias, name := range aliases {
		ix[alias] = name
	}
	return ix
}()
