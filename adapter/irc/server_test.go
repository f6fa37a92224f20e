package irc

import (
	"io"
	"net"
	"sync"
	"testing"
)

// gate forwards the bot's connections to the server, and can refuse them:
// while closed, a restarted server lets the human back into the channel
// before the bot, so the bot's queued replies have someone to reach.
type gate struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	closed bool
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{l: l, target: target}
	t.Cleanup(func() { l.Close() })
	go g.serve()
	return g
}

func (g *gate) addr() string { return g.l.Addr().String() }

func (g *gate) set(closed bool) {
	g.mu.Lock()
	g.closed = closed
	g.mu.Unlock()
}

func (g *gate) serve() {
	for {
		c, err := g.l.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		closed := g.closed
		g.mu.Unlock()
		if closed {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}
