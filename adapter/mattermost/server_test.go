package mattermost_test

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/seipbot/seipbot/adapter/mattermost/mattermosttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mattermosttest.StopShared()
	os.Exit(code)
}

// proxy stands between the bot and the server, so a test can cut the
// bot's connections (REST and websocket) without touching anyone else's.
type proxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		l.Close()
		p.drop()
	})
	go p.serve()
	return p
}

func (p *proxy) url() string { return "http://" + p.l.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		if !cut {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if cut {
			c.Close() // while cut, the server is unreachable
			continue
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// drop closes every connection through the proxy.
func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Drop is adaptertest's Harness.Drop: it cuts the bot off until the
// returned function is called.
func (p *proxy) Drop(t *testing.T) func() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.drop()
	return func() {
		p.mu.Lock()
		p.cut = false
		p.mu.Unlock()
	}
}
