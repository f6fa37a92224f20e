package adaptertest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/bot"
)

// TestSuiteOnMemoryPlatform runs the suite against an in-memory platform
// that behaves as a good adapter must, so the suite's own logic is checked
// without any server.
func TestSuiteOnMemoryPlatform(t *testing.T) {
	p := &platform{toBot: make(chan *bot.Message, 64), toUser: make(chan adaptertest.Received, 1024)}
	adaptertest.Run(t, adaptertest.Harness{
		NewAdapter: func(*testing.T) bot.Adapter { return p },
		User:       p,
		Room:       "#room",
		BotName:    "seipbot",
		MaxLen:     100,
		Render:     func(s string) string { return s },
		Drop: func(*testing.T) func() {
			p.setDown(true)
			return func() { p.setDown(false) }
		},
	})
}

// platform is both the adapter and the human's client of a chat platform
// that lives in memory: it splits long lines at MaxLen on rune boundaries
// and refuses to send while down.
type platform struct {
	toBot  chan *bot.Message
	toUser chan adaptertest.Received

	mu   sync.Mutex
	down bool
}

func (p *platform) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

func (p *platform) Name() string { return "memory" }

func (p *platform) Run(ctx context.Context, in bot.Inbox) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-p.toBot:
			in.Receive(ctx, m)
		}
	}
}

func (p *platform) Send(_ context.Context, r bot.Response) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return errors.New("not connected")
	}
	for line := range strings.SplitSeq(r.Text, "\n") {
		for len(line) > 0 {
			n := min(len(line), 100)
			for n < len(line) && !utf8.RuneStart(line[n]) {
				n--
			}
			got := adaptertest.Received{Room: r.Room, Direct: r.Direct, Text: line[:n]}
			if r.Direct {
				got.Room = ""
			}
			p.toUser <- got
			line = line[n:]
		}
	}
	return nil
}

func (p *platform) ID() string { return "memory:alice" }

func (p *platform) Say(_ context.Context, text string) error {
	p.toBot <- &bot.Message{Adapter: "memory", Room: "#room", Text: text, User: bot.User{ID: p.ID(), Name: "alice"}}
	return nil
}

func (p *platform) SayDirect(_ context.Context, text string) error {
	p.toBot <- &bot.Message{Adapter: "memory", Room: "dm:alice", Direct: true, Text: text, User: bot.User{ID: p.ID(), Name: "alice"}}
	return nil
}

func (p *platform) Next(ctx context.Context) (adaptertest.Received, error) {
	select {
	case <-ctx.Done():
		return adaptertest.Received{}, ctx.Err()
	case r := <-p.toUser:
		return r, nil
	}
}
