// Package canned answers commands and hear patterns whose replies are
// written in the configuration, so a team adds "runbook ddos" or a link for
// every ticket number without writing a plugin.
//
// A command's permission is "canned." followed by its words joined with
// dots ("canned.runbook.ddos"). Hear patterns declare none: they answer
// conversation, and a refusal to every line that happens to match would be
// noise.
package canned

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/template"
)

// CommandRule is a command that answers with a fixed reply.
type CommandRule struct {
	Command string // the words that name it, such as "runbook ddos"
	Reply   string // a text/template executed with Data
	Help    string
}

// HearRule answers every line in a room the bot reads that matches Pattern,
// whether or not it is addressed to the bot.
type HearRule struct {
	Pattern string // a Go regular expression
	Reply   string // a text/template executed with Data
	Help    string
}

// Data is what a reply template sees.
type Data struct {
	// Args are the words typed after a command, split at spaces; nil for a
	// hear rule.
	Args []string
	// Text is what was typed after a command, as typed; for a hear rule,
	// the whole line.
	Text string
	// Match holds a hear rule's submatches: Match 0 is the whole match,
	// Match 1 the first group. Nil for a command.
	Match  []string
	User   string // the sender's display name
	UserID string // the sender's stable id ("slack:U024BE7LH")
	Room   string
}

// Plugin registers the configured rules.
type Plugin struct {
	commands []bot.Command
	hears    []bot.Hear
}

// New parses every rule's reply and reports every rule that does not parse
// at once. Patterns are compiled when the plugin is registered.
func New(commands []CommandRule, hears []HearRule) (*Plugin, error) {
	p := &Plugin{}
	var errs []error
	for i, c := range commands {
		words := strings.Join(strings.Fields(strings.ToLower(c.Command)), " ")
		r, err := parseReply(words, c.Reply)
		if err != nil {
			errs = append(errs, fmt.Errorf("canned command %d %q: %w", i, c.Command, err))
			continue
		}
		p.commands = append(p.commands, bot.Command{
			Words: words,
			// A team's runbooks may not be for everyone who can reach the
			// bot; "canned.*" grants them all.
			Permission: "canned." + strings.ReplaceAll(words, " ", "."),
			Args:       []bot.Arg{{Name: "args", Kind: bot.Rest, Optional: true}},
			Help:       c.Help,
			Handler:    r,
		})
	}
	for i, h := range hears {
		if h.Pattern == "" {
			// An empty pattern matches every line in every room.
			errs = append(errs, fmt.Errorf("canned hear %d: the pattern is empty", i))
			continue
		}
		r, err := parseReply(h.Pattern, h.Reply)
		if err != nil {
			errs = append(errs, fmt.Errorf("canned hear %d %q: %w", i, h.Pattern, err))
			continue
		}
		p.hears = append(p.hears, bot.Hear{
			Name:    fmt.Sprintf("hear-%d", i),
			Pattern: h.Pattern,
			Help:    h.Help,
			Handler: r,
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns "canned".
func (p *Plugin) Name() string { return "canned" }

// Register declares the configured commands and hear patterns.
func (p *Plugin) Register(r *bot.Registry) error {
	for _, c := range p.commands {
		r.Command(c)
	}
	for _, h := range p.hears {
		r.Hear(h)
	}
	return nil
}

// reply answers with a parsed template, or with plain text when the
// template has no actions, which is the common case and costs nothing to
// execute.
type reply struct {
	tmpl  *template.Template // nil for plain text
	plain string
}

func parseReply(name, text string) (*reply, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("the reply is empty")
	}
	t, err := template.New(name).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	if plain, ok := t.Text(); ok {
		return &reply{plain: plain}, nil
	}
	return &reply{tmpl: t}, nil
}

// buffers hold rendered replies between executions. A bytes.Buffer rather
// than a strings.Builder, because Builder.Reset drops its memory and so
// gains nothing from a pool.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled keeps a rare huge reply from pinning its buffer in the pool.
const maxPooled = 64 << 10

// Handle answers m with the reply rendered for it.
func (r *reply) Handle(ctx context.Context, w bot.Responder, m *bot.Message) error {
	if r.tmpl == nil {
		return w.Reply(ctx, r.plain)
	}
	d := Data{Match: m.Match, User: m.User.Name, UserID: m.User.ID, Room: m.Room}
	if m.Command != nil {
		d.Text = m.Args.String("args")
		d.Args = strings.Fields(d.Text)
	} else {
		d.Text = m.Text
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooled {
			buf.Reset()
			buffers.Put(buf)
		}
	}()
	if err := r.tmpl.Execute(buf, &d); err != nil {
		return fmt.Errorf("canned: %w", err)
	}
	return w.Reply(ctx, buf.String())
}
