// Package mattermost is the adapter for Mattermost servers. The bot logs in
// as a bot account with a personal access token, hears new posts over the
// websocket, and speaks through the REST API.
//
// Identity: a user is "mattermost:<user id>". The id never changes, while
// usernames can be renamed by their owner or an admin, so roles are granted
// to ids ("mattermost users" or the System Console shows them).
//
// Nothing is lost to a dropped connection: after every reconnect the
// adapter asks each of its channels for the posts made since the last one
// it saw there, and delivers those it missed, in order, before going on
// with the websocket. What is said while the bot is not running at all is
// not replayed, since a command typed into a dead bot's channel was likely
// answered or retyped by then.
//
// Setting up, as a system admin: turn on bot accounts and personal access
// tokens (System Console › Integrations › Bot Accounts, and Integration
// Management › Enable Personal Access Tokens); create the bot (Integrations
// › Bot Accounts › Add, or POST /api/v4/bots) and a token for it; add the
// bot to the teams and channels it should serve. For Approve and Deny
// buttons, the server must reach the bot's action URL: when that address is
// private, list its host in Developer › Allow untrusted internal
// connections (AllowedUntrustedInternalConnections).
package mattermost

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Options configure the Mattermost adapter.
type Options struct {
	// URL is the server's address, such as https://chat.example.com.
	URL string
	// Token is the bot account's personal access token.
	Token string

	// ActionURL is where the server sends button clicks: the address at
	// which it reaches ActionHandler. Empty offers no buttons; the text of
	// a reply still says what to type. Mattermost refuses to call private
	// addresses unless its AllowedUntrustedInternalConnections lists them.
	ActionURL string
	// ActionListen, when set, is a host:port on which Run serves
	// ActionHandler itself, for deployments with no other HTTP server.
	ActionListen string
	// ActionSecret keys the signature on each button's context. Empty
	// means a random key, so buttons posted before a restart stop working
	// (people can still type the command).
	ActionSecret []byte

	// MaxParts is how many posts a long reply may be split into; a longer
	// one is uploaded as a file. Default 8.
	MaxParts int

	// BackoffMin and BackoffMax bound the wait between reconnects.
	// Defaults: 1s and 2m.
	BackoffMin, BackoffMax time.Duration

	Logger *slog.Logger
}

// Adapter is the Mattermost adapter.
type Adapter struct {
	opts   Options
	log    *slog.Logger
	api    *client
	wsURL  string
	secret []byte

	mu       sync.Mutex
	me       *user
	inbox    bot.Inbox           // set while Run runs, for button clicks
	users    map[string]*user    // by id
	channels map[string]string   // "team/channel" names and direct-message user ids to channel ids
	progress map[string]int      // parts of a split reply already posted, by reply
	seen     map[string]int64    // per channel, the creation time (ms) of the newest post seen
	recent   map[string]struct{} // ids of posts delivered lately, so a catch-up repeats none
	order    []string            // recent, oldest first, to forget the oldest
	first    bool                // no session has caught up yet
}

var _ bot.Adapter = (*Adapter)(nil)

// ErrConfig reports options that cannot work.
var ErrConfig = errors.New("mattermost: invalid options")

// New returns an adapter. It does no I/O.
func New(opts Options) (*Adapter, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q is not an http(s) address", ErrConfig, opts.URL)
	}
	if opts.Token == "" {
		return nil, fmt.Errorf("%w: Token is required", ErrConfig)
	}
	if opts.ActionListen != "" && opts.ActionURL == "" {
		return nil, fmt.Errorf("%w: ActionListen needs ActionURL, the address the server reaches it at", ErrConfig)
	}
	if opts.MaxParts <= 0 {
		opts.MaxParts = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	secret := opts.ActionSecret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		crand.Read(secret)
	}
	base := strings.TrimSuffix(u.String(), "/")
	// A hung request would hold the outbox; it retries instead.
	api := &client{api: base + "/api/v4", token: opts.Token, http: &http.Client{Timeout: time.Minute}}
	ws := "ws" + strings.TrimPrefix(base, "http") + "/api/v4/websocket"
	return &Adapter{
		opts: opts, log: opts.Logger, api: api, wsURL: ws, secret: secret,
		users: map[string]*user{}, channels: map[string]string{}, progress: map[string]int{},
		seen: map[string]int64{}, recent: map[string]struct{}{},
		first: true,
	}, nil
}

// Name returns "mattermost".
func (a *Adapter) Name() string { return "mattermost" }

// Run connects, and reconnects with backoff whenever the websocket ends,
// until ctx is cancelled. It returns an error only when the server refuses
// the token, or ActionListen cannot be listened on.
func (a *Adapter) Run(ctx context.Context, in bot.Inbox) error {
	a.mu.Lock()
	a.inbox = in
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inbox = nil
		a.mu.Unlock()
	}()
	if a.opts.ActionListen != "" {
		stop, err := a.serveActions(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	return bot.Redial(ctx, bot.Backoff{Min: a.opts.BackoffMin, Max: a.opts.BackoffMax},
		func(ctx context.Context) (bool, error) { return a.session(ctx, in) },
		func(err error, wait time.Duration) {
			a.log.Warn("mattermost: disconnected; reconnecting", "url", a.opts.URL, "err", err, "retry_in", wait)
		})
}

// serveActions serves ActionHandler on ActionListen until the returned
// function is called.
func (a *Adapter) serveActions(ctx context.Context) (func(), error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", a.opts.ActionListen)
	if err != nil {
		return nil, fmt.Errorf("mattermost: action listener: %w", err)
	}
	srv := &http.Server{Handler: a.ActionHandler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// helloWait bounds the wait for the server to accept the websocket's token.
const helloWait = 30 * time.Second

// session runs one websocket connection: it connects, catches up on what
// was missed, then delivers posts until the connection ends. live reports
// whether it got as far as delivering.
func (a *Adapter) session(ctx context.Context, in bot.Inbox) (live bool, err error) {
	me, err := a.self(ctx)
	if err != nil {
		return false, err
	}
	ws, err := dial(ctx, a.wsURL, a.opts.Token)
	if err != nil {
		return false, fmt.Errorf("mattermost: opening the event stream: %w", err)
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, ws.Close)
	defer stop()

	hello := time.NewTimer(helloWait)
	defer hello.Stop()
	for ready := false; !ready; {
		select {
		case ev, ok := <-ws.events:
			if !ok {
				return false, wsError(ws)
			}
			if ev.Event == "" && ev.SeqReply == authSeq && ev.Status != "OK" {
				why := ev.Status
				if ev.Error != nil {
					why = ev.Error.Message
				}
				return false, fmt.Errorf("mattermost: the server refused the websocket: %s", why)
			}
			ready = ev.Event == "hello"
		case <-hello.C:
			return false, errors.New("mattermost: the server did not accept the websocket")
		}
	}
	// Posts made from here on arrive on the websocket as well as in the
	// catch-up; recent keeps either from delivering one twice.
	if err := a.catchUp(ctx, in, me); err != nil {
		return false, fmt.Errorf("mattermost: catching up: %w", err)
	}
	a.log.Info("mattermost: connected", "url", a.opts.URL, "user", me.Username)
	for {
		select {
		case ev, ok := <-ws.events:
			if !ok {
				return true, wsError(ws)
			}
			if ev.Event == "posted" {
				a.posted(ctx, in, me, ev)
			}
		case <-ctx.Done():
			return true, nil
		}
	}
}

// wsError says why ws's events ended.
func wsError(ws *stream) error {
	if ws.err != nil {
		return fmt.Errorf("mattermost: reading events: %w", ws.err)
	}
	return errors.New("mattermost: the websocket closed")
}

// self returns the bot's account, fetched once.
func (a *Adapter) self(ctx context.Context) (*user, error) {
	a.mu.Lock()
	me := a.me
	a.mu.Unlock()
	if me != nil {
		return me, nil
	}
	me, err := a.api.user(ctx, "me")
	if err != nil {
		if ae, ok := errors.AsType[*apiError](err); ok && ae.Status == http.StatusUnauthorized {
			return nil, bot.Fatal(errors.New("mattermost: the server refused the token; check that it is the bot's current access token"))
		}
		return nil, fmt.Errorf("mattermost: who am I: %w", err)
	}
	if !me.IsBot {
		a.log.Warn("mattermost: the token belongs to a user account, not a bot account; other bots will not know to ignore it", "user", me.Username)
	}
	a.mu.Lock()
	a.me = me
	a.mu.Unlock()
	return me, nil
}

// posted handles a websocket "posted" event.
func (a *Adapter) posted(ctx context.Context, in bot.Inbox, me *user, ev event) {
	var d postedData
	var p post
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		a.log.Warn("mattermost: unreadable post event", "err", err)
		return
	}
	if err := json.Unmarshal([]byte(d.Post), &p); err != nil {
		a.log.Warn("mattermost: unreadable post event", "err", err)
		return
	}
	a.deliver(ctx, in, me, &p, d.ChannelType)
}

// catchUp delivers, channel by channel, the posts made since the newest
// one seen there. On the first connection it only notes where each channel
// stands.
func (a *Adapter) catchUp(ctx context.Context, in bot.Inbox, me *user) error {
	chans, err := a.api.channelsOf(ctx, me.ID)
	if err != nil {
		return err
	}
	a.mu.Lock()
	first := a.first
	a.first = false
	// A channel the bot joined while away has no mark: take the newest
	// post seen anywhere, the last moment the bot is known to have been
	// listening.
	var since int64
	for _, t := range a.seen {
		since = max(since, t)
	}
	a.mu.Unlock()
	for _, c := range chans {
		if c.DeleteAt != 0 {
			continue
		}
		if first {
			a.mark(c.ID, c.LastPostAt)
			continue
		}
		mark := a.mark(c.ID, 0)
		if mark == 0 {
			mark = since
		}
		if mark == 0 {
			// Nothing seen anywhere yet, so no moment is known from which
			// to replay: replaying the channel's whole history would run
			// old commands again.
			a.mark(c.ID, c.LastPostAt)
			continue
		}
		if c.LastPostAt <= mark {
			continue
		}
		list, err := a.api.postsSince(ctx, c.ID, mark)
		if err != nil {
			return err
		}
		var missed []*post
		for _, p := range list.Posts {
			// "since" also returns older posts edited or deleted since.
			if p.CreateAt > mark {
				missed = append(missed, p)
			}
		}
		slices.SortFunc(missed, func(x, y *post) int { return cmp.Compare(x.CreateAt, y.CreateAt) })
		if len(missed) > 0 {
			a.log.Info("mattermost: catching up on posts made while disconnected", "channel", c.ID, "posts", len(missed))
		}
		for _, p := range missed {
			a.deliver(ctx, in, me, p, c.Type)
		}
	}
	return nil
}

// mark raises the channel's newest-seen time to at least t and returns it.
func (a *Adapter) mark(channel string, t int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t > a.seen[channel] {
		a.seen[channel] = t
	}
	return a.seen[channel]
}

// recentMax is how many delivered post ids the adapter remembers: far more
// than one catch-up can overlap with the websocket.
const recentMax = 4096

// firstSight records a post id and reports whether it was new.
func (a *Adapter) firstSight(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.recent[id]; ok {
		return false
	}
	a.recent[id] = struct{}{}
	a.order = append(a.order, id)
	if len(a.order) > recentMax {
		delete(a.recent, a.order[0])
		a.order = a.order[1:]
	}
	return true
}

// deliver passes a post to the bot unless it is the bot's own, another
// bot's, a system message, or already delivered.
func (a *Adapter) deliver(ctx context.Context, in bot.Inbox, me *user, p *post, kind string) {
	a.mark(p.ChannelID, p.CreateAt)
	if p.UserID == me.ID || p.Type != "" || p.DeleteAt != 0 || strings.TrimSpace(p.Message) == "" || !a.firstSight(p.ID) {
		return
	}
	// The server marks posts by bot accounts and webhooks; answering
	// them could start two bots talking for ever.
	for _, prop := range []string{"from_bot", "from_webhook", "from_plugin"} {
		if v, _ := p.Props[prop].(string); v == "true" {
			return
		}
	}
	u, err := a.user(ctx, p.UserID)
	if err != nil {
		// Without the account the adapter cannot tell a bot from a
		// person; dropping is safer than answering a bot.
		a.log.Warn("mattermost: cannot look up a post's author; ignoring the post", "user", p.UserID, "err", err)
		return
	}
	if u.IsBot {
		return
	}
	m := &bot.Message{
		ID:      p.ID,
		Adapter: "mattermost",
		Text:    p.Message,
		Room:    p.ChannelID,
		User:    bot.User{ID: "mattermost:" + u.ID, Name: u.Username},
		Direct:  kind == channelDirect,
		Thread:  p.RootID,
		Time:    time.UnixMilli(p.CreateAt),
	}
	m.Text, m.Mentioned = mention(p.Message, me.Username)
	in.Receive(ctx, m)
}

// mention reports whether text mentions @name, and cuts a leading mention
// off, since the router knows the bot by its configured name, which need
// not be the account's username.
func mention(text, name string) (string, bool) {
	at := "@" + strings.ToLower(name)
	lower := strings.ToLower(text)
	found := false
	for i := 0; ; {
		j := strings.Index(lower[i:], at)
		if j < 0 {
			break
		}
		j += i
		end := j + len(at)
		if (j == 0 || !nameChar(lower[j-1])) && (end == len(lower) || !nameChar(lower[end])) {
			found = true
			if j == 0 {
				rest := strings.TrimLeft(text[end:], ":, \t")
				return rest, true
			}
		}
		i = end
	}
	return text, found
}

// nameChar reports whether c may be part of a Mattermost username. A dot
// may end a sentence, so "@seipbot." still mentions the bot.
func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// user returns the account with id, fetched once.
func (a *Adapter) user(ctx context.Context, id string) (*user, error) {
	a.mu.Lock()
	u := a.users[id]
	a.mu.Unlock()
	if u != nil {
		return u, nil
	}
	u, err := a.api.user(ctx, id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.users[id] = u
	a.mu.Unlock()
	return u, nil
}
