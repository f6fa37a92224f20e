// Package matrixtest starts a real Dendrite homeserver for tests, with
// accounts and a room, and talks to it as a human: the Matrix adapter's own
// tests and the end-to-end tests of "seipbot run" share it.
//
// It does not import the adapter, so the adapter's in-package tests can
// import it without an import cycle.
package matrixtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// Server is a real Dendrite homeserver the test starts on a free loopback
// port, with its databases in a temporary folder, and stops when it ends.
// Its server name is localhost.
type Server struct {
	// URL is the client-server API's base URL.
	URL string

	t                            testing.TB
	bin, dir, conf, addr, secret string

	cmd *exec.Cmd
	log *os.File
}

// Start sets up and starts Dendrite from the binaries scripts/dendrite.sh
// builds, in the folder SEIPBOT_TEST_DENDRITE names. Without them the test
// is skipped, or fails under CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("SEIPBOT_TEST_DENDRITE")
	if _, err := os.Stat(filepath.Join(bin, "dendrite")); bin == "" || err != nil {
		adaptertest.ServerRequired(t, "Dendrite (export SEIPBOT_TEST_DENDRITE=$(scripts/dendrite.sh))")
	}
	dir := t.TempDir()
	d := &Server{t: t, bin: bin, dir: dir, conf: filepath.Join(dir, "dendrite.yaml"), secret: randomHex(16)}
	key := filepath.Join(dir, "matrix_key.pem")
	if out, err := exec.Command(filepath.Join(bin, "generate-keys"), "-private-key", key).CombinedOutput(); err != nil {
		t.Fatalf("generate-keys: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "generate-config"), "-dir", filepath.Join(dir, "data"), "-server", "localhost").Output()
	if err != nil {
		t.Fatalf("generate-config: %v", err)
	}
	var conf map[string]any
	if err := yaml.Unmarshal(out, &conf); err != nil {
		t.Fatalf("generate-config wrote unreadable YAML: %v", err)
	}
	// A closed, fast server: no federation nor lookups of other servers,
	// registration by shared secret, no rate limits, cheap password hashes.
	for path, v := range map[string]any{
		"global.private_key":                    key,
		"global.disable_federation":             true,
		"global.trusted_third_party_id_servers": []string{},
		"federation_api.key_perspectives":       []string{},
		"client_api.registration_shared_secret": d.secret,
		"client_api.rate_limiting.enabled":      false,
		"user_api.bcrypt_cost":                  4,
		"global.jetstream.storage_path":         filepath.Join(dir, "data"),
	} {
		setPath(t, conf, path, v)
	}
	data, err := yaml.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.conf, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d.addr = fmt.Sprintf("127.0.0.1:%d", adaptertest.FreePort(t))
	d.URL = "http://" + d.addr
	if d.log, err = os.Create(filepath.Join(dir, "dendrite.log")); err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() {
		d.Stop()
		d.log.Close()
		if t.Failed() {
			if out, err := os.ReadFile(d.log.Name()); err == nil && len(out) > 0 {
				t.Logf("dendrite's log (last 4 KiB):\n%s", out[max(0, len(out)-4096):])
			}
		}
	})
	return d
}

// setPath sets a dotted key in the parsed config, failing on a path the
// generated file lacks, so a typo cannot pass for a setting.
func setPath(t testing.TB, conf map[string]any, path string, v any) {
	t.Helper()
	keys := strings.Split(path, ".")
	m := conf
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("dendrite config has no section %s (setting %s)", k, path)
		}
		m = next
	}
	if _, ok := m[keys[len(keys)-1]]; !ok {
		t.Fatalf("dendrite config has no key %s", path)
	}
	m[keys[len(keys)-1]] = v
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start runs Dendrite (again, after Stop) and waits until it answers the
// client API.
func (d *Server) Start() {
	t := d.t
	t.Helper()
	d.cmd = exec.Command(filepath.Join(d.bin, "dendrite"), "-config", d.conf,
		"-http-bind-address", d.addr, "-https-bind-address", "")
	d.cmd.Dir = d.dir
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start dendrite: %v", err)
	}
	// A busy two-core machine takes several seconds for the first start.
	deadline := time.Now().Add(3 * adaptertest.Timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(d.URL + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("dendrite did not answer on %s within %s", d.addr, 3*adaptertest.Timeout)
}

// Stop stops Dendrite as an operator would, with SIGTERM. A SIGKILL
// leaves its internal message streams (JetStream) with deliveries that are
// only redone after a 30-second timeout, which would hold up every event
// after a restart; that is Dendrite's recovery, not the adapter's.
func (d *Server) Stop() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(adaptertest.Timeout):
		d.cmd.Process.Kill()
		<-done
	}
	d.cmd = nil
}

// Register creates an account through the shared-secret registration
// endpoint and returns a client logged in as it.
func (d *Server) Register(name, password string) *mautrix.Client {
	t := d.t
	t.Helper()
	var nonce struct{ Nonce string }
	getJSON(t, http.MethodGet, d.URL+"/_synapse/admin/v1/register", nil, &nonce)
	mac := hmac.New(sha1.New, []byte(d.secret))
	mac.Write([]byte(nonce.Nonce + "\x00" + name + "\x00" + password + "\x00notadmin"))
	var reg struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
		DeviceID    string `json:"device_id"`
	}
	getJSON(t, http.MethodPost, d.URL+"/_synapse/admin/v1/register", map[string]any{
		"nonce": nonce.Nonce, "username": name, "password": password, "admin": false,
		"mac": hex.EncodeToString(mac.Sum(nil)),
	}, &reg)
	cli, err := mautrix.NewClient(d.URL, id.UserID(reg.UserID), reg.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	cli.DeviceID = id.DeviceID(reg.DeviceID)
	return cli
}

func getJSON(t testing.TB, method, url string, body, out any) {
	t.Helper()
	var in bytes.Buffer
	if body != nil {
		json.NewEncoder(&in).Encode(body)
	}
	req, err := http.NewRequest(method, url, &in)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e bytes.Buffer
		e.ReadFrom(resp.Body)
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, e.String())
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
}

// User is a human's (or another bot's) Matrix client in the tests. It
// syncs in the background from the moment it is made, and hands over what
// the bot says, as adaptertest.Client.
type User struct {
	// Client is the user's logged-in client, for what the methods do
	// not cover.
	Client *mautrix.Client
	// Notice makes the user speak in m.notice, as bots do.
	Notice bool

	bot  id.UserID
	room id.RoomID

	mu   sync.Mutex
	dm   id.RoomID
	from chan Message
}

var _ adaptertest.Client = (*User)(nil)

// Message is a message from the bot: as adaptertest sees it, and whole,
// for tests that look inside.
type Message struct {
	adaptertest.Received
	Content event.MessageEventContent
}

// NewUser starts syncing as cli, who speaks in room (which may be empty
// for a user who only speaks directly), and hands over what bot says.
func NewUser(t testing.TB, cli *mautrix.Client, bot id.UserID, room id.RoomID) *User {
	t.Helper()
	u := &User{Client: cli, bot: bot, room: room, from: make(chan Message, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	// What was said before the user started listening is not for it.
	resp, err := cli.FullSyncRequest(ctx, mautrix.ReqSync{})
	if err != nil {
		t.Fatalf("first sync of %s: %v", cli.UserID, err)
	}
	go func() {
		defer close(done)
		u.sync(ctx, resp.NextBatch)
	}()
	return u
}

// sync reads the bot's messages until ctx ends, and rides out server
// restarts by retrying.
func (u *User) sync(ctx context.Context, since string) {
	for ctx.Err() == nil {
		resp, err := u.Client.FullSyncRequest(ctx, mautrix.ReqSync{Since: since, Timeout: 5000})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		since = resp.NextBatch
		for room, inv := range resp.Rooms.Invite {
			for _, evt := range inv.State.Events {
				if evt.Type == event.StateMember && evt.Sender == u.bot {
					u.Client.JoinRoomByID(ctx, room)
				}
			}
		}
		for room, joined := range resp.Rooms.Join {
			for _, evt := range joined.Timeline.Events {
				if evt.Sender != u.bot || evt.Type != event.EventMessage {
					continue
				}
				var c event.MessageEventContent
				json.Unmarshal(evt.Content.VeryRaw, &c)
				got := adaptertest.Received{Room: room.String(), Text: c.Body}
				if c.Format == event.FormatHTML {
					got.Text = c.FormattedBody
				}
				u.mu.Lock()
				if room == u.dm {
					got = adaptertest.Received{Direct: true, Text: got.Text}
				}
				u.mu.Unlock()
				u.from <- Message{got, c}
			}
		}
	}
}

// ID is the identity the adapter reports for the user.
func (u *User) ID() string { return "matrix:" + u.Client.UserID.String() }

// Say speaks in the room as a current client does: a line that starts
// with the bot's name also mentions it in m.mentions.
func (u *User) Say(ctx context.Context, text string) error {
	return u.say(ctx, u.room, text)
}

func (u *User) say(ctx context.Context, room id.RoomID, text string) error {
	c := &event.MessageEventContent{MsgType: event.MsgText, Body: text, Mentions: &event.Mentions{}}
	if u.Notice {
		c.MsgType = event.MsgNotice
	}
	if strings.HasPrefix(text, u.bot.Localpart()+":") {
		c.Mentions.UserIDs = []id.UserID{u.bot}
	}
	_, err := u.Client.SendMessageEvent(ctx, room, event.EventMessage, c)
	return err
}

// SayDirect opens a direct chat with the bot the first time, waits for
// the bot to accept the invite, and speaks there.
func (u *User) SayDirect(ctx context.Context, text string) error {
	u.mu.Lock()
	dm := u.dm
	u.mu.Unlock()
	if dm == "" {
		resp, err := u.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{u.bot},
		})
		if err != nil {
			return err
		}
		dm = resp.RoomID
		u.mu.Lock()
		u.dm = dm
		u.mu.Unlock()
		if err := u.AwaitMember(ctx, dm, u.bot); err != nil {
			return err
		}
	}
	_, err := u.Client.SendMessageEvent(ctx, dm, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: text})
	return err
}

// AwaitMember waits until who has joined room.
func (u *User) AwaitMember(ctx context.Context, room id.RoomID, who id.UserID) error {
	for {
		resp, err := u.Client.JoinedMembers(ctx, room)
		if err == nil {
			if _, ok := resp.Joined[who]; ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not join %s: %w", who, room, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Next returns the next thing the bot said to the user.
func (u *User) Next(ctx context.Context) (adaptertest.Received, error) {
	r, err := u.NextMessage(ctx)
	return r.Received, err
}

// NextMessage is Next with the message's whole content.
func (u *User) NextMessage(ctx context.Context) (Message, error) {
	select {
	case r := <-u.from:
		return r, nil
	case <-ctx.Done():
		return Message{}, errors.New("nothing received from the bot: " + ctx.Err().Error())
	}
}

// The world's fixed names.
const (
	BotPassword = "bot-password-123"
	RoomAlias   = "#test:localhost"
)

// World is a homeserver with the bot's account (seipbot, with
// BotPassword), a human, alice, and a public room, RoomAlias, that she
// created and the bot may join.
type World struct {
	Server *Server
	// Bot is the bot's account, for setting up only: the adapter logs in
	// by itself.
	Bot   *mautrix.Client
	Alice *User
	Room  id.RoomID
}

// NewWorld starts a homeserver and sets the world up on it.
func NewWorld(t testing.TB) *World {
	t.Helper()
	d := Start(t)
	w := &World{Server: d, Bot: d.Register("seipbot", BotPassword)}
	alice := d.Register("alice", "alice-password-123")
	resp, err := alice.CreateRoom(context.Background(), &mautrix.ReqCreateRoom{
		Preset: "public_chat", RoomAliasName: "test", Name: "test", // RoomAlias
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Room = resp.RoomID
	w.Alice = NewUser(t, alice, w.Bot.UserID, w.Room)
	return w
}
