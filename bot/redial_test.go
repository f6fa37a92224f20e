package bot_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seipbot/seipbot/bot"
)

func TestRedial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := bot.Backoff{Min: time.Second, Max: 8 * time.Second}
		var waits []time.Duration
		sessions := 0
		refused := errors.New("password refused")
		err := bot.Redial(t.Context(), b, func(ctx context.Context) (bool, error) {
			sessions++
			switch sessions {
			case 6: // up for a long while, then dropped: the backoff starts over
				time.Sleep(time.Minute)
				return true, errors.New("dropped")
			case 8:
				return false, bot.Fatal(refused)
			}
			return false, errors.New("connection refused")
		}, func(err error, wait time.Duration) { waits = append(waits, wait) })
		if !errors.Is(err, refused) || !bot.IsFatal(err) {
			t.Fatalf("Redial returned %v, want the fatal error", err)
		}
		if sessions != 8 || len(waits) != 7 {
			t.Fatalf("%d sessions and %d waits, want 8 and 7", sessions, len(waits))
		}
		// Each wait is jittered within [delay/2, delay]: 1s, 2s, 4s, 8s, 8s,
		// then 1s again after the long session, then 2s.
		delays := []time.Duration{1, 2, 4, 8, 8, 1, 2}
		for i, w := range waits {
			d := delays[i] * time.Second
			if w < d/2 || w > d {
				t.Errorf("wait %d = %s, want between %s and %s", i, w, d/2, d)
			}
		}
	})
}

func TestRedialStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		err := bot.Redial(ctx, bot.Backoff{Min: time.Second, Max: time.Minute}, func(context.Context) (bool, error) {
			return false, errors.New("down")
		}, func(error, time.Duration) { cancel() })
		if err != nil {
			t.Fatalf("Redial returned %v after its context ended, want nil", err)
		}
	})
}
