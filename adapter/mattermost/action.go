package mattermost

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// actionLife is how long a button works. Requests expire sooner (15
// minutes by default) and say so when clicked late; the limit only stops
// an old signed context from being useful for ever.
const actionLife = 24 * time.Hour

// action is what a button's signed context says: who clicking it speaks to
// and what they say.
type action struct {
	Command string // the line the click says, such as "approve k3x9"
	Channel string
	Thread  string
	Direct  bool
	Expires time.Time
}

// Context keys of a signed action.
const (
	ctxCommand = "command"
	ctxChannel = "channel"
	ctxThread  = "thread"
	ctxDirect  = "direct"
	ctxExpires = "expires"
	ctxSig     = "sig"
)

// sign returns the HMAC-SHA-256 of every field, each length-prefixed so no
// two different actions sign the same bytes.
func (a *Adapter) sign(c action) string {
	h := hmac.New(sha256.New, a.secret)
	for _, f := range []string{"seipbot mattermost action v1", c.Command, c.Channel, c.Thread, strconv.FormatBool(c.Direct), strconv.FormatInt(c.Expires.Unix(), 10)} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (a *Adapter) context(c action) map[string]any {
	return map[string]any{
		ctxCommand: c.Command, ctxChannel: c.Channel, ctxThread: c.Thread,
		ctxDirect: strconv.FormatBool(c.Direct), ctxExpires: strconv.FormatInt(c.Expires.Unix(), 10),
		ctxSig: a.sign(c),
	}
}

// verify reads a signed context back, and reports whether it is genuine
// and unexpired.
func (a *Adapter) verify(ctx map[string]any, now time.Time) (action, bool) {
	str := func(k string) string { s, _ := ctx[k].(string); return s }
	exp, err := strconv.ParseInt(str(ctxExpires), 10, 64)
	if err != nil {
		return action{}, false
	}
	c := action{
		Command: str(ctxCommand), Channel: str(ctxChannel), Thread: str(ctxThread),
		Direct: str(ctxDirect) == "true", Expires: time.Unix(exp, 0),
	}
	if !hmac.Equal([]byte(a.sign(c)), []byte(str(ctxSig))) || !now.Before(c.Expires) {
		return action{}, false
	}
	return c, true
}

// attachment is a message attachment: here only the buttons under a post.
type attachment struct {
	Actions []postAction `json:"actions"`
}

// postAction is a button, and the integration the server calls when it is
// clicked.
type postAction struct {
	ID          string      `json:"id"`
	Type        string      `json:"type"`
	Name        string      `json:"name"`
	Style       string      `json:"style"`
	Integration integration `json:"integration"`
}

type integration struct {
	URL     string         `json:"url"`
	Context map[string]any `json:"context"`
}

// addButtons offers Approve and Deny on a reply that holds a command for
// approval, when the server can reach the bot (ActionURL is set).
func (a *Adapter) addButtons(p *post, r bot.Response, channel string) {
	id := approvalID(r.Text)
	if id == "" || a.opts.ActionURL == "" {
		return
	}
	button := func(name, style, command string) postAction {
		c := action{Command: command, Channel: channel, Thread: r.Thread, Direct: r.Direct, Expires: time.Now().Add(actionLife)}
		// The server strips the integration (URL and context) from posts
		// before any client sees them, so the signed context stays between
		// the server and the bot.
		return postAction{
			ID: name, Type: "button", Name: name, Style: style,
			Integration: integration{URL: a.opts.ActionURL, Context: a.context(c)},
		}
	}
	// A post carrying attachments has the type that says so; the server
	// renders its buttons from the "attachments" prop.
	if p.Type == "" {
		p.Type = "slack_attachment"
	}
	p.Props = map[string]any{"attachments": []attachment{{Actions: []postAction{
		button("Approve", "success", "approve "+id),
		button("Deny", "danger", "deny "+id),
	}}}}
}

// clickRequest is what the server posts to ActionURL when a button is
// clicked.
type clickRequest struct {
	UserID    string         `json:"user_id"`
	ChannelID string         `json:"channel_id"`
	TriggerID string         `json:"trigger_id"`
	Context   map[string]any `json:"context"`
}

// clickResponse is the answer to a click: a line only the clicker sees.
type clickResponse struct {
	EphemeralText string `json:"ephemeral_text"`
}

// maxActionBody bounds a click's request body; a real one is well under
// 4 KiB.
const maxActionBody = 64 << 10

// ActionHandler is the endpoint Mattermost posts button clicks to (at
// ActionURL). A click whose context carries the bot's signature becomes a
// message from the clicking user saying the button's command, addressed to
// the bot in the channel and thread of the post, so the click passes the
// same access control and audit as the typed command. Anything else is
// refused before it reaches the bot.
//
// The server's request carries no signature of its own; the signed
// context is what proves the click came from the server, which alone knows
// it.
func (a *Adapter) ActionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var click clickRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxActionBody)).Decode(&click); err != nil {
			http.Error(w, "unreadable request", http.StatusBadRequest)
			return
		}
		c, ok := a.verify(click.Context, time.Now())
		if !ok || click.ChannelID != c.Channel || !validID(click.UserID) {
			a.log.Warn("mattermost: refused a button click without a valid signature", "remote", req.RemoteAddr, "user", click.UserID)
			http.Error(w, "invalid or expired action", http.StatusForbidden)
			return
		}
		a.mu.Lock()
		in := a.inbox
		a.mu.Unlock()
		if in == nil {
			http.Error(w, "the bot is not running", http.StatusServiceUnavailable)
			return
		}
		u, err := a.user(req.Context(), click.UserID)
		if err != nil {
			a.log.Warn("mattermost: cannot look up the user who clicked", "user", click.UserID, "err", err)
			http.Error(w, "cannot look up the user", http.StatusBadGateway)
			return
		}
		in.Receive(req.Context(), &bot.Message{
			ID:        click.TriggerID,
			Adapter:   "mattermost",
			Text:      c.Command,
			Room:      c.Channel,
			Thread:    c.Thread,
			Direct:    c.Direct,
			Mentioned: true,
			User:      bot.User{ID: "mattermost:" + u.ID, Name: u.Username},
			Time:      time.Now(),
		})
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(clickResponse{EphemeralText: fmt.Sprintf("You said %q.", c.Command)})
	})
}
