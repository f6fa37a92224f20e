package matrix

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/seipbot/seipbot/bot"
)

// handle takes in one sync response: the direct-chat list, invites, and,
// unless skipHistory, the rooms' new messages.
func (a *Adapter) handle(ctx context.Context, cli *mautrix.Client, in bot.Inbox, resp *mautrix.RespSync, skipHistory bool) {
	for _, evt := range resp.AccountData.Events {
		if evt.Type == event.AccountDataDirectChats {
			a.setDirect(evt.Content.VeryRaw)
		}
	}
	for room, inv := range resp.Rooms.Invite {
		a.invited(ctx, cli, room, inv)
	}
	for room := range resp.Rooms.Leave {
		a.forget(room)
		if a.isConfigured(room) {
			// Kicked, or the room was left by hand: the bot belongs there.
			_, err := cli.JoinRoomByID(ctx, room)
			a.log.Warn("matrix: removed from a configured room; rejoining", "room", room, "err", err)
		}
	}
	for room, joined := range resp.Rooms.Join {
		events := joined.Timeline.Events
		if start := a.joinedAt(cli.UserID, events); start >= 0 {
			// The bot has just joined: what came before is the room's
			// history, shown to catch up, not said to the bot.
			events = events[start+1:]
		} else if joined.Timeline.Limited && !skipHistory {
			a.log.Warn("matrix: missed messages while disconnected; only the latest are answered", "room", room, "kept", len(events))
		}
		for _, evt := range joined.State.Events {
			if evt.Type == event.StateMember {
				a.forget(room)
			}
		}
		for _, evt := range events {
			if evt.Type == event.StateMember {
				a.forget(room)
				continue
			}
			if skipHistory || evt.Type != event.EventMessage {
				continue
			}
			if m := a.message(ctx, cli, room, evt); m != nil {
				in.Receive(ctx, m)
			}
		}
	}
}

// joinedAt returns the index of the bot's own join in events, or -1 when
// the bot joined before them. A join that follows a join is a profile
// change, not an arrival.
func (a *Adapter) joinedAt(me id.UserID, events []*event.Event) int {
	at := -1
	for i, evt := range events {
		if evt.Type != event.StateMember || evt.GetStateKey() != me.String() {
			continue
		}
		var now, before event.MemberEventContent
		json.Unmarshal(evt.Content.VeryRaw, &now)
		if evt.Unsigned.PrevContent != nil {
			json.Unmarshal(evt.Unsigned.PrevContent.VeryRaw, &before)
		}
		if now.Membership == event.MembershipJoin && before.Membership != event.MembershipJoin {
			at = i
		}
	}
	return at
}

// message turns a room message into a bot.Message, or nil for what the
// bot must not answer: its own events, other bots' notices, edits, and
// anything but text.
func (a *Adapter) message(ctx context.Context, cli *mautrix.Client, room id.RoomID, evt *event.Event) *bot.Message {
	if evt.Sender == cli.UserID {
		return nil
	}
	var c event.MessageEventContent
	if err := json.Unmarshal(evt.Content.VeryRaw, &c); err != nil || c.MsgType != event.MsgText {
		return nil
	}
	rel := c.RelatesTo
	if rel != nil && rel.Type == event.RelReplace {
		return nil // an edit: the command was answered as first written
	}
	text := c.Body
	if rel.GetReplyTo() != "" {
		// Clients quote the message replied to at the top of the body.
		text = event.TrimReplyFallbackText(text)
	}
	m := &bot.Message{
		ID:      evt.ID.String(),
		Adapter: "matrix",
		Text:    text,
		Room:    room.String(),
		User:    bot.User{ID: "matrix:" + evt.Sender.String(), Name: evt.Sender.String()},
		Time:    time.UnixMilli(evt.Timestamp),
	}
	if rel != nil && rel.Type == event.RelThread {
		m.Thread = rel.EventID.String()
	}
	// m.mentions is the sender's client saying whom the message is for,
	// whatever the text calls the bot.
	if c.Mentions != nil && slices.Contains(c.Mentions.UserIDs, cli.UserID) {
		m.Mentioned = true
	}
	// The router knows the bot by its configured name; clients complete a
	// mention with the display name or MXID, which it would not see.
	a.mu.Lock()
	names := a.names
	a.mu.Unlock()
	for _, n := range names {
		if rest, ok := cutAddress(m.Text, n); ok {
			m.Text, m.Mentioned = rest, true
			break
		}
	}
	m.Direct = a.isDirect(ctx, cli, room)
	return m
}

// cutAddress removes a leading "name:", "name," or "@name " from text.
func cutAddress(text, name string) (string, bool) {
	t := strings.TrimPrefix(text, "@")
	if name == "" || len(t) <= len(name) || !strings.EqualFold(t[:len(name)], name) {
		return "", false
	}
	c := t[len(name)]
	if c != ':' && c != ',' && (c != ' ' || t == text) {
		return "", false
	}
	return strings.TrimSpace(t[len(name)+1:]), true
}

// isDirect reports whether room is a one-to-one chat: marked direct in
// the bot's m.direct, or holding just the sender and the bot. A configured
// room is never direct, however few are in it.
func (a *Adapter) isDirect(ctx context.Context, cli *mautrix.Client, room id.RoomID) bool {
	a.mu.Lock()
	_, marked := a.direct[room]
	n, counted := a.members[room]
	configured := a.configured[room]
	a.mu.Unlock()
	switch {
	case configured:
		return false
	case marked:
		return true
	case counted:
		return n == 2
	}
	resp, err := cli.JoinedMembers(ctx, room)
	if err != nil {
		a.log.Warn("matrix: cannot count room members; taking the room for a group", "room", room, "err", err)
		return false
	}
	a.mu.Lock()
	a.members[room] = len(resp.Joined)
	a.mu.Unlock()
	return len(resp.Joined) == 2
}

func (a *Adapter) isConfigured(room id.RoomID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.configured[room]
}

// forget drops a room's member count after its membership changed.
func (a *Adapter) forget(room id.RoomID) {
	a.mu.Lock()
	delete(a.members, room)
	a.mu.Unlock()
}

// setDirect replaces the direct-chat list from m.direct account data.
func (a *Adapter) setDirect(raw json.RawMessage) {
	var dc event.DirectChatsEventContent
	if err := json.Unmarshal(raw, &dc); err != nil {
		a.log.Warn("matrix: unreadable m.direct account data", "err", err)
		return
	}
	direct := map[id.RoomID]id.UserID{}
	for user, rooms := range dc {
		for _, r := range rooms {
			direct[r] = user
		}
	}
	a.mu.Lock()
	a.direct = direct
	a.mu.Unlock()
}

// invited accepts an invite from an allowed user or to a configured room,
// and declines the rest, so the bot is only where it was meant to be.
func (a *Adapter) invited(ctx context.Context, cli *mautrix.Client, room id.RoomID, inv *mautrix.SyncInvitedRoom) {
	var from id.UserID
	var isDirect bool
	for _, evt := range inv.State.Events {
		if evt.Type == event.StateMember && evt.GetStateKey() == cli.UserID.String() {
			var c event.MemberEventContent
			json.Unmarshal(evt.Content.VeryRaw, &c)
			if c.Membership == event.MembershipInvite {
				from, isDirect = evt.Sender, c.IsDirect
			}
		}
	}
	if from == "" {
		return
	}
	if !a.isConfigured(room) && !a.mayInvite(from) {
		a.log.Info("matrix: declining an invite", "room", room, "from", from)
		if _, err := cli.LeaveRoom(ctx, room); err != nil {
			a.log.Warn("matrix: cannot decline the invite", "room", room, "err", err)
		}
		return
	}
	if _, err := cli.JoinRoomByID(ctx, room); err != nil {
		a.log.Warn("matrix: cannot accept the invite", "room", room, "from", from, "err", err)
		return
	}
	a.log.Info("matrix: accepted an invite", "room", room, "from", from, "direct", isDirect)
	if isDirect {
		a.markDirect(ctx, cli, from, room)
	}
}

// mayInvite reports whether InviteFrom lets user invite the bot.
func (a *Adapter) mayInvite(user id.UserID) bool {
	_, server, err := user.Parse()
	if err != nil {
		return false
	}
	for _, allowed := range a.opts.InviteFrom {
		if allowed == user.String() || allowed == "*:"+server {
			return true
		}
	}
	return false
}

// markDirect adds room to the bot's m.direct as its chat with user, so it
// stays direct when more people join, and the bot finds it again to
// message user.
func (a *Adapter) markDirect(ctx context.Context, cli *mautrix.Client, user id.UserID, room id.RoomID) {
	a.mu.Lock()
	a.direct[room] = user
	dc := event.DirectChatsEventContent{}
	for r, u := range a.direct {
		dc[u] = append(dc[u], r)
	}
	a.mu.Unlock()
	if err := cli.SetAccountData(ctx, event.AccountDataDirectChats.Type, dc); err != nil {
		a.log.Warn("matrix: cannot record the direct chat", "room", room, "with", user, "err", err)
	}
}
