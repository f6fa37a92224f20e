// Package slack is the adapter for Slack, on github.com/slack-go/slack.
//
// It receives over Socket Mode by default, which needs no public endpoint
// and so fits a private network, or over HTTP (the Events API and the
// interactivity endpoint) when Options.Mode is "http", where every request's
// v0 signature is checked before its body is parsed. It sends with
// chat.postMessage, opens direct conversations with conversations.open,
// and uploads replies too long for a few messages as a file
// (files.getUploadURLExternal, then files.completeUploadExternal).
//
// Identities are "slack:<user>" for members of the bot's own workspace and
// "slack:<team>:<user>" for people from another organisation in a shared
// (Slack Connect) channel, so a grant written for a colleague's id can never
// match an outsider.
//
// Response.Buttons become Block Kit buttons. A click is acknowledged at once
// and delivered as a message from the clicker saying the button's value
// ("approve 7k3q"), so it runs as the clicker's own command, through the same
// permission checks and audit as a typed one.
//
// The Slack app needs these bot scopes and no more (manifest.yaml is a
// ready app manifest; a start-up warning names any extra scope granted):
//
//	app_mentions:read  channels:history  groups:history  im:history
//	chat:write  im:write  files:write
//
// and, for Socket Mode, an app-level token with connections:write.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/seipbot/seipbot/bot"
)

// MinimumScopes are the bot token scopes the adapter uses.
var MinimumScopes = []string{
	"app_mentions:read", // app_mention events
	"channels:history",  // message events in public channels
	"groups:history",    // message events in private channels
	"im:history",        // message events in direct conversations
	"chat:write",        // chat.postMessage
	"im:write",          // conversations.open, to message someone first
	"files:write",       // long replies as files
}

// Options configure the adapter.
type Options struct {
	// BotToken is the bot user's OAuth token, "xoxb-…".
	BotToken string
	// AppToken is the app-level token, "xapp-…", with connections:write;
	// Socket Mode needs it.
	AppToken string
	// Mode is "socket" (the default) or "http".
	Mode string
	// SigningSecret checks the requests Slack sends in HTTP mode.
	SigningSecret string
	// Listen is the address the HTTP mode serves Handler on, such as
	// ":3000". Empty: the caller serves Handler itself.
	Listen string
	// APIURL is the Web API's base URL; tests point it at their server.
	APIURL string
	// MaxLen is the most bytes of mrkdwn in one message; longer replies are
	// split. Default 3000, the limit of a Block Kit section's text.
	MaxLen int
	// UploadAbove is the length of rendered text above which a reply is
	// uploaded as a file rather than split. Default 40000, past which Slack
	// would truncate even a single message's text.
	UploadAbove int
	// PostInterval paces posts to one channel, after a burst of three, as
	// Slack allows about one message a second per channel. Default 1s;
	// negative turns pacing off.
	PostInterval time.Duration
	Logger       *slog.Logger
	// Now is the clock for signature windows and pacing. Default time.Now.
	Now func() time.Time
}

// Adapter is the Slack adapter.
type Adapter struct {
	opts Options
	log  *slog.Logger
	api  *slack.Client
	seen *seenSet

	mu    sync.Mutex
	self  identity          // the bot, from auth.test
	dms   map[string]string // user id → direct conversation id
	due   map[string]time.Time
	sent  map[string]int // response key → parts already posted
	queue chan *bot.Message
}

// identity is who the bot is in its workspace.
type identity struct {
	user, bot, team string
}

var _ bot.Adapter = (*Adapter)(nil)

// Defaults for Options.
const (
	defaultMaxLen      = 3000
	defaultUploadAbove = 40000
	defaultInterval    = time.Second
	postBurst          = 3
	// inboundQueue bounds messages accepted from Slack but not yet handed
	// to the bot. Beyond it an event is not acknowledged, so Slack sends it
	// again later rather than the adapter buffering without bound.
	inboundQueue = 1024
)

// New checks opts and returns an adapter. It does no I/O.
func New(opts Options) (*Adapter, error) {
	var errs []error
	if !strings.HasPrefix(opts.BotToken, "xoxb-") {
		errs = append(errs, errors.New("slack: the bot token must be a bot user token starting with xoxb-"))
	}
	switch opts.Mode {
	case "", "socket":
		opts.Mode = "socket"
		if !strings.HasPrefix(opts.AppToken, "xapp-") {
			errs = append(errs, errors.New("slack: Socket Mode needs an app-level token starting with xapp-"))
		}
	case "http":
		if opts.SigningSecret == "" {
			errs = append(errs, errors.New("slack: HTTP mode needs the app's signing secret"))
		}
	default:
		errs = append(errs, fmt.Errorf("slack: mode %q is neither socket nor http", opts.Mode))
	}
	if opts.MaxLen == 0 {
		opts.MaxLen = defaultMaxLen
	}
	if opts.MaxLen < 64 || opts.MaxLen > defaultMaxLen {
		errs = append(errs, fmt.Errorf("slack: a message length of %d is outside 64 to %d", opts.MaxLen, defaultMaxLen))
	}
	if opts.UploadAbove <= 0 {
		opts.UploadAbove = defaultUploadAbove
	}
	if opts.PostInterval == 0 {
		opts.PostInterval = defaultInterval
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	apiOpts := []slack.Option{slack.OptionAppLevelToken(opts.AppToken)}
	if opts.APIURL != "" {
		apiOpts = append(apiOpts, slack.OptionAPIURL(opts.APIURL))
	}
	return &Adapter{
		opts: opts,
		log:  opts.Logger.With("adapter", "slack"),
		api:  slack.New(opts.BotToken, apiOpts...),
		seen: newSeenSet(4096, time.Hour, opts.Now),
		dms:  map[string]string{},
		due:  map[string]time.Time{},
		sent: map[string]int{},
	}, nil
}

// Name returns "slack".
func (a *Adapter) Name() string { return "slack" }

// Run learns who the bot is, then receives until ctx is cancelled. Socket
// Mode reconnects by itself, including when Slack asks it to (a disconnect
// envelope, such as refresh_requested); Run returns an error only when the
// tokens are refused.
func (a *Adapter) Run(ctx context.Context, in bot.Inbox) error {
	if err := a.authenticate(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	queue := make(chan *bot.Message, inboundQueue)
	a.mu.Lock()
	a.queue = queue
	a.mu.Unlock()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-queue:
				in.Receive(ctx, m)
			}
		}
	}()
	if a.opts.Mode == "http" {
		return a.serve(ctx)
	}
	return a.runSocket(ctx)
}

// authenticate calls auth.test until it answers, and warns about scopes
// beyond MinimumScopes: a leaked token can do no more than it was granted.
func (a *Adapter) authenticate(ctx context.Context) error {
	delay := time.Second
	for {
		res, err := a.api.AuthTestContext(ctx)
		if err == nil {
			a.mu.Lock()
			a.self = identity{user: res.UserID, bot: res.BotID, team: res.TeamID}
			a.mu.Unlock()
			a.checkScopes(res.Header.Get("X-OAuth-Scopes"))
			a.log.Info("slack: signed in", "team", res.TeamID, "bot_user", res.UserID)
			return nil
		}
		if _, refused := errors.AsType[slack.SlackErrorResponse](err); refused {
			return fmt.Errorf("slack: auth.test: %w; check the bot token", err)
		}
		a.log.Warn("slack: auth.test failed; retrying", "err", err, "retry_in", delay)
		if !bot.Sleep(ctx, delay) {
			return ctx.Err()
		}
		delay = min(2*delay, time.Minute)
	}
}

func (a *Adapter) checkScopes(header string) {
	var granted []string
	for s := range strings.SplitSeq(header, ",") {
		if s = strings.TrimSpace(s); s != "" {
			granted = append(granted, s)
		}
	}
	var extra, missing []string
	for _, s := range granted {
		if !slices.Contains(MinimumScopes, s) {
			extra = append(extra, s)
		}
	}
	for _, s := range MinimumScopes {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	if len(extra) > 0 {
		a.log.Warn("slack: the bot token has scopes seipbot does not use; remove them from the app so a leaked token can do less", "extra", extra)
	}
	if len(missing) > 0 && len(granted) > 0 {
		a.log.Warn("slack: the bot token lacks scopes seipbot uses; add them to the app", "missing", missing)
	}
}

// runSocket runs the Socket Mode client and handles what it receives.
func (a *Adapter) runSocket(ctx context.Context) error {
	sm := socketmode.New(a.api)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(runCtx) }()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack: socket mode: %w; check the app-level token", err)
		case ev := <-sm.Events:
			a.socketEvent(ctx, sm, ev)
		}
	}
}

// socketEvent acknowledges an envelope once its message is queued (or
// known to be a duplicate). An envelope left unacknowledged because the
// queue is full is sent again by Slack.
func (a *Adapter) socketEvent(ctx context.Context, sm *socketmode.Client, ev socketmode.Event) {
	var ok bool
	switch ev.Type {
	case socketmode.EventTypeConnected:
		a.log.Info("slack: socket mode connected")
		return
	case socketmode.EventTypeConnectionError:
		a.log.Warn("slack: socket mode connection failed; retrying", "err", ev.Data)
		return
	case socketmode.EventTypeEventsAPI:
		ok = a.acceptEvent(ev.Data)
	case socketmode.EventTypeInteractive:
		cb, _ := ev.Data.(slack.InteractionCallback)
		ok = a.acceptAction(cb)
	case socketmode.EventTypeSlashCommand:
		ok = true // not used; acknowledged so Slack stops sending it
	default:
		return
	}
	if ok && ev.Request != nil {
		if err := sm.AckCtx(ctx, ev.Request.EnvelopeID, nil); err != nil {
			a.log.Warn("slack: acknowledge", "err", err)
		}
	}
}

// enqueue hands m to the bot's queue unless it is full or Run has not
// started, and reports whether it did.
func (a *Adapter) enqueue(m *bot.Message) bool {
	a.mu.Lock()
	q := a.queue
	a.mu.Unlock()
	if q == nil {
		return false
	}
	select {
	case q <- m:
		return true
	default:
		a.log.Warn("slack: inbound queue full; leaving the event for Slack to send again")
		return false
	}
}

// serve runs the HTTP endpoints on Listen, or waits when the caller serves
// Handler itself.
func (a *Adapter) serve(ctx context.Context) error {
	if a.opts.Listen == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", a.opts.Listen)
	if err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	a.log.Info("slack: serving the Events API", "addr", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("slack: %w", err)
	}
	return nil
}
