// Package smalltalk answers greetings, thanks and "how are you" when they
// are said to the bot, so a person who greets it gets a friendly word and a
// hint instead of "I don't know".
package smalltalk

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/seipbot/seipbot/bot"
)

// Plugin is the small talk. Its patterns are registered as addressed hears:
// in a room they answer only a line that names the bot, so the bot stays
// out of people's chatter with each other.
type Plugin struct {
	// Pick returns a number in [0, n) choosing among the answers; nil picks
	// at random. Tests set it to get a known answer.
	Pick func(n int) int
}

// The patterns are anchored at both ends so that only a line that is
// nothing but small talk matches: "hi there!" is a greeting, while
// "hi, scan ports 10.0.0.1" is a command the router must see.
const (
	greetingPattern  = `(?i)^(hi|hello|hey|hiya|howdy|yo|morning|good (morning|afternoon|evening|day))( there| all| everyone)?[\s!.,]*$`
	thanksPattern    = `(?i)^(thanks|thank you|thx|ty|cheers|much appreciated)( (a lot|so much|very much))?[\s!.,]*$`
	howAreYouPattern = `(?i)^(how are you( doing)?|how are things|how is it going|how['’]?s it going|how do you do)[\s?!.,]*$`
)

// greetings take the user's name; a platform may not give one.
var greetings = []string{
	"Hi %s!",
	"Hello %s, what can I do for you?",
	"Hey %s! Say \"help\" to see what I can do.",
}

var thanks = []string{
	"You're welcome!",
	"Any time.",
	"Glad to help.",
}

var wellbeing = []string{
	"All systems nominal, thanks for asking.",
	"Doing well: no open alerts on my side. And you?",
	"Fine, and watching the logs as always.",
}

// Name returns "smalltalk".
func (p *Plugin) Name() string { return "smalltalk" }

// Register declares the greeting, thanks and how-are-you patterns.
func (p *Plugin) Register(r *bot.Registry) error {
	if p.Pick == nil {
		p.Pick = rand.IntN
	}
	r.Hear(bot.Hear{
		Name:      "greeting",
		Pattern:   greetingPattern,
		Help:      "answers hello",
		Addressed: true,
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			name := m.User.Name
			if name == "" {
				name = "there"
			}
			return w.Reply(ctx, fmt.Sprintf(p.choose(greetings), name))
		}),
	})
	r.Hear(bot.Hear{
		Name:      "thanks",
		Pattern:   thanksPattern,
		Help:      "answers thanks",
		Addressed: true,
		Handler:   p.answer(thanks),
	})
	r.Hear(bot.Hear{
		Name:      "how-are-you",
		Pattern:   howAreYouPattern,
		Help:      "answers how are you",
		Addressed: true,
		Handler:   p.answer(wellbeing),
	})
	return nil
}

func (p *Plugin) choose(answers []string) string {
	return answers[p.Pick(len(answers))]
}

func (p *Plugin) answer(answers []string) bot.Handler {
	return bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
		return w.Reply(ctx, p.choose(answers))
	})
}
