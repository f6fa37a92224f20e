package matrix

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/seipbot/seipbot/bot"
)

// sendWait bounds how long Send waits for a login, or for a rate limit to
// pass, before it hands the response back to the outbox to retry.
const sendWait = 30 * time.Second

// pendingSend is a response whose delivery failed part-way, and the
// transaction ids its parts were sent under.
type pendingSend struct {
	key string
	ids []string
}

// Send delivers r as one or more m.notice events: in r.Room, or in the
// direct chat with r.User (created when there is none). A reply in a
// thread stays in it. While the homeserver is unreachable Send fails, and
// the outbox retries it; the retry reuses the transaction ids of the
// failed attempt, so the server drops a part it already has rather than
// posting it twice.
func (a *Adapter) Send(ctx context.Context, r bot.Response) error {
	cli, err := a.client(ctx)
	if err != nil {
		return err
	}
	room, err := a.target(ctx, cli, r)
	if err != nil {
		return err
	}
	var parts []*event.MessageEventContent
	for _, text := range chunks(r.Text, maxText) {
		parts = append(parts, contents(text, r.Thread)...)
	}
	key := room.String() + "\x00" + r.Thread + "\x00" + r.Text
	ids := a.txnIDs(key, len(parts))
	for i, c := range parts {
		if err := a.sendEvent(ctx, cli, room, c, ids[i]); err != nil {
			if bot.IsPermanent(err) {
				a.doneSending(key)
			}
			return err
		}
	}
	a.doneSending(key)
	return nil
}

// contents renders text as message contents, halving it until each fits
// in an event: markup that escapes to much more HTML than text (a page of
// "<") would not fit in one.
func contents(text, thread string) []*event.MessageEventContent {
	body, formatted := render(text)
	c := &event.MessageEventContent{
		MsgType: event.MsgNotice,
		Body:    body,
		// Say whom the message mentions: nobody. A reply that quotes a
		// user's name must not ping them, nor make another bot think it
		// was addressed.
		Mentions: &event.Mentions{},
	}
	if formatted != "" {
		c.Format, c.FormattedBody = event.FormatHTML, formatted
	}
	if thread != "" {
		c.RelatesTo = &event.RelatesTo{
			Type: event.RelThread, EventID: id.EventID(thread),
			// Clients without threads show the message as a reply to the
			// thread's root.
			IsFallingBack: true, InReplyTo: &event.InReplyTo{EventID: id.EventID(thread)},
		}
	}
	if data, err := json.Marshal(c); err == nil && len(data) > maxContent && len(text) > 1 {
		half := chunks(text, (len(text)+1)/2+len("```\n\n```"))
		if len(half) > 1 {
			var out []*event.MessageEventContent
			for _, h := range half {
				out = append(out, contents(h, thread)...)
			}
			return out
		}
	}
	return []*event.MessageEventContent{c}
}

// txnIDs returns the transaction ids for a response's n parts: those of
// the last failed attempt when this is its retry, else new ones.
func (a *Adapter) txnIDs(key string, n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.retrying; p != nil && p.key == key && len(p.ids) == n {
		return p.ids
	}
	ids := make([]string, n)
	for i := range ids {
		var b [12]byte
		rand.Read(b[:])
		ids[i] = "seipbot-" + hex.EncodeToString(b[:])
	}
	a.retrying = &pendingSend{key: key, ids: ids}
	return ids
}

func (a *Adapter) doneSending(key string) {
	a.mu.Lock()
	if a.retrying != nil && a.retrying.key == key {
		a.retrying = nil
	}
	a.mu.Unlock()
}

// sendEvent sends one part, waiting out rate limits that are short enough.
func (a *Adapter) sendEvent(ctx context.Context, cli *mautrix.Client, room id.RoomID, c *event.MessageEventContent, txn string) error {
	for {
		if err := a.waitHold(ctx); err != nil {
			return err
		}
		_, err := cli.SendMessageEvent(ctx, room, event.EventMessage, c, mautrix.ReqSendEvent{TransactionID: txn})
		if d, ok := retryAfter(err); ok {
			if d > sendWait {
				// Too long to hold the outbox here: it retries later, and
				// every request waits until then.
				a.setHold(d)
				return fmt.Errorf("matrix: rate limited for %s: %w", d, err)
			}
			a.setHold(d)
			continue
		}
		return a.classify(err)
	}
}

// classify marks the errors no retry fixes as permanent, and ends the
// session when the server no longer knows the token.
func (a *Adapter) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mautrix.MUnknownToken):
		a.check(err)
		return err
	case errors.Is(err, mautrix.MForbidden), errors.Is(err, mautrix.MNotFound),
		errors.Is(err, mautrix.MBadJSON), errors.Is(err, mautrix.MTooLarge):
		return bot.Permanent(fmt.Errorf("matrix: %w", err))
	}
	return fmt.Errorf("matrix: %w", err)
}

// client returns the logged-in client, waiting a while for Run to log in.
func (a *Adapter) client(ctx context.Context) (*mautrix.Client, error) {
	t := time.NewTimer(sendWait)
	defer t.Stop()
	for {
		a.mu.Lock()
		cli, ready := a.cli, a.ready
		a.mu.Unlock()
		if cli != nil {
			return cli, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, errors.New("matrix: not logged in")
		}
	}
}

// target returns the room r goes to.
func (a *Adapter) target(ctx context.Context, cli *mautrix.Client, r bot.Response) (id.RoomID, error) {
	switch {
	case strings.HasPrefix(r.Room, "!"):
		return id.RoomID(r.Room), nil
	case strings.HasPrefix(r.Room, "#"):
		resp, err := cli.ResolveAlias(ctx, id.RoomAlias(r.Room))
		if err != nil {
			return "", a.classify(err)
		}
		return resp.RoomID, nil
	case r.Room != "":
		return "", bot.Permanent(fmt.Errorf("matrix: %q is not a room id or alias", r.Room))
	case !r.Direct:
		return "", bot.Permanent(errors.New("matrix: a response needs a room, or a user when direct"))
	}
	user := id.UserID(strings.TrimPrefix(r.User, "matrix:"))
	if _, _, err := user.Parse(); err != nil {
		return "", bot.Permanent(fmt.Errorf("matrix: %q is not a Matrix user", r.User))
	}
	a.mu.Lock()
	for room, with := range a.direct {
		if with == user {
			a.mu.Unlock()
			return room, nil
		}
	}
	a.mu.Unlock()
	resp, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{user},
	})
	if err != nil {
		return "", a.classify(err)
	}
	a.markDirect(ctx, cli, user, resp.RoomID)
	return resp.RoomID, nil
}
