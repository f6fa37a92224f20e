package mattermost

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/seipbot/seipbot/bot"
)

// inbox records what the handler delivers.
type inbox struct{ got []*bot.Message }

func (i *inbox) Receive(_ context.Context, m *bot.Message) { i.got = append(i.got, m) }

// TestActionHandler checks the click endpoint on its own; the clicks a real
// server sends are tested in TestApprovalButtons.
func TestActionHandler(t *testing.T) {
	a, err := New(Options{URL: "http://127.0.0.1:1", Token: "t", ActionURL: "http://127.0.0.1:2/actions"})
	if err != nil {
		t.Fatal(err)
	}
	alice := &user{ID: model.NewId(), Username: "alice"}
	a.users[alice.ID] = alice // no server to look her up on
	channel := model.NewId()
	good := action{Command: "approve k3x7", Channel: channel, Thread: model.NewId(), Expires: time.Now().Add(time.Hour)}
	forged := a.context(good)
	forged[ctxCommand] = "approve zzzz"
	expired := good
	expired.Expires = time.Now().Add(-time.Second)
	wrongKey, _ := New(Options{URL: "http://127.0.0.1:1", Token: "t"})

	click := func(ctx map[string]any, channel string) string {
		b, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: alice.ID, ChannelId: channel, PostId: model.NewId(), TriggerId: "trigger", Context: ctx})
		return string(b)
	}
	tests := []struct {
		name, method, body string
		running            bool
		status             int
	}{
		{"genuine", http.MethodPost, click(a.context(good), channel), true, http.StatusOK},
		{"not running", http.MethodPost, click(a.context(good), channel), false, http.StatusServiceUnavailable},
		{"changed command", http.MethodPost, click(forged, channel), true, http.StatusForbidden},
		{"signed by another key", http.MethodPost, click(wrongKey.context(good), channel), true, http.StatusForbidden},
		{"expired", http.MethodPost, click(a.context(expired), channel), true, http.StatusForbidden},
		{"from another channel", http.MethodPost, click(a.context(good), model.NewId()), true, http.StatusForbidden},
		{"no context", http.MethodPost, click(nil, channel), true, http.StatusForbidden},
		{"not JSON", http.MethodPost, "approve k3x7", true, http.StatusBadRequest},
		{"GET", http.MethodGet, "", true, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &inbox{}
			if tt.running {
				a.inbox = in
			} else {
				a.inbox = nil
			}
			w := httptest.NewRecorder()
			a.ActionHandler().ServeHTTP(w, httptest.NewRequest(tt.method, "/actions", strings.NewReader(tt.body)))
			if w.Code != tt.status {
				t.Fatalf("status %d (%s); want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.status)
			}
			if tt.status != http.StatusOK {
				if len(in.got) != 0 {
					t.Errorf("a refused click reached the bot: %+v", in.got[0])
				}
				return
			}
			want := bot.Message{
				ID: "trigger", Adapter: "mattermost", Text: "approve k3x7", Room: channel, Thread: good.Thread,
				Mentioned: true, User: bot.User{ID: "mattermost:" + alice.ID, Name: "alice"},
			}
			if len(in.got) != 1 {
				t.Fatalf("the bot received %d messages; want 1", len(in.got))
			}
			got := *in.got[0]
			got.Time = time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the bot received %+v; want %+v", got, want)
			}
		})
	}
}
