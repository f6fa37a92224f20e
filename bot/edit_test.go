package bot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/store/memory"
)

// progress is a response that replaces the message named key.
func progress(room, key, text string) bot.Response {
	return bot.Response{Room: room, Text: text, Key: key, Replace: true}
}

func TestOutboxEditsTheKeyedMessage(t *testing.T) {
	a := bottest.NewEditingAdapter("test")
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond})
	o.AddAdapter(a)
	ctx := context.Background()
	o.Send(ctx, progress("#a", "job-1", "10%")) // nothing to edit yet: posted
	o.Send(ctx, say("#a", "hello"))
	o.Send(ctx, progress("#a", "job-1", "50%"))
	o.Send(ctx, progress("#b", "job-1", "elsewhere")) // another room: posted
	o.Send(ctx, progress("#a", "job-1", "90%"))
	runOutbox(t, o)
	// The rooms' queues run side by side, so #b's message may come first.
	msgs := a.Messages()
	slices.Sort(msgs)
	if got := fmt.Sprint(msgs); got != "[90% elsewhere hello]" {
		t.Errorf("the messages read %s, want 90%%, elsewhere and hello", got)
	}
	// Each room's order is kept, edits included.
	var inA []string
	for _, r := range a.Sent() {
		if r.Room == "#a" {
			inA = append(inA, r.Text)
		}
	}
	if got := fmt.Sprint(inA); got != "[10% hello 50% 90%]" {
		t.Errorf("#a got %s in this order, want [10%% hello 50%% 90%%]", got)
	}
}

func TestOutboxPostsWithoutReplace(t *testing.T) {
	a := bottest.NewEditingAdapter("test")
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond})
	o.AddAdapter(a)
	ctx := context.Background()
	o.Send(ctx, progress("#a", "k", "1"))
	r := progress("#a", "k", "2")
	r.Replace = false // a new message, which the key now names
	o.Send(ctx, r)
	o.Send(ctx, progress("#a", "k", "3"))
	runOutbox(t, o)
	if got := fmt.Sprint(a.Messages()); got != "[1 3]" {
		t.Errorf("the messages read %s, want [1 3]", got)
	}
}

// poster can name its messages but not edit them.
type poster struct{ *bottest.Adapter }

func (p poster) Post(ctx context.Context, r bot.Response) (string, error) {
	return "ref", p.Send(ctx, r)
}

func TestOutboxPostsWhereTheAdapterCannotEdit(t *testing.T) {
	for name, a := range map[string]bot.Adapter{
		"plain":  bottest.NewAdapter("test"),
		"poster": poster{bottest.NewAdapter("test")},
	} {
		t.Run(name, func(t *testing.T) {
			o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond})
			o.AddAdapter(a)
			for _, text := range []string{"1", "2", "3"} {
				o.Send(context.Background(), progress("#a", "k", text))
			}
			runOutbox(t, o)
			var got []string
			switch a := a.(type) {
			case *bottest.Adapter:
				got = a.Texts()
			case poster:
				got = a.Texts()
			}
			if fmt.Sprint(got) != "[1 2 3]" {
				t.Errorf("delivered %s, want every line posted: [1 2 3]", got)
			}
		})
	}
}

func TestOutboxPostsWhenTheEditIsRefused(t *testing.T) {
	a := bottest.NewEditingAdapter("test")
	a.FailEdit = func(ref string, r bot.Response) error {
		if r.Text == "too long" {
			return bot.Permanent(errors.New("does not fit one message"))
		}
		return nil
	}
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond})
	o.AddAdapter(a)
	ctx := context.Background()
	o.Send(ctx, progress("#a", "k", "1"))
	o.Send(ctx, progress("#a", "k", "too long"))
	o.Send(ctx, progress("#a", "k", "3")) // edits the new message
	runOutbox(t, o)
	if got := fmt.Sprint(a.Messages()); got != "[1 3]" {
		t.Errorf("the messages read %q, want [1 3]", got)
	}
}

func TestOutboxRetriesAFailedEdit(t *testing.T) {
	a := bottest.NewEditingAdapter("test")
	var mu sync.Mutex
	failures := 0
	a.FailEdit = func(string, bot.Response) error {
		mu.Lock()
		defer mu.Unlock()
		if failures < 2 {
			failures++
			return errors.New("connection refused")
		}
		return nil
	}
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond})
	o.AddAdapter(a)
	ctx := context.Background()
	o.Send(ctx, progress("#a", "k", "1"))
	o.Send(ctx, progress("#a", "k", "2"))
	runOutbox(t, o)
	if got := fmt.Sprint(a.Messages()); got != "[2]" || a.Edits() != 1 {
		t.Errorf("the messages read %s after %d edits, want [2] after one edit", got, a.Edits())
	}
}

// TestOutboxEditsThroughTheStore runs two outboxes on one store and one
// chat platform, as two replicas sharing Redis do: a keyed message one
// posted is edited by the other, and by an outbox started afresh; when
// one had to post anew (the message was deleted), the other edits the new
// message, not the one it knew of before.
func TestOutboxEditsThroughTheStore(t *testing.T) {
	st := memory.New()
	chat := bottest.NewEditingAdapter("chat")
	ctx := t.Context()
	replica := func() *bot.Outbox {
		o := bot.NewOutbox(st, nil, bot.Backoff{Min: time.Millisecond})
		o.AddAdapter(chat)
		go o.Run(ctx)
		return o
	}
	send := func(o *bot.Outbox, text string) {
		t.Helper()
		o.Send(ctx, progress("#a", "job-1", text))
		if err := o.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a, b := replica(), replica()
	send(a, "10%")
	send(b, "50%")
	send(replica(), "60%")
	if got := fmt.Sprint(chat.Messages()); got != "[60%]" {
		t.Fatalf("the messages read %s, want one message reading 60%%", got)
	}
	// The message is deleted: B posts anew, and A then edits B's message.
	chat.FailEdit = func(ref string, _ bot.Response) error {
		if ref == "1" {
			return bot.Permanent(errors.New("message deleted"))
		}
		return nil
	}
	send(b, "70%")
	send(a, "80%")
	if got := fmt.Sprint(chat.Messages()); got != "[60% 80%]" {
		t.Fatalf("the messages read %s, want the deleted one and the new one reading 80%%", got)
	}
	var keys []string
	st.Scan(ctx, "outboxref/", func(key string, _ []byte) error {
		keys = append(keys, key)
		return nil
	})
	if len(keys) != 1 || strings.Contains(keys[0], "job-1") || strings.Contains(keys[0], "#a") {
		t.Errorf("the store holds references under %q, want one key that names neither room nor key", keys)
	}
}
