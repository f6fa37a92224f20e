package bot

import (
	"context"
	"time"
)

// User is who sent a message. ID is the stable platform identity
// ("slack:U024BE7LH", "shell:alice"); access decisions use it and never Name,
// which users can change.
type User struct {
	ID   string
	Name string
}

// Message is one inbound chat line, as an adapter delivers it and as the
// router annotates it before a handler sees it.
type Message struct {
	ID      string
	Adapter string
	Text    string
	Room    string // platform room id; for a direct message, the conversation id
	User    User
	Direct  bool   // a one-to-one conversation with the bot
	Thread  string // thread the message belongs to, if the platform has threads
	Time    time.Time
	// Mentioned is set by adapters whose platform marks a mention itself
	// (Slack's app_mention), so the router need not find the name in Text.
	Mentioned bool

	// Set by the router.

	// Addressed reports whether the message was meant for the bot: a direct
	// message, a mention, or the command prefix.
	Addressed bool
	// Body is Text without the leading mention or prefix.
	Body string
	// Command is the matched command, nil for a hear match.
	Command *Command
	// Args holds the command's parsed arguments.
	Args Args
	// Hear is the matched hear pattern, nil for a command.
	Hear *Hear
	// Match holds the hear pattern's submatches; Match[0] is the whole match.
	Match []string
}

// Response is something the bot says. Text is plain text with a small
// markup that adapters render natively: ```code blocks```, `inline code`,
// **bold** and [links](https://…).
type Response struct {
	Adapter string // empty: the first adapter
	Room    string // the room to speak in, unless Direct
	User    string // the user to message, when Direct
	Direct  bool
	Thread  string
	Text    string
	// Buttons, where the platform has them, are offered under Text.
	// Clicking one makes the clicker say its Value to the bot, so the click
	// runs as the clicker's own command, through the same permission checks
	// and audit as a typed one. Platforms without buttons show only Text,
	// which must therefore say what to type.
	Buttons []Button `json:",omitempty"`
	// Key names the message for a later Replace: a stable name the
	// caller chooses, such as "job-abc123-progress".
	Key string `json:",omitempty"`
	// Replace asks the outbox to edit the message last delivered under
	// Key instead of posting a new one, where the adapter can edit
	// (Poster and Editor) and still knows that message. Otherwise the
	// response is posted as usual, so a caller never has to ask what the
	// platform can do.
	Replace bool `json:",omitempty"`
}

// Button is one choice offered with a Response: Label is shown, Value is
// the command line a click says, such as "approve 7k3q".
type Button struct {
	Label string
	Value string
}

// Sender delivers a Response. The Outbox is the Sender every part of the
// bot uses; adapters only implement the last step.
type Sender interface {
	Send(ctx context.Context, r Response) error
}

// Responder is what a handler answers through.
type Responder interface {
	// Reply answers the message in its room and thread, or in the direct
	// conversation it came from.
	Reply(ctx context.Context, text string) error
	// Send says something anywhere.
	Send(ctx context.Context, r Response) error
}

// ReplyTo returns the Response that answers m with text.
func ReplyTo(m *Message, text string) Response {
	r := Response{Adapter: m.Adapter, Room: m.Room, Thread: m.Thread, Text: text}
	if m.Direct {
		r.Direct = true
		r.User = m.User.ID
	}
	return r
}

// handling is the Responder a handler answers its message through, on
// the message's behalf.
type handling struct {
	m   *Message
	out Sender
}

func (h *handling) Reply(ctx context.Context, text string) error {
	return h.out.Send(ctx, ReplyTo(h.m, text))
}

func (h *handling) Send(ctx context.Context, resp Response) error {
	if resp.Adapter == "" {
		resp.Adapter = h.m.Adapter
	}
	return h.out.Send(ctx, resp)
}

// Action names what m asks for, for logs and answers: the command's words,
// "hear <plugin>/<name>" for a hear pattern, or "" before routing.
func (m *Message) Action() string {
	switch {
	case m.Command != nil:
		return m.Command.Words
	case m.Hear != nil:
		return "hear " + m.Hear.Plugin + "/" + m.Hear.Name
	}
	return ""
}
