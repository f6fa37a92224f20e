package bot_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/store"
)

// claimer is a Claimer whose ids in taken belong to another replica, and
// which fails every claim when err is set.
type claimer struct {
	err   error
	mu    sync.Mutex
	taken map[string]bool
	asked []string
}

func (c *claimer) Claim(_ context.Context, id string, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, id)
	if c.err != nil {
		return false, c.err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("claim of %s without a ttl", id)
	}
	if c.taken[id] {
		return false, nil
	}
	c.taken[id] = true
	return true, nil
}

func withID(id string, m *bot.Message) *bot.Message {
	m.ID = id
	return m
}

func TestClaimSkipsMessagesOtherReplicasHave(t *testing.T) {
	c := &claimer{taken: map[string]bool{"test:2": true}}
	got := bottest.Run(t, bot.Options{Claimer: c}, []bot.Plugin{echo{}},
		withID("1", bottest.DM("ann", "say one")),
		withID("2", bottest.DM("ann", "say two")),
		withID("1", bottest.DM("ann", "say again")), // redelivered: already ours
		bottest.DM("ann", "say unclaimed"),          // no id to claim by
	)
	if want := []string{"say word=one", "say word=unclaimed"}; !slices.Equal(texts(got), want) {
		t.Fatalf("replies = %q, want %q", texts(got), want)
	}
	if want := []string{"test:1", "test:2", "test:1"}; !slices.Equal(c.asked, want) {
		t.Fatalf("claimed %q, want %q", c.asked, want)
	}
}

func TestClaimFailureAnswersCommandsOnly(t *testing.T) {
	c := &claimer{err: fmt.Errorf("redis: %w: dial tcp: connection refused", store.ErrUnavailable)}
	got := bottest.Run(t, bot.Options{Claimer: c}, []bot.Plugin{echo{}},
		withID("1", bottest.InRoom("#sec", "ann", "seipbot say one")),
		withID("2", bottest.InRoom("#sec", "ann", "lunch anyone?")),
	)
	if len(got) != 1 || got[0].Text != "Storage is unavailable right now, so I can't do that; try again in a minute." {
		t.Fatalf("replies = %q, want one saying storage is unavailable", texts(got))
	}
}

// down is a plugin whose store is unreachable.
type down struct{}

func (down) Name() string { return "down" }
func (down) Register(r *bot.Registry) error {
	r.Command(bot.Command{Words: "notes", Handler: bot.HandlerFunc(func(context.Context, bot.Responder, *bot.Message) error {
		return fmt.Errorf("notes: %w", store.ErrUnavailable)
	})})
	return nil
}

func TestUnavailableStorageIsReported(t *testing.T) {
	got := bottest.Run(t, bot.Options{}, []bot.Plugin{down{}}, bottest.DM("ann", "notes"))
	if len(got) != 1 || got[0].Text != "Storage is unavailable right now, so I can't do that; try again in a minute." {
		t.Fatalf("replies = %q, want one saying storage is unavailable", texts(got))
	}
}
