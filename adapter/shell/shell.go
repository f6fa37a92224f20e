// Package shell is the adapter for talking to the bot in a terminal, or
// piping lines through it: one message per input line, the bot's answers on
// the output.
package shell

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// Options configure the shell adapter.
type Options struct {
	In  io.Reader
	Out io.Writer
	// User is the name the lines are sent as; the identity is "shell:User".
	User string
	// Room, when set, makes every line a message in that room, where only
	// lines addressed to the bot are commands. Empty: every line is a direct
	// message to the bot.
	Room string
	// Interactive prints a prompt and writes each answer at once; otherwise
	// output is buffered and written in batches.
	Interactive bool
	Prompt      string
	Now         func() time.Time
}

// Adapter is the shell adapter.
type Adapter struct {
	opts Options

	mu    sync.Mutex
	w     *bufio.Writer
	dirty chan struct{} // signals the flusher
	stop  chan struct{}
	once  sync.Once
}

var (
	_ bot.Adapter = (*Adapter)(nil)
	_ bot.Flusher = (*Adapter)(nil)
)

// New returns a shell adapter. It starts nothing until Run.
func New(opts Options) *Adapter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Adapter{
		opts:  opts,
		w:     bufio.NewWriterSize(opts.Out, 64<<10),
		dirty: make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
}

// Name returns "shell".
func (a *Adapter) Name() string { return "shell" }

// UserID returns the identity lines are sent as.
func (a *Adapter) UserID() string { return "shell:" + a.opts.User }

func (a *Adapter) conversation() string {
	if a.opts.Room != "" {
		return a.opts.Room
	}
	return "dm:" + a.opts.User
}

// Run reads lines until the input ends or ctx is cancelled.
func (a *Adapter) Run(ctx context.Context, in bot.Inbox) error {
	go a.flusher()
	// The reader hands each line to the bot itself, with no goroutine in
	// between to wake per line. It runs apart from Run only so that Run can
	// return when ctx ends while a read is blocked; gate keeps it from
	// handing over anything once Run has returned.
	var gate sync.RWMutex
	stopped := false
	done := make(chan error, 1)
	go func() {
		done <- a.read(ctx, func(m *bot.Message) bool {
			gate.RLock()
			defer gate.RUnlock()
			if stopped {
				return false
			}
			in.Receive(ctx, m)
			return true
		})
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		gate.Lock()
		stopped = true
		gate.Unlock()
		return nil
	}
}

// read passes each line of the input to receive until the input ends or
// receive refuses.
func (a *Adapter) read(ctx context.Context, receive func(*bot.Message) bool) error {
	sc := bufio.NewScanner(a.opts.In)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	user := bot.User{ID: a.UserID(), Name: a.opts.User}
	room := a.conversation()
	a.prompt()
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			a.prompt()
			continue
		}
		m := &bot.Message{
			ID:      strconv.Itoa(n),
			Adapter: "shell",
			Text:    line,
			Room:    room,
			User:    user,
			Direct:  a.opts.Room == "",
			Time:    a.opts.Now(),
		}
		if !receive(m) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	return nil
}

func (a *Adapter) prompt() {
	if !a.opts.Interactive {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.w.WriteString(a.opts.Prompt)
	a.w.Flush()
}

// Send writes r as a line (or lines). Answers to another room or user are
// marked with where they would go.
func (a *Adapter) Send(_ context.Context, r bot.Response) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Direct && r.User != a.UserID():
		a.w.WriteString("[to " + r.User + "] ")
	case !r.Direct && r.Room != a.conversation():
		a.w.WriteString("[" + r.Room + "] ")
	}
	a.w.WriteString(r.Text)
	if err := a.w.WriteByte('\n'); err != nil {
		return err
	}
	if a.opts.Interactive {
		// The answer ends with a fresh prompt, since the reader printed
		// its own before the answer came.
		a.w.WriteString(a.opts.Prompt)
		return a.w.Flush()
	}
	select {
	case a.dirty <- struct{}{}:
	default:
	}
	return nil
}

// flusher writes buffered answers out whenever there are some, so a burst of
// answers costs one write rather than one each.
func (a *Adapter) flusher() {
	for {
		select {
		case <-a.stop:
			return
		case <-a.dirty:
			a.mu.Lock()
			a.w.Flush()
			a.mu.Unlock()
		}
	}
}

// Flush writes out everything buffered; the outbox calls it before it
// forgets a durable item.
func (a *Adapter) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.w.Flush()
}

// Close writes out everything buffered.
func (a *Adapter) Close() error {
	var err error
	a.once.Do(func() {
		close(a.stop)
		a.mu.Lock()
		err = a.w.Flush()
		a.mu.Unlock()
	})
	return err
}
