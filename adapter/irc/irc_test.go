package irc

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/irc/irctest"
	"github.com/seipbot/seipbot/bot"
)

// testOptions are the adapter's options for a test server: plaintext on
// loopback, and quick reconnects.
func testOptions(addr string) Options {
	return Options{
		Addr: addr, Insecure: true, Nick: "seipbot", Channels: []string{"#test"},
		BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

func TestConformance(t *testing.T) {
	srv := irctest.Start(t, irctest.Options{})
	g := newGate(t, srv.Addr)
	user := irctest.NewClient(t, srv.Addr, "alice", "seipbot")
	adaptertest.Run(t, adaptertest.Harness{
		NewAdapter: func(t *testing.T) bot.Adapter {
			opts := testOptions(g.addr())
			// This server does not throttle; TestPacingUnderThrottling checks
			// the default pace against one that does.
			opts.PaceEvery = 10 * time.Millisecond
			a, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			return a
		},
		User:    user,
		Room:    "#test",
		BotName: "seipbot",
		// What ngIRCd relays: ":seipbot!~seipbot@127.0.0.1 PRIVMSG #test :…\r\n".
		MaxLen: maxLine - len(":seipbot!~seipbot@127.0.0.1 PRIVMSG #test :\r\n"),
		Render: func(string) string {
			return "\x02Scan done\x02: see the report (https://example.com/r/1)\n" +
				"open 22/tcp ssh\nopen 443/tcp https\n" +
				"Run scan ports again."
		},
		// A real restart: the gate keeps the bot out until the human is
		// back in the channel, since IRC keeps no history to catch up on.
		Drop: func(t *testing.T) func() {
			g.set(true)
			srv.Stop()
			return func() {
				srv.Start()
				user.Connect()
				g.set(false)
			}
		},
	})
}

// recorder is an Inbox that keeps what the adapter delivers.
type recorder struct{ ch chan *bot.Message }

func (r recorder) Receive(_ context.Context, m *bot.Message) { r.ch <- m }

// runAdapter runs a with a recorder until the test ends, and waits until it
// has joined its channels.
func runAdapter(t *testing.T, a *Adapter) recorder {
	t.Helper()
	rec := recorder{ch: make(chan *bot.Message, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, rec) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})
	wait, stop := context.WithTimeout(ctx, adaptertest.Timeout)
	defer stop()
	if _, err := a.session(wait); err != nil {
		t.Fatalf("the adapter did not connect: %v", err)
	}
	return rec
}

func (r recorder) next(t *testing.T) *bot.Message {
	t.Helper()
	select {
	case m := <-r.ch:
		return m
	case <-time.After(adaptertest.Timeout):
		t.Fatal("the adapter delivered nothing")
		return nil
	}
}

// TestNickCollisionAndKeys: with its nick taken the adapter takes another,
// and a line addressed to that one still reaches the bot as a mention; a
// channel with a key is joined.
func TestNickCollisionAndKeys(t *testing.T) {
	srv := irctest.Start(t, irctest.Options{})
	squatter := irctest.NewClient(t, srv.Addr, "seipbot", "nobody")
	opts := testOptions(srv.Addr)
	opts.Channels = []string{"#test", "#keyed"}
	opts.Keys = map[string]string{"#keyed": "sesame"}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := runAdapter(t, a)
	s, _ := a.session(context.Background())
	if !s.isMe("seipbot_") {
		t.Errorf("the adapter's nick is %q; want seipbot_", s.nick)
	}

	squatter.Say(context.Background(), "seipbot_: echo hi")
	m := rec.next(t)
	if !m.Mentioned || m.Text != "echo hi" || m.Room != "#test" || m.User.ID != "irc:seipbot" {
		t.Errorf("delivered %+v; want a mention \"echo hi\" in #test from irc:seipbot", m)
	}

	squatter.Follow("seipbot_")
	if err := a.Send(context.Background(), bot.Response{Room: "#keyed", Text: "in the keyed channel"}); err != nil {
		t.Fatalf("send to #keyed: %v", err)
	}
	squatter.Raw("JOIN #keyed sesame")
	if err := a.Send(context.Background(), bot.Response{Direct: true, User: "irc:seipbot", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	if got, err := squatter.Next(ctx); err != nil || got != (adaptertest.Received{Direct: true, Text: "hello"}) {
		t.Errorf("the squatter received %+v, %v; want a direct hello", got, err)
	}
}

// TestPacingUnderThrottling sends 30 lines to an ngIRCd with its flood
// penalties on; they all arrive, in order, and the bot is never
// disconnected.
func TestPacingUnderThrottling(t *testing.T) {
	srv := irctest.Start(t, irctest.Options{Throttle: true})
	user := irctest.NewClient(t, srv.Addr, "alice", "seipbot")
	a, err := New(testOptions(srv.Addr))
	if err != nil {
		t.Fatal(err)
	}
	runAdapter(t, a)
	var want []string
	for i := range 30 {
		want = append(want, fmt.Sprintf("line %d of 30", i+1))
	}
	if err := a.Send(context.Background(), bot.Response{Room: "#test", Text: strings.Join(want, "\n")}); err != nil {
		t.Fatalf("send: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*adaptertest.Timeout)
	defer cancel()
	for i, w := range want {
		got, err := user.Next(ctx)
		if err != nil {
			t.Fatalf("after %d lines: %v", i, err)
		}
		if got.Text != w {
			t.Fatalf("line %d is %q; want %q", i+1, got.Text, w)
		}
	}
	select {
	case nick := <-user.Quits:
		t.Errorf("%s was disconnected while sending", nick)
	default:
	}
}

// TestPacer checks the token bucket in fake time: a burst, then one line
// per interval, in the order the callers came.
func TestPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(4, 500*time.Millisecond)
		start := time.Now()
		var at []time.Duration
		for range 7 {
			if err := p.wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			at = append(at, time.Since(start))
		}
		want := []time.Duration{0, 0, 0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Errorf("lines left at %v; want %v", at, want)
		}
		time.Sleep(time.Hour) // a long pause refills no more than the burst
		start = time.Now()
		at = at[:0]
		for range 5 {
			p.wait(context.Background())
			at = append(at, time.Since(start))
		}
		if want := "[0s 0s 0s 0s 500ms]"; fmt.Sprint(at) != want {
			t.Errorf("after a pause lines left at %v; want %v", at, want)
		}
	})
}

// TestTLS connects over TLS to ngIRCd with a certificate from a private CA:
// verified with the CA file, refused without it.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	port := adaptertest.FreePort(t)
	srv := irctest.Start(t, irctest.Options{SSL: fmt.Sprintf("[SSL]\n\tCertFile = %s\n\tKeyFile = %s\n\tPorts = %d\n", certFile, keyFile, port)})
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	user := irctest.NewClient(t, srv.Addr, "alice", "seipbot")

	opts := testOptions(tlsAddr)
	opts.Insecure, opts.CAFile = false, caFile
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	runAdapter(t, a)
	if err := a.Send(context.Background(), bot.Response{Room: "#test", Text: "over TLS"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	if got, err := user.Next(ctx); err != nil || got.Text != "over TLS" {
		t.Errorf("received %+v, %v; want \"over TLS\"", got, err)
	}

	opts.CAFile = ""
	untrusting, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{a: untrusting}
	var unknown x509.UnknownAuthorityError
	if err := s.dial(ctx); !errors.As(err, &unknown) {
		t.Errorf("dial without the CA = %v; want an unknown authority error", err)
	}
}
