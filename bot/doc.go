// Package bot is seipbot's engine: the message and response types, the
// router that turns a chat line into a command or hear match, the middleware
// chain every handler runs behind, and the outbox through which everything the
// bot says leaves.
//
// A message flows one way:
//
//	adapter ─▶ Bot.Receive ─▶ room policy ─▶ Router ─▶ middleware ─▶ Handler ─▶ Outbox ─▶ adapter.Send
//
// Handlers look like net/http's: one method, Handle(ctx, w, m), with a
// HandlerFunc adapter and Middleware as func(Handler) Handler. Plugins register
// commands and hear patterns through a Registry; a plugin a team writes uses
// exactly the API the built-in plugins use.
//
// The package names no concrete adapter, store or plugin: those are wired in
// cmd/seipbot.
package bot
