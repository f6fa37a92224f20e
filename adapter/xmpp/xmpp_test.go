package xmpp

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seipbot/seipbot/bot"
)

func TestRender(t *testing.T) {
	tests := []struct{ in, want string }{
		{"**bold** and **more**", "*bold* and *more*"},
		{"see [the report](https://example.com/r/1).", "see the report <https://example.com/r/1>."},
		{"[https://x.org](https://x.org)", "<https://x.org>"},
		{"run `**not bold**` now", "run `**not bold**` now"},
		{"```\n**kept** [a](https://b)\n```\n**after**", "```\n**kept** [a](https://b)\n```\n*after*"},
		{"a ** b and [x](javascript:alert(1))", "a ** b and [x](javascript:alert(1))"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := render(tt.in); got != tt.want {
			t.Errorf("render(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string
	}{
		{"short", 10, []string{"short"}},
		{"one\ntwo\nthree", 9, []string{"one\ntwo", "three"}},
		{"aaaa bbbb cccc", 10, []string{"aaaa bbbb ", "cccc"}},
		{"abcdefghijkl", 5, []string{"abcde", "fghij", "kl"}},
		{"ééééé", 5, []string{"éé", "éé", "é"}},
		{"😀😀", 6, []string{"😀", "😀"}},
		{"", 10, nil},
	}
	for _, tt := range tests {
		got := split(tt.in, tt.max)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("split(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestSplitKeepsEverything checks the properties the conformance suite
// needs on a long mixed text: parts within the limit, valid UTF-8, and
// together the whole text less the line breaks between parts.
func TestSplitKeepsEverything(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		b.WriteString(strings.Repeat([]string{"a", "é", "€", "😀", " "}[i%5], i))
		b.WriteByte('\n')
	}
	text := b.String()
	parts := split(text, minMaxLen)
	for i, p := range parts {
		if len(p) > minMaxLen || !utf8.ValidString(p) {
			t.Fatalf("part %d is %d bytes or broken: %q", i, len(p), p)
		}
	}
	flat := func(s string) string { return strings.ReplaceAll(s, "\n", "") }
	if got := flat(strings.Join(parts, "")); got != flat(text) {
		t.Error("the parts do not add up to the text")
	}
}

// testLink is a connection's state without a connection: the bot is in
// soc@conference.localhost as seipbot, where alice's real JID shows, and in
// anon@conference.localhost, where none does.
func testLink(t *testing.T) *link {
	a, err := New(Options{JID: "seipbot@localhost", Rooms: []Room{{JID: "soc@conference.localhost"}, {JID: "anon@conference.localhost"}},
		Backoff: bot.Backoff{Min: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	l := &link{a: a, s: &session{closed: make(chan struct{})}, rooms: map[string]*roomState{}}
	for jid := range a.rooms {
		l.rooms[jid] = &roomState{nick: "seipbot", occupants: map[string]string{}}
	}
	for _, p := range []string{
		`<presence from='soc@conference.localhost/alice'><x xmlns='http://jabber.org/protocol/muc#user'><item jid='alice@localhost/phone' role='participant'/></x></presence>`,
		`<presence from='soc@conference.localhost/seipbot'><x xmlns='http://jabber.org/protocol/muc#user'><item jid='seipbot@localhost/seipbot'/><status code='110'/></x></presence>`,
		`<presence from='anon@conference.localhost/mallory'><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant'/></x></presence>`,
		`<presence from='anon@conference.localhost/seipbot'><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></presence>`,
	} {
		l.presence(parse(t, p))
	}
	return l
}

func parse(t *testing.T, x string) *stanza {
	t.Helper()
	var st stanza
	if err := xml.Unmarshal([]byte(x), &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestMessage(t *testing.T) {
	l := testLink(t)
	tests := []struct {
		name, stanza string
		want         *bot.Message // nil: not delivered
	}{
		{"room message, real JID shown",
			`<message type='groupchat' id='1' from='soc@conference.localhost/alice'><body>seipbot: ping</body></message>`,
			&bot.Message{ID: "1", Room: "soc@conference.localhost", Text: "ping", Mentioned: true, User: bot.User{ID: "xmpp:alice@localhost", Name: "alice"}}},
		{"room message, anonymous room",
			`<message type='groupchat' id='2' from='anon@conference.localhost/mallory'><body>hello</body></message>`,
			&bot.Message{ID: "2", Room: "anon@conference.localhost", Text: "hello", User: bot.User{ID: "xmpp:anon@conference.localhost/mallory", Name: "mallory"}}},
		{"direct message",
			`<message type='chat' id='3' from='bob@localhost/laptop'><body>help</body></message>`,
			&bot.Message{ID: "3", Room: "bob@localhost", Text: "help", Direct: true, User: bot.User{ID: "xmpp:bob@localhost", Name: "bob"}}},
		{"private message through a room",
			`<message type='chat' id='4' from='soc@conference.localhost/alice'><body>help</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`,
			&bot.Message{ID: "4", Room: "soc@conference.localhost/alice", Text: "help", Direct: true, User: bot.User{ID: "xmpp:alice@localhost", Name: "alice"}}},
		{"history replayed on join",
			`<message type='groupchat' from='soc@conference.localhost/alice'><body>seipbot: scan ports 10.0.0.0/8</body><delay xmlns='urn:xmpp:delay' stamp='2024-01-01T00:00:00Z' from='soc@conference.localhost'/></message>`,
			nil},
		{"history with the old delay",
			`<message type='groupchat' from='soc@conference.localhost/alice'><body>seipbot: ping</body><x xmlns='jabber:x:delay' stamp='20240101T00:00:00'/></message>`,
			nil},
		{"offline direct message",
			`<message type='chat' from='bob@localhost/laptop'><body>ping</body><delay xmlns='urn:xmpp:delay' stamp='2024-01-01T00:00:00Z'/></message>`,
			nil},
		{"own echo", `<message type='groupchat' from='soc@conference.localhost/seipbot'><body>seipbot: ping</body></message>`, nil},
		{"own other connection", `<message type='chat' from='seipbot@localhost/other'><body>ping</body></message>`, nil},
		{"room subject", `<message type='groupchat' from='soc@conference.localhost/alice'><subject>SOC</subject></message>`, nil},
		{"room itself", `<message type='groupchat' from='soc@conference.localhost'><body>This room is not anonymous</body></message>`, nil},
		{"room not configured", `<message type='groupchat' from='other@conference.localhost/alice'><body>seipbot: ping</body></message>`, nil},
		{"error", `<message type='error' from='bob@localhost'><body>ping</body><error type='cancel'/></message>`, nil},
		{"chat state only", `<message type='chat' from='bob@localhost/x'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.message(parse(t, tt.stanza))
			if tt.want != nil {
				tt.want.Adapter = "xmpp"
			}
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil:
				t.Errorf("got %+v, want %+v", got, tt.want)
			case !reflect.DeepEqual(got, tt.want):
				t.Errorf("got  %+v\nwant %+v", *got, *tt.want)
			}
		})
	}
}

func TestRoomPresence(t *testing.T) {
	l := testLink(t)
	if !l.joined("soc@conference.localhost") {
		t.Fatal("self-presence did not mark the room joined")
	}
	l.presence(parse(t, `<presence type='unavailable' from='soc@conference.localhost/alice'/>`))
	if _, ok := l.rooms["soc@conference.localhost"].occupants["alice"]; ok {
		t.Error("alice left but is still an occupant")
	}
	l.presence(parse(t, `<presence type='unavailable' from='soc@conference.localhost/seipbot'><x xmlns='http://jabber.org/protocol/muc#user'><status code='307'/><status code='110'/></x></presence>`))
	if l.joined("soc@conference.localhost") {
		t.Error("still joined after a kick")
	}
	if r := l.rooms["soc@conference.localhost"]; r.retry != time.Hour {
		t.Errorf("no rejoin scheduled after a kick (retry %s)", r.retry)
	}
	l.presence(parse(t, `<presence type='error' from='anon@conference.localhost/seipbot'><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`))
	if l.joined("anon@conference.localhost") {
		t.Error("still joined after a refused join")
	}
}

func TestNewRejects(t *testing.T) {
	for _, opts := range []Options{
		{JID: "example.com"},
		{JID: "bot@example.com/res"},
		{JID: "bot@example.com", DirectTLS: true, Plaintext: true},
		{JID: "bot@example.com", MaxLen: 10},
		{JID: "bot@example.com", Rooms: []Room{{JID: "soc"}}},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

func TestSendDestinations(t *testing.T) {
	a, err := New(Options{JID: "seipbot@localhost", Rooms: []Room{{JID: "soc@conference.localhost"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, r := range []bot.Response{
		{Room: "unknown@conference.localhost", Text: "x"},
		{Direct: true, User: "slack:U1", Text: "x"},
		{Direct: true, User: "xmpp:nodomain", Text: "x"},
	} {
		if err := a.Send(ctx, r); !bot.IsPermanent(err) {
			t.Errorf("Send(%+v) = %v; want a permanent error", r, err)
		}
	}
	// Not connected: the outbox must keep the reply and retry.
	if err := a.Send(ctx, bot.Response{Room: "soc@conference.localhost", Text: "x"}); err == nil || bot.IsPermanent(err) {
		t.Errorf("Send while disconnected = %v; want a retryable error", err)
	}
}
