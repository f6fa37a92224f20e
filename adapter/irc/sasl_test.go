package irc

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// ngIRCd has no SASL and no accounts, so these tests play the server's part
// of the IRCv3 exchanges from the specification
// (https://ircv3.net/specs/extensions/sasl-3.1, account-tag-3.2) over a
// loopback connection.

// script serves one connection: for each line the adapter must send (a
// prefix of it), the lines to answer with.
type step struct {
	expect string
	reply  []string
}

func scriptedServer(t *testing.T, steps []step) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for _, s := range steps {
			for {
				got, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(got, s.expect) {
					break
				}
			}
			for _, line := range s.reply {
				c.Write([]byte(line + "\r\n"))
			}
		}
		r.ReadString(0) // hold the connection until the client leaves
	}()
	return l.Addr().String()
}

func TestSASLPlainAndAccounts(t *testing.T) {
	creds := base64.StdEncoding.EncodeToString([]byte("secbot\x00secbot\x00pw"))
	addr := scriptedServer(t, []step{
		{"CAP LS 302", []string{":srv CAP * LS :multi-prefix sasl=PLAIN account-tag"}},
		{"CAP REQ :account-tag sasl", []string{":srv CAP * ACK :account-tag sasl"}},
		{"AUTHENTICATE PLAIN", []string{"AUTHENTICATE +"}},
		{"AUTHENTICATE " + creds, []string{":srv 900 seipbot seipbot!u@h secbot :You are now logged in", ":srv 903 seipbot :SASL authentication successful"}},
		{"CAP END", []string{":srv 001 seipbot :Welcome"}},
		{"JOIN #test", []string{
			":seipbot!u@h JOIN #test",
			"@account=alice :al!u@h PRIVMSG #test :seipbot: whoami",
			":mallory!u@h PRIVMSG #test :seipbot: whoami",
			"@account=* :guest!u@h PRIVMSG seipbot :hello",
			"@bot :otherbot!u@h PRIVMSG #test :seipbot: ping",
			":al!u@h PRIVMSG seipbot :\x01VERSION\x01",
			"@account=alice :al!u@h PRIVMSG seipbot :last",
		}},
	})
	opts := testOptions(addr)
	opts.Auth, opts.Account, opts.Password = AuthSASLPlain, "secbot", "pw"
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := runAdapter(t, a)
	want := []struct {
		id, room string
		direct   bool
	}{
		{"irc:alice", "#test", false},
		{"irc:~mallory", "#test", false}, // a guest can never pass for an account
		{"irc:~guest", "guest", true},
		{"irc:alice", "al", true}, // the bot and the CTCP request were skipped
	}
	for _, w := range want {
		m := rec.next(t)
		if m.User.ID != w.id || m.Room != w.room || m.Direct != w.direct {
			t.Errorf("delivered %+v; want from %s in %s (direct %v)", m, w.id, w.room, w.direct)
		}
	}
}

func TestSASLFailureStopsRun(t *testing.T) {
	addr := scriptedServer(t, []step{
		{"CAP LS 302", []string{":srv CAP * LS :sasl"}},
		{"CAP REQ :sasl", []string{":srv CAP * ACK :sasl"}},
		{"AUTHENTICATE PLAIN", []string{"AUTHENTICATE +"}},
		{"AUTHENTICATE ", []string{":srv 904 seipbot :SASL authentication failed"}},
	})
	opts := testOptions(addr)
	opts.Auth, opts.Password = AuthSASLPlain, "wrong"
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = a.Run(ctx, recorder{ch: make(chan *bot.Message, 1)})
	if err == nil || !strings.Contains(err.Error(), "SASL login as seipbot failed") {
		t.Errorf("Run = %v; want the SASL failure, without retrying", err)
	}
}
