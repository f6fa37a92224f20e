package slack

import (
	"container/list"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/seipbot/seipbot/bot"
)

// acceptEvent turns an Events API event into a message for the bot and
// reports whether the event is dealt with: queued, ignored or a duplicate.
// Only false, a full queue, leaves it for Slack to send again.
func (a *Adapter) acceptEvent(data any) bool {
	ev, ok := data.(slackevents.EventsAPIEvent)
	if !ok || ev.Type != slackevents.CallbackEvent {
		return true
	}
	outer, _ := ev.Data.(*slackevents.EventsAPICallbackEvent)
	var m *bot.Message
	var botID, subtype string
	switch in := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		m = a.message(in.Channel, in.User, in.UserTeam, in.Text, in.TimeStamp, in.ThreadTimeStamp, false)
		botID = in.BotID
	case *slackevents.MessageEvent:
		m = a.message(in.Channel, in.User, in.UserTeam, in.Text, in.TimeStamp, in.ThreadTimeStamp, in.ChannelType == slackevents.ChannelTypeIM)
		botID, subtype = in.BotID, in.SubType
	default:
		return true
	}
	switch subtype {
	case "", "thread_broadcast", "file_share":
	default:
		// Edits, deletions, joins and bot_message are not someone
		// speaking to the bot.
		return true
	}
	a.mu.Lock()
	self := a.self
	a.mu.Unlock()
	if botID != "" || m.User.ID == "" || m.User.Name == self.user {
		return true // the bot itself, or another bot: no reply loops
	}
	// Slack sends a retry with the same event_id; and a mention in a
	// channel arrives twice, as app_mention and as message, with
	// different event ids but the same channel and ts.
	var keys []string
	if outer != nil && outer.EventID != "" {
		keys = append(keys, "event:"+outer.EventID)
	}
	keys = append(keys, "msg:"+m.Room+":"+m.ID)
	return a.deliver(m, keys...)
}

// deliver queues m unless any of keys was seen, and then remembers them.
func (a *Adapter) deliver(m *bot.Message, keys ...string) bool {
	if a.seen.any(keys...) {
		return true
	}
	if !a.enqueue(m) {
		return false
	}
	a.seen.add(keys...)
	return true
}

// message builds the bot's message for something said in channel.
func (a *Adapter) message(channel, user, team, text, ts, threadTS string, direct bool) *bot.Message {
	a.mu.Lock()
	self := a.self
	a.mu.Unlock()
	mention := "<@" + self.user + ">"
	mentioned := self.user != "" && strings.Contains(text, mention)
	if mentioned {
		// The router reads the mention from Mentioned; left in Text it
		// would be taken for the first word of a command.
		text = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), mention))
	}
	return &bot.Message{
		ID:        ts,
		Adapter:   "slack",
		Text:      plain(text),
		Room:      channel,
		User:      bot.User{ID: a.userID(team, user), Name: user},
		Direct:    direct,
		Thread:    threadTS,
		Time:      tsTime(ts),
		Mentioned: mentioned,
	}
}

// userID is the identity access rules name: "slack:U…" at home,
// "slack:T…:U…" for a member of another workspace.
func (a *Adapter) userID(team, user string) string {
	if user == "" {
		return ""
	}
	a.mu.Lock()
	home := a.self.team
	a.mu.Unlock()
	if team == "" || team == home {
		return "slack:" + user
	}
	return "slack:" + team + ":" + user
}

// plain undoes Slack's formatting of what a user typed: a link becomes
// the text the user wrote (or its URL), and &amp;, &lt;, &gt; their
// characters. Mentions of people and channels stay in Slack's form, since
// their ids are what a command would want.
func plain(s string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(s[open:], '>')
		if end < 0 {
			break
		}
		b.WriteString(unescape(s[:open]))
		inner := s[open+1 : open+end]
		switch {
		case strings.HasPrefix(inner, "@"), strings.HasPrefix(inner, "#"), strings.HasPrefix(inner, "!"):
			b.WriteString("<" + inner + ">")
		default:
			url, label, found := strings.Cut(inner, "|")
			if found && label != "" {
				url = label
			}
			b.WriteString(unescape(url))
		}
		s = s[open+end+1:]
	}
	b.WriteString(unescape(s))
	return b.String()
}

var unescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

func unescape(s string) string { return unescaper.Replace(s) }

// tsTime reads a Slack timestamp, "1712345678.000200".
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(s, us*1000).UTC()
}

// buttonPrefix starts the action_id of every button the adapter draws, so
// a click on anything else is not taken for a command.
const buttonPrefix = "seipbot-"

// acceptAction turns a click on one of the bot's buttons into a message
// from the clicker saying the button's value. Even a forged value could do
// no more than the clicker could type, since it passes the same checks.
func (a *Adapter) acceptAction(cb slack.InteractionCallback) bool {
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID == "" {
		return true
	}
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	team := cb.User.TeamID
	if team == "" {
		team = cb.Team.ID
	}
	for _, act := range cb.ActionCallback.BlockActions {
		if !strings.HasPrefix(act.ActionID, buttonPrefix) || act.Value == "" {
			continue
		}
		m := &bot.Message{
			ID:      act.ActionTs,
			Adapter: "slack",
			Text:    act.Value,
			Room:    channel,
			User:    bot.User{ID: a.userID(team, cb.User.ID), Name: cb.User.ID},
			// Slack's direct conversation ids start with D.
			Direct:    strings.HasPrefix(channel, "D"),
			Thread:    cb.Container.ThreadTs,
			Time:      tsTime(act.ActionTs),
			Mentioned: true, // a click is always meant for the bot
		}
		if !a.deliver(m, "action:"+cb.TriggerID+":"+act.ActionID+":"+act.ActionTs) {
			return false
		}
	}
	return true
}

// seenSet remembers keys for ttl, at most size of them, the oldest
// forgotten first: enough to catch Slack's retries, which come within
// minutes, without growing forever.
type seenSet struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // of seenEntry, oldest first
	keys  map[string]*list.Element
}

type seenEntry struct {
	key string
	at  time.Time
}

func newSeenSet(size int, ttl time.Duration, now func() time.Time) *seenSet {
	return &seenSet{size: size, ttl: ttl, now: now, order: list.New(), keys: map[string]*list.Element{}}
}

// any reports whether one of keys is remembered.
func (s *seenSet) any(keys ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	for _, k := range keys {
		if _, ok := s.keys[k]; ok {
			return true
		}
	}
	return false
}

func (s *seenSet) add(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if _, ok := s.keys[k]; ok {
			continue
		}
		s.keys[k] = s.order.PushBack(seenEntry{key: k, at: s.now()})
		if s.order.Len() > s.size {
			s.removeLocked(s.order.Front())
		}
	}
}

func (s *seenSet) expireLocked() {
	cutoff := s.now().Add(-s.ttl)
	for e := s.order.Front(); e != nil && e.Value.(seenEntry).at.Before(cutoff); e = s.order.Front() {
		s.removeLocked(e)
	}
}

func (s *seenSet) removeLocked(e *list.Element) {
	delete(s.keys, e.Value.(seenEntry).key)
	s.order.Remove(e)
}
