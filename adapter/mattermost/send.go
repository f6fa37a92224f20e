package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/seipbot/seipbot/bot"
)

// Send posts r. Markdown is Mattermost's own markup, so the text goes as
// it is. A reply longer than one post is split, and one longer than
// MaxParts posts is uploaded as a file. Send returns once the server has
// stored every post, so a reply cut off by a dropped connection is retried;
// the parts already stored are not posted again.
func (a *Adapter) Send(ctx context.Context, r bot.Response) error {
	_, err := a.Post(ctx, r)
	return err
}

var (
	_ bot.Poster = (*Adapter)(nil)
	_ bot.Editor = (*Adapter)(nil)
)

// Post sends r as Send does and returns the id of the last post, or "" for
// a reply uploaded as a file, which is not edited.
func (a *Adapter) Post(ctx context.Context, r bot.Response) (string, error) {
	if strings.TrimSpace(r.Text) == "" {
		return "", nil
	}
	channel, err := a.destination(ctx, r)
	if err != nil {
		return "", err
	}
	parts := split(r.Text, MaxPost)
	if len(parts) > a.opts.MaxParts {
		return "", a.upload(ctx, channel, r)
	}
	key := channel + "\x00" + r.Thread + "\x00" + r.Text
	a.mu.Lock()
	done := a.progress[key]
	a.mu.Unlock()
	var id string
	for i := done; i < len(parts); i++ {
		p := &post{ChannelID: channel, RootID: r.Thread, Message: parts[i]}
		if i == len(parts)-1 {
			a.addButtons(p, r, channel)
		}
		created, err := a.api.createPost(ctx, p)
		if err != nil {
			err = classify("post", err)
			a.mu.Lock()
			if i > 0 && !bot.IsPermanent(err) {
				a.progress[key] = i
			} else {
				delete(a.progress, key)
			}
			a.mu.Unlock()
			return "", err
		}
		id = created.ID
	}
	a.mu.Lock()
	delete(a.progress, key)
	a.mu.Unlock()
	return id, nil
}

// destination returns the id of the channel r goes to, signing in first
// if need be.
func (a *Adapter) destination(ctx context.Context, r bot.Response) (string, error) {
	me, err := a.self(ctx)
	if bot.IsFatal(err) {
		return "", bot.Permanent(err)
	}
	if err != nil {
		return "", err
	}
	return a.channel(ctx, me, r)
}

// Edit makes the post ref say r, by patching its message. A reply longer
// than one post, or an empty one, is refused as a permanent error so the
// outbox posts it instead.
func (a *Adapter) Edit(ctx context.Context, ref string, r bot.Response) error {
	if strings.TrimSpace(r.Text) == "" || len(split(r.Text, MaxPost)) != 1 {
		return bot.Permanent(errors.New("mattermost: the reply does not fit one post, so it is not an edit"))
	}
	if !validID(ref) {
		return bot.Permanent(fmt.Errorf("mattermost: %q is not a post id", ref))
	}
	channel, err := a.destination(ctx, r)
	if err != nil {
		return err
	}
	p := &post{Message: r.Text}
	a.addButtons(p, r, channel)
	// Only a reply with buttons sets the props: patching them replaces all
	// of a post's props, including those the server keeps.
	patch := &postPatch{Message: p.Message, Props: p.Props}
	if err := a.api.patchPost(ctx, ref, patch); err != nil {
		return classify("edit post", err)
	}
	return nil
}

// upload posts r's text as a file, with its first line as the message so
// the channel shows what it is.
func (a *Adapter) upload(ctx context.Context, channel string, r bot.Response) error {
	file, err := a.api.uploadFile(ctx, channel, "reply.txt", []byte(r.Text))
	if err != nil {
		return classify("upload", err)
	}
	head, _, _ := strings.Cut(r.Text, "\n")
	if len(head) > 200 {
		head = head[:lastBreak(head, 200)] + "…"
	}
	msg := fmt.Sprintf("%s\n\n_The full reply (%d lines) is attached._", head, strings.Count(r.Text, "\n")+1)
	p := &post{ChannelID: channel, RootID: r.Thread, Message: msg, FileIDs: []string{file}}
	a.addButtons(p, r, channel)
	if _, err := a.api.createPost(ctx, p); err != nil {
		return classify("post", err)
	}
	return nil
}

// channel returns the id of the channel r goes to: Room as a channel id or
// "team/channel" name, or, for a direct message with no Room, the direct
// channel with the user.
func (a *Adapter) channel(ctx context.Context, me *user, r bot.Response) (string, error) {
	var key string
	switch {
	case r.Room != "" && validID(r.Room):
		return r.Room, nil
	case r.Room != "":
		team, name, ok := strings.Cut(r.Room, "/")
		if !ok || team == "" || name == "" {
			return "", bot.Permanent(fmt.Errorf("mattermost: room %q is neither a channel id nor team/channel", r.Room))
		}
		key = r.Room
	case r.Direct:
		id, ok := strings.CutPrefix(r.User, "mattermost:")
		if !ok || !validID(id) {
			return "", bot.Permanent(fmt.Errorf("mattermost: %q is not a Mattermost user", r.User))
		}
		key = "@" + id
	default:
		return "", bot.Permanent(errors.New("mattermost: the response names no room or user"))
	}
	a.mu.Lock()
	id := a.channels[key]
	a.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var c *channel
	var err error
	if other, ok := strings.CutPrefix(key, "@"); ok {
		c, err = a.api.directChannel(ctx, me.ID, other)
	} else {
		team, name, _ := strings.Cut(key, "/")
		c, err = a.api.channelByName(ctx, team, name)
	}
	if err != nil {
		return "", classify("find channel "+key, err)
	}
	a.mu.Lock()
	a.channels[key] = c.ID
	a.mu.Unlock()
	return c.ID, nil
}

// classify wraps a failed request's error, marking as permanent what the
// server refused for good (a missing channel, no permission) and leaving
// retryable what may pass later (no connection, overload, rate limits). A
// rate limit's Retry-After is passed on, so the outbox waits that long.
func classify(what string, err error) error {
	wrapped := fmt.Errorf("mattermost: %s: %w", what, err)
	ae, ok := errors.AsType[*apiError](err)
	if !ok {
		return wrapped
	}
	switch s := ae.Status; {
	case s == http.StatusTooManyRequests && ae.RetryAfter > 0:
		return bot.RetryAfter(wrapped, ae.RetryAfter)
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return wrapped
	case s >= 400:
		return bot.Permanent(wrapped)
	}
	return wrapped
}
