package xmpp

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/xmpp/xmpptest"
)

// TestChaosServerRestart restarts Prosody while alice sends a real bot 60
// numbered commands at a steady pace, and checks that nothing acknowledged
// is lost or answered twice, and that the same bot, with the same adapter,
// serves the second half without being restarted.
//
// "Acknowledged" is what alice can know. A room reflects every message to
// all its occupants, the sender included, so the reflection of her command
// means the room has taken it and passed it on to whoever was in. XMPP
// rooms replay no history to a bot (it asks for none, and drops delayed
// messages), so a command said while the bot is out of the room is gone for
// it: a command counts only when alice had seen the bot's presence in the
// room before saying it, and no unavailable presence of it before the
// reflection. Commands without a reflection (the one cut off by the
// restart) or said while the bot was away may be answered at most once.
// The replies the bot sends before alice is back reach her as the room's
// history when she rejoins; she counts them like any other.
func TestChaosServerRestart(t *testing.T) {
	p := xmpptest.Start(t)
	const room = "chaos@conference.localhost"
	w := &watcher{ledger: adaptertest.NewLedger(), reflected: map[string]chan struct{}{}}
	alice := newObservedHuman(t, p, room, w.observe)
	a, err := New(botOptions(t, p, Room{JID: room}))
	if err != nil {
		t.Fatal(err)
	}
	adaptertest.RunChaos(t, adaptertest.Chaos{
		Adapter: a,
		Backoff: botBackoff,
		Ledger:  w.ledger,
		Send:    func(t *testing.T, n int) { w.send(t, alice, n) },
		Cut: func(t *testing.T, n int) {
			// Right after the command, before its reflection: this one is
			// in flight.
			w.ledger.Sent(n)
			alice.Say(t.Context(), command(n))
			p.Stop()
			p.Start()
			w.reconnected()
			alice.connect(t)
		},
		Last: func(t *testing.T) {
			if err := alice.Say(t.Context(), command(0)+" end"); err != nil {
				t.Fatal(err)
			}
			w.awaitAnswer(t, "ack 0 end")
		},
	})
}

func command(n int) string { return "seipbot: echo " + strconv.Itoa(n) }

// watcher follows, from alice's stanzas, whether the bot is in the room,
// which of her commands the room reflected, and what the bot answered.
type watcher struct {
	ledger *adaptertest.Ledger

	mu        sync.Mutex
	reflected map[string]chan struct{} // command text → closed on its reflection
	last      string                   // the bot's last message
	lastCh    chan struct{}
}

func (w *watcher) observe(st *stanza) {
	from, nick := bareAndResource(st.From)
	if !strings.HasPrefix(from, "chaos@") {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if st.XMLName.Local == "presence" {
		if nick == "seipbot" {
			w.ledger.BotIn(st.Type == "")
		}
		return
	}
	if st.Body == nil || st.Type != "groupchat" {
		return
	}
	delayed := st.Delay != nil || st.OldDelay != nil
	switch nick {
	case "alice":
		if ch := w.reflected[*st.Body]; ch != nil && !delayed {
			close(ch)
			delete(w.reflected, *st.Body)
		}
	case "seipbot":
		w.ledger.Answer(*st.Body)
		w.last = *st.Body
		if w.lastCh != nil {
			close(w.lastCh)
			w.lastCh = nil
		}
	}
}

// send says command n and counts it acknowledged if the bot was in the room
// before it, and the room reflects it while the bot is still there.
func (w *watcher) send(t *testing.T, alice *human, n int) {
	t.Helper()
	text := command(n)
	ch := make(chan struct{})
	w.mu.Lock()
	w.reflected[text] = ch
	w.mu.Unlock()
	w.ledger.Say(t, n, func() error { return alice.Say(t.Context(), text) }, ch, "reflection by the room")
}

func (w *watcher) reconnected() {
	w.mu.Lock()
	w.reflected = map[string]chan struct{}{}
	w.mu.Unlock()
	w.ledger.Reconnected()
}

// awaitAnswer waits until the bot's last message is text.
func (w *watcher) awaitAnswer(t *testing.T, text string) {
	t.Helper()
	deadline := time.After(adaptertest.Timeout)
	for {
		ch := make(chan struct{})
		w.mu.Lock()
		if w.last == text {
			w.mu.Unlock()
			return
		}
		w.lastCh = ch
		w.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("the bot did not answer %q", text)
		}
	}
}
