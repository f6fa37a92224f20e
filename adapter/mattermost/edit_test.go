package mattermost_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
	"github.com/seipbot/seipbot/adapter/mattermost"
	"github.com/seipbot/seipbot/adapter/mattermost/mattermosttest"
	"github.com/seipbot/seipbot/bot"
)

// TestProgressIsEditedInPlace sends a keyed line and two replacements
// through the outbox: the channel ends with one post by the bot, saying
// the last line and marked edited.
func TestProgressIsEditedInPlace(t *testing.T) {
	s := mattermosttest.Shared(t)
	c := s.Channel(t)
	p := newProxy(t, s.URL)
	a := newAdapter(t, s, p, mattermost.Options{})
	o := bot.NewOutbox(nil, nil, bot.Backoff{Min: 50 * time.Millisecond, Max: time.Second})
	o.AddAdapter(a)
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go o.Run(runCtx)
	for _, text := range []string{"10% done", "50% done", "90% done"} {
		o.Send(ctx, bot.Response{Room: c.Id, Text: text, Key: "job-x-progress", Replace: true})
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.Alice.API.GetPostsForChannel(ctx, c.Id, 0, 60, "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	edited := false
	for _, post := range list.ToSlice() {
		if post.UserId == s.Bot.User.Id {
			mine = append(mine, post.Message)
			edited = post.EditAt != 0
		}
	}
	if len(mine) != 1 || mine[0] != "90% done" || !edited {
		t.Errorf("the bot's posts read %q (edited: %v), want one post edited to say 90%% done", mine, edited)
	}
}

// TestEditRefusesWhatOnePostCannotHold checks that a reply of several
// posts is not an edit, so the outbox posts it anew.
func TestEditRefusesWhatOnePostCannotHold(t *testing.T) {
	s := mattermosttest.Shared(t)
	c := s.Channel(t)
	p := newProxy(t, s.URL)
	a := newAdapter(t, s, p, mattermost.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Timeout)
	defer cancel()
	ref, err := a.Post(ctx, bot.Response{Room: c.Id, Text: "short"})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("open 443/tcp https\n", mattermost.MaxPost/10)
	if err := a.Edit(ctx, ref, bot.Response{Room: c.Id, Text: long}); !bot.IsPermanent(err) {
		t.Errorf("editing in a reply of several posts: %v, want a permanent error", err)
	}
	post, _, err := s.Alice.API.GetPost(ctx, ref, "")
	if err != nil || post.Message != "short" {
		t.Errorf("the post reads %q (%v), want it unchanged", post.Message, err)
	}
}
