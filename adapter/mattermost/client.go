package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The adapter speaks to the server through the few REST API v4 calls below
// rather than Mattermost's own Go client, whose package brings the
// server's data model, plugin RPC and translations into the binary: several
// megabytes of memory and milliseconds of start-up for a handful of requests.
// The types hold only the fields the adapter reads or writes; the server
// ignores what it is not sent and the decoder what it is not asked for.

// user is a Mattermost account.
type user struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	IsBot    bool   `json:"is_bot"`
}

// channel is a channel, private group or direct-message conversation.
type channel struct {
	ID         string `json:"id"`
	Type       string `json:"type"` // channelDirect for a direct message
	DeleteAt   int64  `json:"delete_at"`
	LastPostAt int64  `json:"last_post_at"`
}

// channelDirect is the type of a direct-message channel between two users.
const channelDirect = "D"

// post is a message in a channel. Times are Unix milliseconds.
type post struct {
	ID        string         `json:"id,omitempty"`
	CreateAt  int64          `json:"create_at,omitempty"`
	DeleteAt  int64          `json:"delete_at,omitempty"`
	UserID    string         `json:"user_id,omitempty"`
	ChannelID string         `json:"channel_id,omitempty"`
	RootID    string         `json:"root_id,omitempty"`
	Message   string         `json:"message"`
	Type      string         `json:"type,omitempty"` // "" for what a user or bot says; system messages have one
	Props     map[string]any `json:"props,omitempty"`
	FileIDs   []string       `json:"file_ids,omitempty"`
}

// postPatch is the part of a post an edit replaces.
type postPatch struct {
	Message string         `json:"message"`
	Props   map[string]any `json:"props,omitempty"`
}

// postList is a channel's posts, by id.
type postList struct {
	Posts map[string]*post `json:"posts"`
}

// apiError is a request the server answered with an error status.
type apiError struct {
	Status     int
	RetryAfter time.Duration // what a 429 asked for, or 0
	ID         string        `json:"id"`
	Message    string        `json:"message"`
}

func (e *apiError) Error() string {
	switch {
	case e.Message == "":
		return fmt.Sprintf("HTTP %d", e.Status)
	case e.ID == "":
		return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.ID)
}

// maxErrorBody bounds how much of an error answer, or of what follows a
// successful one, is read.
const maxErrorBody = 64 << 10

// client makes REST API v4 requests as the bot.
type client struct {
	api   string // the server's address followed by /api/v4
	token string
	http  *http.Client
}

// do sends a request with body (nil for none) of the given content type,
// and decodes a successful answer into out (nil to ignore it).
func (c *client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() {
		// Reading to the end lets the next request reuse the connection.
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
	}()
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode}
		json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(e)
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	return nil
}

func (c *client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, "", out)
}

func (c *client) send(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(ctx, method, path, bytes.NewReader(b), "application/json", out)
}

// user returns the account with id, or "me" for the bot's own.
func (c *client) user(ctx context.Context, id string) (*user, error) {
	u := new(user)
	if err := c.get(ctx, "/users/"+url.PathEscape(id), u); err != nil {
		return nil, err
	}
	return u, nil
}

// channelsOf returns the channels userID belongs to, across all teams.
func (c *client) channelsOf(ctx context.Context, userID string) ([]channel, error) {
	var cs []channel
	if err := c.get(ctx, "/users/"+url.PathEscape(userID)+"/channels?last_delete_at=0", &cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// postsSince returns the posts of a channel created, edited or deleted
// after since (Unix milliseconds).
func (c *client) postsSince(ctx context.Context, channelID string, since int64) (*postList, error) {
	l := new(postList)
	q := url.Values{"since": {strconv.FormatInt(since, 10)}, "collapsedThreads": {"false"}}
	if err := c.get(ctx, "/channels/"+url.PathEscape(channelID)+"/posts?"+q.Encode(), l); err != nil {
		return nil, err
	}
	return l, nil
}

// createPost stores p and returns it as stored.
func (c *client) createPost(ctx context.Context, p *post) (*post, error) {
	created := new(post)
	if err := c.send(ctx, http.MethodPost, "/posts", p, created); err != nil {
		return nil, err
	}
	return created, nil
}

// patchPost replaces the parts of post id that patch sets.
func (c *client) patchPost(ctx context.Context, id string, patch *postPatch) error {
	return c.send(ctx, http.MethodPut, "/posts/"+url.PathEscape(id)+"/patch", patch, nil)
}

// uploadFile stores data as a file named name for channelID, and returns
// the file's id, for a post to attach.
func (c *client) uploadFile(ctx context.Context, channelID, name string, data []byte) (string, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("channel_id", channelID); err != nil {
		return "", err
	}
	part, err := w.CreateFormFile("files", name)
	if err != nil {
		return "", err
	}
	part.Write(data)
	if err := w.Close(); err != nil {
		return "", err
	}
	var up struct {
		FileInfos []struct {
			ID string `json:"id"`
		} `json:"file_infos"`
	}
	if err := c.do(ctx, http.MethodPost, "/files", &body, w.FormDataContentType(), &up); err != nil {
		return "", err
	}
	if len(up.FileInfos) == 0 {
		return "", errors.New("the server stored no file")
	}
	return up.FileInfos[0].ID, nil
}

// directChannel returns the direct-message channel between two users,
// creating it if they have never talked.
func (c *client) directChannel(ctx context.Context, userA, userB string) (*channel, error) {
	ch := new(channel)
	if err := c.send(ctx, http.MethodPost, "/channels/direct", []string{userA, userB}, ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// channelByName returns the channel called name in the team called team.
func (c *client) channelByName(ctx context.Context, team, name string) (*channel, error) {
	ch := new(channel)
	if err := c.get(ctx, "/teams/name/"+url.PathEscape(team)+"/channels/name/"+url.PathEscape(name), ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// validID reports whether s has the form of a Mattermost id: 26 letters
// and digits.
func validID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
