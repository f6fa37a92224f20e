// Package matrix is the adapter for Matrix homeservers, over the
// client-server API with maunium.net/go/mautrix.
//
// The bot logs in with a password (repeated at each start, on the device
// kept in the state file) or an access token, joins its rooms by alias or
// id, and long-polls /sync. The sync position is kept in the state file
// after the events it covers were handed to the bot, so a restart goes on
// where the last run stopped; a first start (no state) skips the rooms'
// history, as does joining a room.
//
// Identity: a sender is "matrix:@user:server", the MXID the homeserver
// vouches for; display names, which anyone can change, are never used for
// access decisions.
//
// Replies are m.notice events, which by convention other bots do not
// answer; for the same reason the adapter ignores m.notice from others.
// End-to-end encrypted rooms are not supported: the bot neither reads nor
// writes encrypted events.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/seipbot/seipbot/bot"
)

// Options configure the Matrix adapter.
type Options struct {
	// Homeserver is the client-server API's base URL, such as
	// https://matrix.example.org.
	Homeserver string
	// UserID is the bot's MXID, such as @seipbot:example.org. It is
	// required with Password; with AccessToken the server says whose token
	// it is, and a UserID that differs is an error.
	UserID string
	// Password logs in; AccessToken uses an existing session. Set one.
	Password    string
	AccessToken string
	// DeviceID is the device to log in as with Password. Empty: the one in
	// the state file, or a new one the server names.
	DeviceID string
	// DisplayName, when set, becomes the bot's profile name at start-up.
	DisplayName string

	// Rooms to join, by alias (#soc:example.org) or id (!abc:example.org).
	// Invites to them are accepted from anyone.
	Rooms []string
	// InviteFrom lists who may invite the bot to other rooms and to direct
	// chats: users (@alice:example.org) or everyone on a server
	// (*:example.org). Other invites are declined.
	InviteFrom []string

	// StateFile keeps the device id and sync position between runs. Empty
	// keeps them in memory: every start then skips what was said while
	// the bot was down.
	StateFile string

	// SyncTimeout is how long one /sync waits for news. Default: 30s.
	SyncTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between reconnects.
	// Defaults: 1s and 2m.
	BackoffMin, BackoffMax time.Duration

	Logger *slog.Logger
}

// Adapter is the Matrix adapter.
type Adapter struct {
	opts Options
	log  *slog.Logger
	http *http.Client

	mu    sync.Mutex
	cli   *mautrix.Client // nil until logged in
	ready chan struct{}   // closed when cli is set
	st    state
	// names are what people call the bot at the start of a line: its
	// display name, MXID and localpart.
	names []string
	// configured holds the ids of Rooms once resolved: never direct
	// chats, and open to invites from anyone.
	configured map[id.RoomID]bool
	// direct is the bot's m.direct account data: who each direct room is
	// with.
	direct map[id.RoomID]id.UserID
	// members caches joined member counts, forgotten when a room's
	// membership changes.
	members map[id.RoomID]int
	// heldUntil is when the server's rate limit (429) lets requests go
	// again.
	heldUntil time.Time
	// retrying remembers the transaction ids of a response the server may
	// have received before the connection broke, so the outbox's retry of
	// it is recognised by the server rather than posted twice.
	retrying *pendingSend
}

var _ bot.Adapter = (*Adapter)(nil)

// ErrConfig reports options that cannot work.
var ErrConfig = errors.New("matrix: invalid options")

// New returns an adapter. It does no I/O.
func New(opts Options) (*Adapter, error) {
	u, err := url.Parse(opts.Homeserver)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: Homeserver %q is not an http(s) URL", ErrConfig, opts.Homeserver)
	}
	switch {
	case (opts.Password == "") == (opts.AccessToken == ""):
		return nil, fmt.Errorf("%w: set one of Password and AccessToken", ErrConfig)
	case opts.Password != "" && opts.UserID == "":
		return nil, fmt.Errorf("%w: Password needs UserID", ErrConfig)
	}
	if opts.UserID != "" {
		if _, _, err := id.UserID(opts.UserID).Parse(); err != nil {
			return nil, fmt.Errorf("%w: UserID %q is not an MXID such as @bot:example.org", ErrConfig, opts.UserID)
		}
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Adapter{
		opts: opts,
		log:  opts.Logger,
		// A long poll must outlast its own timeout; anything slower than
		// that plus a margin is a dead connection.
		http:       &http.Client{Timeout: opts.SyncTimeout + 30*time.Second},
		ready:      make(chan struct{}),
		configured: map[id.RoomID]bool{},
		direct:     map[id.RoomID]id.UserID{},
		members:    map[id.RoomID]int{},
	}, nil
}

// Name returns "matrix".
func (a *Adapter) Name() string { return "matrix" }

// Run logs in, syncs, and reconnects with backoff whenever a sync fails,
// until ctx is cancelled. It returns an error only when the server refuses
// the bot's credentials or the state file cannot be read.
func (a *Adapter) Run(ctx context.Context, in bot.Inbox) error {
	st, err := loadState(a.opts.StateFile)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.st = st
	a.mu.Unlock()
	return bot.Redial(ctx, bot.Backoff{Min: a.opts.BackoffMin, Max: a.opts.BackoffMax},
		func(ctx context.Context) (bool, error) { return a.session(ctx, in) },
		func(err error, wait time.Duration) {
			a.log.Warn("matrix: sync failed; reconnecting", "homeserver", a.opts.Homeserver, "err", err, "retry_in", wait)
		})
}

// session logs in when needed, joins the configured rooms and syncs until
// a sync fails. synced reports whether any sync succeeded.
func (a *Adapter) session(ctx context.Context, in bot.Inbox) (synced bool, err error) {
	cli, err := a.login(ctx)
	if err != nil {
		return false, err
	}
	filter, err := cli.CreateFilter(ctx, syncFilter)
	if err != nil {
		return false, a.check(err)
	}
	a.mu.Lock()
	since := a.st.NextBatch
	a.mu.Unlock()
	if since == "" {
		// The first sync skips history: what was said before the bot
		// existed (or lost its state) was never meant for it. Invites and
		// the direct-chat list still count.
		resp, err := cli.FullSyncRequest(ctx, mautrix.ReqSync{FilterID: filter.FilterID})
		if err != nil {
			return false, a.check(err)
		}
		a.handle(ctx, cli, in, resp, true)
		since = resp.NextBatch
		a.advance(since)
	}
	if err := a.join(ctx, cli); err != nil {
		return false, a.check(err)
	}
	a.log.Info("matrix: connected", "homeserver", a.opts.Homeserver, "user", cli.UserID, "device", cli.DeviceID, "rooms", a.opts.Rooms)
	for {
		resp, err := cli.FullSyncRequest(ctx, mautrix.ReqSync{
			Since: since, FilterID: filter.FilterID, Timeout: int(a.opts.SyncTimeout / time.Millisecond),
		})
		if err != nil {
			if d, ok := retryAfter(err); ok {
				a.setHold(d)
				if err := a.waitHold(ctx); err != nil {
					return synced, err
				}
				continue
			}
			return synced, a.check(err)
		}
		synced = true
		a.handle(ctx, cli, in, resp, false)
		since = resp.NextBatch
		a.advance(since)
	}
}

// syncFilter asks only for what the adapter reads: messages and
// memberships in rooms, and the direct-chat list.
var syncFilter = &mautrix.Filter{
	AccountData: &mautrix.FilterPart{Types: []event.Type{event.AccountDataDirectChats}},
	Presence:    &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}},
	Room: &mautrix.RoomFilter{
		// Enough to cover a few minutes of a busy room while the bot was
		// down; a longer gap is reported as limited and logged.
		Timeline:    &mautrix.FilterPart{Limit: 100, Types: []event.Type{event.EventMessage, event.StateMember}},
		State:       &mautrix.FilterPart{Types: []event.Type{event.StateMember}, LazyLoadMembers: true},
		Ephemeral:   &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}},
		AccountData: &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}},
	},
}

// advance records the sync position after its events were delivered.
func (a *Adapter) advance(next string) {
	a.mu.Lock()
	a.st.NextBatch = next
	st := a.st
	a.mu.Unlock()
	if err := saveState(a.opts.StateFile, st); err != nil {
		// The bot goes on; a restart would repeat or skip a little.
		a.log.Error("matrix: sync position not saved", "err", err)
	}
}

// check classifies a request error: a refused token ends the session (a
// password login logs in again; a configured token cannot be renewed).
func (a *Adapter) check(err error) error {
	if errors.Is(err, mautrix.MUnknownToken) {
		a.mu.Lock()
		if a.cli != nil {
			a.cli = nil
			a.ready = make(chan struct{})
		}
		a.mu.Unlock()
		if a.opts.AccessToken != "" {
			return bot.Fatal(fmt.Errorf("matrix: the homeserver no longer accepts the access token: %w", err))
		}
	}
	return err
}

// login returns the logged-in client, logging in first if needed.
func (a *Adapter) login(ctx context.Context) (*mautrix.Client, error) {
	a.mu.Lock()
	cli, st := a.cli, a.st
	a.mu.Unlock()
	if cli != nil {
		return cli, nil
	}
	cli, err := mautrix.NewClient(a.opts.Homeserver, id.UserID(a.opts.UserID), a.opts.AccessToken)
	if err != nil {
		return nil, bot.Fatal(fmt.Errorf("matrix: %w", err))
	}
	cli.Client = a.http
	cli.UserAgent = "seipbot"
	// Retries are the outbox's and the sync loop's; the client's own
	// would hide an outage from both.
	cli.DefaultHTTPRetries = 0
	if a.opts.AccessToken != "" {
		who, err := cli.Whoami(ctx)
		if errors.Is(err, mautrix.MUnknownToken) || errors.Is(err, mautrix.MForbidden) {
			return nil, bot.Fatal(fmt.Errorf("matrix: the homeserver refuses the access token: %w", err))
		}
		if err != nil {
			return nil, err
		}
		if a.opts.UserID != "" && who.UserID != id.UserID(a.opts.UserID) {
			return nil, bot.Fatal(fmt.Errorf("matrix: the access token belongs to %s, not %s", who.UserID, a.opts.UserID))
		}
		cli.UserID, cli.DeviceID = who.UserID, who.DeviceID
	} else {
		device := id.DeviceID(a.opts.DeviceID)
		if device == "" && st.UserID == a.opts.UserID {
			device = id.DeviceID(st.DeviceID)
		}
		_, err := cli.Login(ctx, &mautrix.ReqLogin{
			Type:                     mautrix.AuthTypePassword,
			Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: a.opts.UserID},
			Password:                 a.opts.Password,
			DeviceID:                 device,
			InitialDeviceDisplayName: "seipbot",
			StoreCredentials:         true,
		})
		if errors.Is(err, mautrix.MForbidden) || errors.Is(err, mautrix.MUserDeactivated) {
			return nil, bot.Fatal(fmt.Errorf("matrix: the homeserver refuses the login of %s: %w", a.opts.UserID, err))
		}
		if err != nil {
			return nil, err
		}
	}
	name := cli.UserID.Localpart()
	if a.opts.DisplayName != "" {
		if err := cli.SetDisplayName(ctx, a.opts.DisplayName); err != nil {
			return nil, err
		}
		name = a.opts.DisplayName
	} else if resp, err := cli.GetOwnDisplayName(ctx); err == nil && resp.DisplayName != "" {
		name = resp.DisplayName
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st.UserID != cli.UserID.String() {
		// Another account's sync position means nothing to this one.
		a.st = state{UserID: cli.UserID.String()}
	}
	a.st.DeviceID = cli.DeviceID.String()
	if err := saveState(a.opts.StateFile, a.st); err != nil {
		return nil, bot.Fatal(err)
	}
	// Longest first, so "@bot:example.org: help" loses the whole MXID and
	// not just a display name "bot".
	a.names = []string{strings.TrimPrefix(cli.UserID.String(), "@"), name, cli.UserID.Localpart()}
	slices.SortStableFunc(a.names, func(x, y string) int { return len(y) - len(x) })
	a.cli = cli
	close(a.ready)
	return cli, nil
}

// join joins the configured rooms, which is harmless for those the bot is
// in already, and records their ids. A room that cannot be joined is
// logged and skipped: the others still work.
func (a *Adapter) join(ctx context.Context, cli *mautrix.Client) error {
	for _, room := range a.opts.Rooms {
		resp, err := cli.JoinRoom(ctx, room, nil)
		if err != nil {
			var he mautrix.HTTPError
			if errors.As(err, &he) && he.RespError != nil && !errors.Is(err, mautrix.MUnknownToken) && !errors.Is(err, mautrix.MLimitExceeded) {
				a.log.Error("matrix: cannot join room", "room", room, "err", err)
				continue
			}
			return err
		}
		a.mu.Lock()
		a.configured[resp.RoomID] = true
		a.mu.Unlock()
	}
	return nil
}

// setHold makes every request wait d, as a 429 answer asks.
func (a *Adapter) setHold(d time.Duration) {
	a.mu.Lock()
	if until := time.Now().Add(d); until.After(a.heldUntil) {
		a.heldUntil = until
	}
	a.mu.Unlock()
}

func (a *Adapter) waitHold(ctx context.Context) error {
	a.mu.Lock()
	d := time.Until(a.heldUntil)
	a.mu.Unlock()
	if d > 0 && !bot.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// retryAfter reports how long a 429 answer asks the client to wait:
// retry_after_ms in the body, else the Retry-After header, else a second.
func retryAfter(err error) (time.Duration, bool) {
	var he mautrix.HTTPError
	if !errors.As(err, &he) || he.Response == nil || he.Response.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if he.RespError != nil {
		if ms, ok := he.RespError.ExtraData["retry_after_ms"].(float64); ok && ms > 0 {
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	if d, err := time.ParseDuration(strings.TrimSpace(he.Response.Header.Get("Retry-After")) + "s"); err == nil && d > 0 {
		return d, true
	}
	return time.Second, true
}
