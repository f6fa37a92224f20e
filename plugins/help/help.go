// Package help answers "help" and "help <command>" from the commands'
// own declarations, so help never drifts from what the bot does.
package help

import (
	"context"
	"fmt"
	"strings"

	"github.com/seipbot/seipbot/bot"
)

// Catalog lists the commands a bot knows; *bot.Router is one.
type Catalog interface {
	Commands() []*bot.Command
	Lookup(words string) *bot.Command
}

// Filter reports whether the sender of m may run c, so help lists only what
// each user can use. Nil shows everything.
type Filter func(ctx context.Context, m *bot.Message, c *bot.Command) bool

// Plugin is the help command.
type Plugin struct {
	Catalog Catalog
	Filter  Filter
}

// Name returns "help".
func (p *Plugin) Name() string { return "help" }

// Register declares help.
func (p *Plugin) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words:    "help",
		Args:     []bot.Arg{{Name: "command", Kind: bot.Rest, Optional: true}},
		Help:     "list commands, or show how to use one",
		Examples: []string{"help", "help remind me"},
		Handler:  bot.HandlerFunc(p.help),
	})
	return nil
}

func (p *Plugin) visible(ctx context.Context, m *bot.Message, c *bot.Command) bool {
	return p.Filter == nil || p.Filter(ctx, m, c)
}

func (p *Plugin) help(ctx context.Context, w bot.Responder, m *bot.Message) error {
	if want := m.Args.String("command"); want != "" {
		c := p.Catalog.Lookup(want)
		if c == nil || !p.visible(ctx, m, c) {
			return bot.Userf("There is no command %q that you can use; say \"help\" for the list.", want)
		}
		return w.Reply(ctx, usage(c))
	}
	var b strings.Builder
	b.WriteString("Commands:")
	plugin := ""
	for _, c := range p.Catalog.Commands() {
		if !p.visible(ctx, m, c) {
			continue
		}
		if c.Plugin != plugin {
			plugin = c.Plugin
			fmt.Fprintf(&b, "\n**%s**", plugin)
		}
		fmt.Fprintf(&b, "\n  %s — %s", c.Usage(), c.Help)
	}
	b.WriteString("\nSay \"help <command>\" for details.")
	return w.Reply(ctx, b.String())
}

func usage(c *bot.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\nUsage: %s", c.Words, c.Help, c.Usage())
	for _, a := range c.Args {
		if a.Help == "" {
			continue
		}
		name := "<" + a.Name + ">"
		if a.Flag {
			name = "--" + a.Name
		}
		fmt.Fprintf(&b, "\n  %s (%s): %s", name, a.Kind, a.Help)
	}
	for i, e := range c.Examples {
		if i == 0 {
			b.WriteString("\nExamples:")
		}
		fmt.Fprintf(&b, "\n  %s", e)
	}
	return b.String()
}
