package alert

import (
	"fmt"
	"strings"
	"time"
)

// Kind says which message about an alert is being written.
type Kind string

// The messages the manager sends.
const (
	KindNew       Kind = "new"       // first report
	KindRepeat    Kind = "repeat"    // still firing after the dedup window
	KindResolved  Kind = "resolved"  // the source says it is over
	KindEscalated Kind = "escalated" // nobody acknowledged it in time
	KindStorm     Kind = "storm"     // the summary of a group held back
)

// View is what a template renders: the alert and what the bot knows of it.
type View struct {
	Alert
	Kind  Kind
	ID    string // the short id people type in "ack"; empty for notices
	Count int    // reports seen, or for a storm the alerts held back
	Since time.Time
	// For is how long the alert fired (resolved) or waited (escalated).
	For time.Duration
	// Rooms is where the alert was announced, for an escalation.
	Rooms []string
}

// Render writes v as the default message in the bot's markup.
func Render(v View) string {
	var b strings.Builder
	tag := strings.ToUpper(v.Severity.String())
	switch v.Kind {
	case KindResolved:
		fmt.Fprintf(&b, "**[RESOLVED] %s**", v.Title)
		if v.ID != "" {
			fmt.Fprintf(&b, " · alert %s, fired for %s", v.ID, roundFor(v.For))
		}
		return b.String()
	case KindRepeat:
		fmt.Fprintf(&b, "**[%s] %s** is still firing (seen %d times since %s) · alert %s", tag, v.Title, v.Count, v.Since.UTC().Format("15:04 MST"), v.ID)
		return b.String()
	case KindStorm:
		fmt.Fprintf(&b, "**[STORM] %d more alerts like \"%s\"** from %s were held back to keep the room readable; \"alerts\" lists them.", v.Count, v.Title, v.Source)
		return b.String()
	case KindEscalated:
		fmt.Fprintf(&b, "**[ESCALATED] [%s] %s** has not been acknowledged for %s", tag, v.Title, roundFor(v.For))
		if len(v.Rooms) > 0 {
			fmt.Fprintf(&b, " in %s", strings.Join(v.Rooms, ", "))
		}
		b.WriteString(".")
	default:
		if v.Notice {
			fmt.Fprintf(&b, "**%s**", v.Title)
		} else {
			fmt.Fprintf(&b, "**[%s] %s**", tag, v.Title)
		}
	}
	if v.Text != "" {
		b.WriteString("\n")
		b.WriteString(v.Text)
	}
	if v.URL != "" {
		b.WriteString("\n")
		b.WriteString(v.URL)
	}
	if v.ID != "" {
		fmt.Fprintf(&b, "\n%s · alert %s · say \"ack %s\" to acknowledge", v.Source, v.ID, v.ID)
	}
	return b.String()
}

func roundFor(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

// render uses the destination's template, falling back to the default if
// the template fails: a broken template must not lose the alert.
func (m *Manager) render(d Destination, v View) string {
	if d.Template == nil {
		return Render(v)
	}
	var b strings.Builder
	if err := d.Template.Execute(&b, v); err != nil {
		m.log.Error("alert template failed; sending the default message", "room", d.Room, "err", err)
		return Render(v)
	}
	return b.String()
}
