package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/seipbot/seipbot/bot"
)

var (
	_ bot.Poster = (*Adapter)(nil)
	_ bot.Editor = (*Adapter)(nil)
)

// Send posts r, split into several messages or uploaded as a file when it
// is long. A reply split into parts is resumed where it failed, so the
// outbox's retry posts no part twice.
func (a *Adapter) Send(ctx context.Context, r bot.Response) error {
	_, err := a.Post(ctx, r)
	return err
}

// Post sends r as Send does and returns the last message's reference,
// "channel:ts" (chat.update needs both), or "" for a reply uploaded as a
// file, which is not edited.
func (a *Adapter) Post(ctx context.Context, r bot.Response) (string, error) {
	channel, err := a.conversation(ctx, r)
	if err != nil {
		return "", err
	}
	text := render(r.Text)
	if strings.TrimSpace(text) == "" && len(r.Buttons) == 0 {
		return "", nil // Slack refuses an empty message; there is nothing to say
	}
	if len(text) > a.opts.UploadAbove {
		return "", a.upload(ctx, channel, r, text)
	}
	parts := split(text, a.opts.MaxLen)
	key := channel + "\x00" + r.Thread + "\x00" + r.Text
	a.mu.Lock()
	done := a.sent[key]
	a.mu.Unlock()
	var ts string
	for i := done; i < len(parts); i++ {
		opts := message(parts[i], i == len(parts)-1, r)
		if r.Thread != "" {
			opts = append(opts, slack.MsgOptionTS(r.Thread))
		}
		err := a.pace(ctx, channel)
		if err == nil {
			_, ts, err = a.api.PostMessageContext(ctx, channel, opts...)
		}
		if err != nil {
			err = classify("chat.postMessage", err)
			a.mu.Lock()
			if i > 0 && !bot.IsPermanent(err) {
				a.sent[key] = i
			} else {
				delete(a.sent, key)
			}
			a.mu.Unlock()
			return "", err
		}
	}
	a.mu.Lock()
	delete(a.sent, key)
	a.mu.Unlock()
	return channel + ":" + ts, nil
}

// message is the text and blocks of one part of r; the last part carries
// r's buttons.
func message(part string, last bool, r bot.Response) []slack.MsgOption {
	blocks := []slack.Block{section(part)}
	if last && len(r.Buttons) > 0 {
		blocks = append(blocks, buttons(r.Buttons))
	}
	return []slack.MsgOption{slack.MsgOptionText(part, false), slack.MsgOptionBlocks(blocks...)}
}

// errNoEdit is why Edit refuses a response that one message cannot hold;
// the outbox then posts it as a new one.
var errNoEdit = errors.New("slack: the reply does not fit one message, so it is not an edit")

// Edit makes the message ref say r, through chat.update. A reply that
// would be split or uploaded, or is empty, is refused as a permanent
// error so the outbox posts it instead.
func (a *Adapter) Edit(ctx context.Context, ref string, r bot.Response) error {
	channel, ts, ok := strings.Cut(ref, ":")
	if !ok || channel == "" || ts == "" {
		return bot.Permanent(fmt.Errorf("slack: %q is not a message reference", ref))
	}
	text := render(r.Text)
	if len(text) > min(a.opts.MaxLen, a.opts.UploadAbove) || strings.TrimSpace(text) == "" && len(r.Buttons) == 0 {
		return bot.Permanent(errNoEdit)
	}
	if err := a.pace(ctx, channel); err != nil {
		return err
	}
	_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts, message(text, true, r)...)
	return classify("chat.update", err)
}

// section is one Block Kit section of mrkdwn. An empty text, which Slack
// refuses in a section, happens only for a reply that is all buttons.
func section(text string) slack.Block {
	if text == "" {
		text = " "
	}
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

// Limits of Block Kit's actions block and buttons.
const (
	maxButtons     = 25
	maxButtonLabel = 75
)

func buttons(bs []bot.Button) slack.Block {
	var elems []slack.BlockElement
	for i, b := range bs[:min(len(bs), maxButtons)] {
		label := b.Label
		if utf8.RuneCountInString(label) > maxButtonLabel {
			label = string([]rune(label)[:maxButtonLabel-1]) + "…"
		}
		elems = append(elems, slack.NewButtonBlockElement(buttonPrefix+strconv.Itoa(i), b.Value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false)))
	}
	return slack.NewActionBlock("seipbot-buttons", elems...)
}

// upload shares r as a text file in channel, with its first line as the
// message, since as messages it would flood the channel.
func (a *Adapter) upload(ctx context.Context, channel string, r bot.Response, rendered string) error {
	summary, _, _ := strings.Cut(rendered, "\n")
	if len(summary) > 300 {
		summary = summary[:cut(summary, 300)] + "…"
	}
	blocks := []slack.Block{section(summary)}
	if len(r.Buttons) > 0 {
		blocks = append(blocks, buttons(r.Buttons))
	}
	if err := a.pace(ctx, channel); err != nil {
		return err
	}
	_, err := a.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Content:         r.Text,
		FileSize:        len(r.Text),
		Filename:        "reply.txt",
		Title:           "Reply",
		Channel:         channel,
		ThreadTimestamp: r.Thread,
		Blocks:          slack.Blocks{BlockSet: blocks},
	})
	return classify("file upload", err)
}

// conversation returns the channel r goes to, opening a direct
// conversation when r is for a user the bot has not talked to there.
func (a *Adapter) conversation(ctx context.Context, r bot.Response) (string, error) {
	if !r.Direct {
		if r.Room == "" {
			return "", bot.Permanent(errors.New("slack: a response names no channel"))
		}
		return r.Room, nil
	}
	if strings.HasPrefix(r.Room, "D") {
		return r.Room, nil // the direct conversation it answers
	}
	rest, ok := strings.CutPrefix(r.User, "slack:")
	if !ok || rest == "" {
		return "", bot.Permanent(fmt.Errorf("slack: %q is not a Slack identity", r.User))
	}
	user := rest[strings.LastIndexByte(rest, ':')+1:]
	a.mu.Lock()
	ch, ok := a.dms[user]
	a.mu.Unlock()
	if ok {
		return ch, nil
	}
	c, _, _, err := a.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return "", classify("conversations.open", err)
	}
	a.mu.Lock()
	a.dms[user] = c.ID
	a.mu.Unlock()
	return c.ID, nil
}

// pace waits for channel's next slot: a burst of postBurst posts, then one
// every PostInterval (a generic cell rate algorithm, as access paces
// commands).
func (a *Adapter) pace(ctx context.Context, channel string) error {
	interval := a.opts.PostInterval
	if interval < 0 {
		return nil
	}
	a.mu.Lock()
	now := a.opts.Now()
	if len(a.due) > 1000 {
		for ch, t := range a.due {
			if t.Before(now) {
				delete(a.due, ch)
			}
		}
	}
	due := a.due[channel]
	if due.Before(now) {
		due = now
	}
	wait := due.Sub(now) - (postBurst-1)*interval
	a.due[channel] = due.Add(interval)
	a.mu.Unlock()
	if wait > 0 && !bot.Sleep(ctx, wait) {
		return ctx.Err()
	}
	return nil
}

// transient are Slack's error codes that a later attempt may not get.
var transient = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true,
	"request_timeout": true, "ratelimited": true, "team_added_to_org": true,
}

// classify tells the outbox how to retry a failed call: after the
// Retry-After of a 429, with its own backoff for an outage, or never for
// what Slack refuses (an unknown channel, a revoked token).
func classify(method string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("slack: %s: %w", method, err)
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return bot.RetryAfter(err, rl.RetryAfter)
	}
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok && !transient[se.Err] {
		return bot.Permanent(err)
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok && sc.Code < 500 && sc.Code != http.StatusTooManyRequests && sc.Code != http.StatusRequestTimeout {
		return bot.Permanent(err)
	}
	return err
}
