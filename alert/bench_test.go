package alert

import (
	"fmt"
	"testing"
)

// BenchmarkRoute routes an alert through 50 rules of the usual kinds, the
// one that matches being last.
func BenchmarkRoute(b *testing.B) {
	var rules []Rule
	for i := range 49 {
		ms, err := ParseMatchers(fmt.Sprintf("team=team-%d,env=~prod|staging", i))
		if err != nil {
			b.Fatal(err)
		}
		rules = append(rules, Rule{Sources: []string{"alertmanager", "falco"}, MinSeverity: Medium, Match: ms,
			Repositories: []string{fmt.Sprintf("org-%d/*", i)}, Rooms: []Destination{{Room: fmt.Sprint("#r", i)}}})
	}
	rules = append(rules, Rule{Rooms: []Destination{{Room: "#all"}}})
	a := &Alert{Source: "falco", Severity: High, Title: "x", Repository: "acme/api", Labels: map[string]string{"team": "sec", "env": "prod"}}
	for b.Loop() {
		if d, _ := route(rules, a); len(d) != 1 {
			b.Fatal(d)
		}
	}
}
