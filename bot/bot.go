package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Options configure a Bot. The zero value of every field has a sensible
// default except Outbox, which New creates when nil.
type Options struct {
	Name   string // default "seipbot"
	Prefix string // command prefix such as "!"; "" for none
	// Rooms, when not empty, is the only rooms the bot reads; messages from
	// any other room are ignored without an answer. Direct messages are
	// always read.
	Rooms          []string
	CommandTimeout time.Duration // default 30s
	RateLimit      RateLimit

	// Authorizer decides who may run what. Without one, commands marked
	// Sensitive are refused and everything else runs.
	Authorizer Authorizer
	// Audit, when set, wraps every command and hear handler outside the
	// authorization check, so it sees denials as well as results.
	Audit Middleware
	// Approval, when set, runs after authorization (a two-person rule).
	Approval Middleware

	// Claimer, when set, makes this replica handle only the messages it
	// claims first; nil means a single replica, which handles everything.
	Claimer Claimer
	// ClaimTTL is how long a claim holds: longer than any platform takes
	// to redeliver a message. Default 1h.
	ClaimTTL time.Duration

	Outbox *Outbox
	// Metrics, when set, is told of messages received, commands handled
	// and deliveries, by this bot and its outbox.
	Metrics Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// MaxInFlight bounds the messages received but not yet handled;
	// Receive blocks beyond it, which holds the adapter back. Default 256:
	// enough to keep every conversation busy, small enough that a burst
	// waits at the adapter rather than in memory.
	MaxInFlight int
	// DrainTimeout bounds how long Run waits, once its adapters have
	// stopped, for queued responses to be delivered. Default 10s.
	DrainTimeout time.Duration
}

// Authorizer decides whether m.User may run m.Command (or m.Hear) in m.Room.
type Authorizer interface {
	// Authorize returns nil to allow, or an error made with Denied whose
	// text tells the user why not.
	Authorize(ctx context.Context, m *Message) error
}

// Bot receives messages from its adapters, routes them to plugins' handlers
// behind the middleware chain, and sends what they say through its outbox.
type Bot struct {
	opts     Options
	log      *slog.Logger
	router   *Router
	outbox   *Outbox
	adapters []Adapter
	rooms    map[string]bool
	limiter  *rateLimiter
	start    time.Time

	lanes    lanes
	inflight chan struct{}
	runCtx   context.Context
	unknown  Handler // chain for unknown commands and quoting errors
}

// New returns a Bot. It does no I/O and starts nothing.
func New(opts Options) (*Bot, error) {
	if opts.Name == "" {
		opts.Name = "seipbot"
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 256
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.ClaimTTL <= 0 {
		opts.ClaimTTL = time.Hour
	}
	if opts.Outbox == nil {
		opts.Outbox = NewOutbox(nil, opts.Logger, Backoff{})
	}
	if opts.Metrics != nil && opts.Outbox.metrics == nil {
		opts.Outbox.metrics = opts.Metrics
	}
	b := &Bot{
		opts:     opts,
		log:      opts.Logger,
		router:   NewRouter(opts.Name, opts.Prefix),
		outbox:   opts.Outbox,
		limiter:  newRateLimiter(opts.RateLimit, opts.Now),
		inflight: make(chan struct{}, opts.MaxInFlight),
		runCtx:   context.Background(),
	}
	if len(opts.Rooms) > 0 {
		b.rooms = map[string]bool{}
		for _, r := range opts.Rooms {
			b.rooms[r] = true
		}
	}
	b.lanes.handle = b.dispatch
	b.unknown = Chain(HandlerFunc(b.answerUnknown), b.report)
	return b, nil
}

// Name returns the bot's name.
func (b *Bot) Name() string { return b.opts.Name }

// Router returns the bot's router, for plugins that list commands (help).
func (b *Bot) Router() *Router { return b.router }

// Outbox returns the bot's outbox.
func (b *Bot) Outbox() *Outbox { return b.outbox }

// Use registers plugins. It reports every invalid or conflicting
// registration at once and must be called before Run.
func (b *Bot) Use(plugins ...Plugin) error {
	if err := b.router.use(plugins...); err != nil {
		return err
	}
	for _, c := range b.router.commands {
		c.chain = b.chain(checkArgs(c.Handler))
	}
	for _, h := range b.router.hears {
		h.chain = b.chain(h.Handler)
	}
	return nil
}

// chain puts h behind the middleware every handler runs behind, outermost
// first: error reporting and panic recovery, rate limit, audit,
// authorization, approval, timeout.
func (b *Bot) chain(h Handler) Handler {
	return Chain(h, b.report, b.rateLimit, b.opts.Audit, b.authorize, b.opts.Approval, b.timeout)
}

// AddAdapter connects the bot to a chat platform. Call it before Run.
func (b *Bot) AddAdapter(a Adapter) {
	b.adapters = append(b.adapters, a)
	b.outbox.AddAdapter(a)
}

// Adapters returns the names of the connected adapters.
func (b *Bot) Adapters() []string {
	names := make([]string, len(b.adapters))
	for i, a := range b.adapters {
		names[i] = a.Name()
	}
	return names
}

// Started returns when Run began.
func (b *Bot) Started() time.Time { return b.start }

// ErrNoAdapter is returned by Run when no adapter was added.
var ErrNoAdapter = errors.New("no chat adapter is configured; configure one under adapters: or use \"seipbot shell\"")

// Run runs the adapters and the outbox until every adapter has stopped or
// ctx is cancelled, then waits for messages in hand to be handled and their
// responses delivered (up to DrainTimeout) before closing the adapters.
func (b *Bot) Run(ctx context.Context) error {
	if len(b.adapters) == 0 {
		return ErrNoAdapter
	}
	b.start = b.opts.Now()
	// Handlers and deliveries outlive ctx: a message already received is
	// answered even while the bot shuts down.
	b.runCtx = context.WithoutCancel(ctx)
	outCtx, stopOutbox := context.WithCancel(b.runCtx)
	outDone := make(chan error, 1)
	go func() { outDone <- b.outbox.Run(outCtx) }()

	var wg sync.WaitGroup
	errs := make([]error, len(b.adapters))
	for i, a := range b.adapters {
		wg.Go(func() {
			if err := a.Run(ctx, b); err != nil {
				errs[i] = fmt.Errorf("adapter %s: %w", a.Name(), err)
			}
		})
	}
	wg.Wait()
	b.lanes.wait()

	drainCtx, cancel := context.WithTimeout(b.runCtx, b.opts.DrainTimeout)
	if err := b.outbox.Flush(drainCtx); err != nil {
		b.log.Warn("stopping with responses undelivered", "pending", b.outbox.Pending(), "err", err)
	}
	cancel()
	stopOutbox()
	if err := <-outDone; err != nil {
		errs = append(errs, err)
	}
	for _, a := range b.adapters {
		if c, ok := a.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("adapter %s: close: %w", a.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Receive accepts a message from an adapter. Messages of one user in one
// room are handled in the order received; different conversations run
// concurrently. Receive blocks while MaxInFlight messages are in hand.
func (b *Bot) Receive(ctx context.Context, m *Message) {
	select {
	case b.inflight <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if m.Time.IsZero() {
		m.Time = b.opts.Now()
	}
	if b.opts.Metrics != nil {
		b.opts.Metrics.Received(m.Adapter)
	}
	b.lanes.push(laneKey{m.Adapter, m.Room, m.User.ID}, m)
}

// dispatch routes one message and runs what it matched.
func (b *Bot) dispatch(m *Message) {
	defer func() { <-b.inflight }()
	ctx := b.runCtx
	if !m.Direct && b.rooms != nil && !b.rooms[m.Room] {
		return
	}
	claimed, claimErr := b.claim(ctx, m)
	if !claimed && claimErr == nil {
		return // another replica has it
	}
	body, addressed := b.router.address(m)
	m.Addressed, m.Body = addressed, body
	if claimErr != nil {
		// Handling it unclaimed could answer it twice; a command gets told
		// to try again, small talk is let go.
		if addressed {
			_ = b.outbox.Send(ctx, ReplyTo(m, unavailableText))
		}
		return
	}
	heard := b.hear(ctx, m)
	if !addressed {
		return
	}
	toks, err := tokenize(body)
	if err != nil {
		if !heard { // "seipbot how's it going" was small talk, not a command
			m.Args = Args{{Name: argErrorName, Value: err}}
			b.run(ctx, b.unknown, m)
		}
		return
	}
	cmd, used := b.router.resolve(toks)
	if cmd == nil {
		if !heard {
			m.Args = Args{{Name: "words", Value: toks}}
			b.run(ctx, b.unknown, m)
		}
		return
	}
	m.Command = cmd
	m.Args, err = cmd.parseArgs(body, toks[used:])
	if err != nil {
		m.Args = Args{{Name: argErrorName, Value: err}}
	}
	b.run(ctx, cmd.chain, m)
}

// hear runs the hear patterns that match m and reports whether any did.
func (b *Bot) hear(ctx context.Context, m *Message) bool {
	ix := b.router.index
	if ix == nil || len(ix.hears) == 0 {
		return false
	}
	var buf [8]int32
	heard := false
	for _, i := range ix.candidates(buf[:0], m.Text) {
		h := ix.hears[i]
		text := m.Text
		if h.Addressed {
			if !m.Addressed {
				continue
			}
			text = m.Body
		}
		if !ix.tryable(i, text) {
			continue
		}
		match := h.re.FindStringSubmatch(text)
		if match == nil {
			continue
		}
		heard = true
		// Each match's handler gets a message of its own: it may keep it,
		// and the next match and the command path go on with m.
		hm := *m
		hm.Hear, hm.Match = h, match
		b.run(ctx, h.chain, &hm)
	}
	return heard
}

// run hands m to the handler chain h. The caller gives m up: the handler
// may keep it.
func (b *Bot) run(ctx context.Context, h Handler, m *Message) {
	// The chain's outermost layer reports errors itself.
	_ = h.Handle(ctx, &handling{m: m, out: b.outbox}, m)
}

// argErrorName carries an argument error through the middleware chain, so a
// user who may not run a command learns nothing about its arguments.
const argErrorName = "\x00error"

func argError(m *Message) error {
	if a, ok := m.Args.find(argErrorName); ok {
		return a.Value.(error)
	}
	return nil
}

// checkArgs returns the argument error the router found, if any, in place
// of running the handler.
func checkArgs(h Handler) Handler {
	return HandlerFunc(func(ctx context.Context, w Responder, m *Message) error {
		if err := argError(m); err != nil {
			return err
		}
		return h.Handle(ctx, w, m)
	})
}

// answerUnknown answers an addressed message that names no command.
func (b *Bot) answerUnknown(ctx context.Context, w Responder, m *Message) error {
	if err := argError(m); err != nil {
		return err
	}
	a, _ := m.Args.find("words")
	toks, _ := a.Value.([]token)
	if len(toks) == 0 {
		return w.Reply(ctx, `Yes? Say "help" to see what I can do.`)
	}
	// Concatenated rather than formatted: every line addressed to the bot
	// that is not a command comes here.
	if c := b.router.suggest(toks); c != nil {
		return w.Reply(ctx, "I don't know "+strconv.Quote(toks[0].text)+". Did you mean "+strconv.Quote(c.Words)+`? Say "help" to see what I can do.`)
	}
	return w.Reply(ctx, "I don't know "+strconv.Quote(toks[0].text)+`. Say "help" to see what I can do.`)
}

// lanes runs each conversation's messages in order on its own goroutine,
// which lives only while the conversation has messages waiting.
type lanes struct {
	handle func(*Message)
	mu     sync.Mutex
	m      map[laneKey]*lane
	wg     sync.WaitGroup
}

// laneKey is a conversation: one user in one room of one adapter. A struct
// rather than the three joined keeps Receive from allocating a key for
// every message.
type laneKey struct{ adapter, room, user string }

type lane struct{ q []*Message }

func (l *lanes) push(key laneKey, m *Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[laneKey]*lane{}
	}
	ln := l.m[key]
	if ln != nil {
		ln.q = append(ln.q, m)
		return
	}
	ln = &lane{q: []*Message{m}}
	l.m[key] = ln
	l.wg.Go(func() { l.drain(key, ln) })
}

func (l *lanes) drain(key laneKey, ln *lane) {
	for {
		l.mu.Lock()
		if len(ln.q) == 0 {
			delete(l.m, key)
			l.mu.Unlock()
			return
		}
		m := ln.q[0]
		ln.q[0] = nil
		ln.q = ln.q[1:]
		l.mu.Unlock()
		l.handle(m)
	}
}

// wait returns once every received message has been handled.
func (l *lanes) wait() { l.wg.Wait() }
