// Package info holds the bot's plain answers about itself and its user:
// ping, whoami and status.
package info

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Roles names the roles an identity holds, for whoami; nil before access
// control is configured.
type Roles func(userID string) []string

// Plugin answers ping, whoami and status.
type Plugin struct {
	Version string
	Bot     *bot.Bot
	// Store describes the storage backend for status ("bolt /data/seipbot.db").
	Store string
	Roles Roles
	Now   func() time.Time
}

// Name returns "info".
func (p *Plugin) Name() string { return "info" }

// Register declares ping, whoami and status.
func (p *Plugin) Register(r *bot.Registry) error {
	if p.Now == nil {
		p.Now = time.Now
	}
	r.Command(bot.Command{
		Words: "ping",
		Help:  "check that the bot is listening",
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return w.Reply(ctx, "pong")
		}),
	})
	r.Command(bot.Command{
		Words:   "whoami",
		Help:    "show your identity and roles",
		Handler: bot.HandlerFunc(p.whoami),
	})
	r.Command(bot.Command{
		Words:   "status",
		Help:    "show version, uptime, adapters and store",
		Handler: bot.HandlerFunc(p.status),
	})
	return nil
}

func (p *Plugin) whoami(ctx context.Context, w bot.Responder, m *bot.Message) error {
	roles := "none"
	if p.Roles != nil {
		if rs := p.Roles(m.User.ID); len(rs) > 0 {
			roles = strings.Join(rs, ", ")
		}
	}
	return w.Reply(ctx, fmt.Sprintf("You are %s (%s). Roles: %s.", m.User.ID, m.User.Name, roles))
}

func (p *Plugin) status(ctx context.Context, w bot.Responder, m *bot.Message) error {
	uptime := "not started"
	if p.Bot != nil && !p.Bot.Started().IsZero() {
		uptime = p.Now().Sub(p.Bot.Started()).Round(time.Second).String()
	}
	var adapters string
	if p.Bot != nil {
		adapters = strings.Join(p.Bot.Adapters(), ", ")
	}
	return w.Reply(ctx, fmt.Sprintf("seipbot %s, up %s. Adapters: %s. Store: %s.", p.Version, uptime, adapters, p.Store))
}
