// Package mattermosttest starts a real Mattermost server for tests, with
// a team, people and bot accounts, and talks to it as a person: the
// Mattermost adapter's own tests and the end-to-end tests of "seipbot run"
// share it.
package mattermosttest

import (
	"bufio"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// The server a test binary shares among its tests: started by the first
// test that needs it (Shared), stopped by StopShared from TestMain.
var (
	srvOnce sync.Once
	srv     *Server
	srvErr  error
)

// Server is a Mattermost process with a database of its own, and the
// accounts the tests talk as.
type Server struct {
	// URL is the server's address, http on loopback.
	URL string

	cmd    *exec.Cmd
	exited chan struct{}
	dir    string
	dbURL  string // the PostgreSQL server, without a database
	db     string // this run's database
	log    *os.File

	// Admin is logged in as the system admin, who made Team.
	Admin *model.Client4
	Team  *model.Team
	// Alice and Carol are people; Bot is the bot under test (its Token
	// is what the adapter logs in with) and OtherBot a second bot. All
	// four are in Team.
	Alice, Carol, Bot, OtherBot Account
}

// Account is a user and a client logged in as them.
type Account struct {
	User  *model.User
	Token string
	API   *model.Client4
}

// Shared returns the test binary's shared server, starting it the first
// time; the binary's TestMain stops it with StopShared. A server takes
// tens of seconds to start, so tests that can share one do.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin, dbURL := location(t)
	srvOnce.Do(func() { srv, srvErr = start(bin, dbURL) })
	if srvErr != nil {
		t.Fatalf("starting Mattermost: %v", srvErr)
	}
	return srv
}

// StopShared stops the server Shared started, if it did.
func StopShared() {
	if srv != nil {
		srv.stop()
	}
}

// Start starts a server of t's own, stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, dbURL := location(t)
	s, err := start(bin, dbURL)
	if err != nil {
		t.Fatalf("starting Mattermost: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// location returns the server's binaries and the PostgreSQL server for
// its database, or skips (fails under CI=true) when scripts/mattermost.sh
// has not said where they are.
func location(t testing.TB) (bin, dbURL string) {
	t.Helper()
	bin, dbURL = os.Getenv("SEIPBOT_TEST_MATTERMOST"), os.Getenv("SEIPBOT_TEST_MATTERMOST_DB")
	if bin == "" || dbURL == "" {
		adaptertest.ServerRequired(t, "Mattermost (SEIPBOT_TEST_MATTERMOST and SEIPBOT_TEST_MATTERMOST_DB, set by scripts/mattermost.sh)")
	}
	return bin, dbURL
}

func nonce() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func psql(dbURL, sql string) error {
	out, err := exec.Command("psql", dbURL+"/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", sql, err, out)
	}
	return nil
}

//go:embed mattermost.env.sh
var envFile string

// serverEnv reads mattermost.env.sh, the verified settings for a loopback
// test server, as KEY=VALUE pairs with the run folder filled in.
func serverEnv(runDir string) ([]string, error) {
	var env []string
	sc := bufio.NewScanner(strings.NewReader(envFile))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
		if !ok {
			continue
		}
		line = strings.ReplaceAll(line, "${MM_RUN_DIR:?set MM_RUN_DIR}", runDir)
		k, v, _ := strings.Cut(line, "=")
		env = append(env, k+"="+strings.Trim(v, `"`))
	}
	return env, sc.Err()
}

func start(bin, dbURL string) (_ *Server, err error) {
	s := &Server{dbURL: strings.TrimSuffix(dbURL, "/"), db: "seipbot_mm_" + nonce(), exited: make(chan struct{})}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if err := psql(s.dbURL, "CREATE DATABASE "+s.db); err != nil {
		return nil, err
	}
	if s.dir, err = os.MkdirTemp("", "seipbot-mattermost-"); err != nil {
		return nil, err
	}
	// The server finds its translations, e-mail templates and fonts in
	// its working folder.
	for _, d := range []string{"i18n", "templates", "fonts"} {
		if err := os.Symlink(filepath.Join(bin, d), filepath.Join(s.dir, d)); err != nil {
			return nil, err
		}
	}
	// Not adaptertest.FreePort: this runs under Shared's sync.Once, where
	// failing the test would leave the Once done without a server.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close() // free for the server to take
	s.URL = "http://" + addr
	env, err := serverEnv(s.dir)
	if err != nil {
		return nil, err
	}
	env = append(env,
		"MM_SQLSETTINGS_DATASOURCE="+s.dbURL+"/"+s.db+"?sslmode=disable&connect_timeout=10",
		"MM_SERVICESETTINGS_LISTENADDRESS="+addr,
		"MM_SERVICESETTINGS_SITEURL="+s.URL,
		// Button clicks go to the bot's listener on loopback, which the
		// server refuses to call unless told it may.
		"MM_SERVICESETTINGS_ALLOWEDUNTRUSTEDINTERNALCONNECTIONS=127.0.0.1",
		"MM_LOGSETTINGS_CONSOLELEVEL=ERROR",
	)
	if s.log, err = os.Create(filepath.Join(s.dir, "server.log")); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(filepath.Join(bin, "mattermost"), "--config", filepath.Join(s.dir, "config.json"))
	s.cmd.Dir = s.dir
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.awaitPing(3 * time.Minute); err != nil {
		return nil, err
	}
	return s, s.setup()
}

// awaitPing waits until the server answers its health check.
func (s *Server) awaitPing(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("the server exited; its log:\n%s", s.tail())
		default:
		}
		resp, err := http.Get(s.URL + "/api/v4/system/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the server did not answer within %s; its log:\n%s", d, s.tail())
}

// tail returns the end of the server's log.
func (s *Server) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.log != nil {
		s.log.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	if err := psql(s.dbURL, "DROP DATABASE IF EXISTS "+s.db+" WITH (FORCE)"); err != nil {
		fmt.Fprintln(os.Stderr, "dropping the test database:", err)
	}
}

// password is every person's.
const password = "Test-pass-1234!"

// setup creates, by REST, what a team using the bot has: an admin (the
// first account becomes one), a team, two people and two bots with access
// tokens.
func (s *Server) setup() error {
	ctx := context.Background()
	s.Admin = model.NewAPIv4Client(s.URL)
	if _, _, err := s.Admin.CreateUser(ctx, &model.User{Username: "admin", Email: "admin@example.com", Password: password}); err != nil {
		return fmt.Errorf("create admin: %w", err)
	}
	if _, _, err := s.Admin.Login(ctx, "admin", password); err != nil {
		return fmt.Errorf("log in as admin: %w", err)
	}
	var err error
	if s.Team, _, err = s.Admin.CreateTeam(ctx, &model.Team{Name: "sec", DisplayName: "Security", Type: model.TeamOpen}); err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	for _, who := range []struct {
		acct *Account
		name string
	}{{&s.Alice, "alice"}, {&s.Carol, "carol"}} {
		u, _, err := s.Admin.CreateUser(ctx, &model.User{Username: who.name, Email: who.name + "@example.com", Password: password})
		if err != nil {
			return fmt.Errorf("create %s: %w", who.name, err)
		}
		api := model.NewAPIv4Client(s.URL)
		if _, _, err := api.Login(ctx, who.name, password); err != nil {
			return fmt.Errorf("log in as %s: %w", who.name, err)
		}
		*who.acct = Account{User: u, Token: api.AuthToken, API: api}
	}
	for _, who := range []struct {
		acct *Account
		name string
	}{{&s.Bot, "seipbot"}, {&s.OtherBot, "otherbot"}} {
		b, _, err := s.Admin.CreateBot(ctx, &model.Bot{Username: who.name, DisplayName: who.name})
		if err != nil {
			return fmt.Errorf("create bot %s: %w", who.name, err)
		}
		tok, _, err := s.Admin.CreateUserAccessToken(ctx, b.UserId, "seipbot tests")
		if err != nil {
			return fmt.Errorf("token for %s: %w", who.name, err)
		}
		u, _, err := s.Admin.GetUser(ctx, b.UserId, "")
		if err != nil {
			return err
		}
		api := model.NewAPIv4Client(s.URL)
		api.SetToken(tok.Token)
		*who.acct = Account{User: u, Token: tok.Token, API: api}
	}
	for _, a := range []Account{s.Alice, s.Carol, s.Bot, s.OtherBot} {
		if _, _, err := s.Admin.AddTeamMember(ctx, s.Team.Id, a.User.Id); err != nil {
			return fmt.Errorf("add %s to the team: %w", a.User.Username, err)
		}
	}
	return nil
}

// Channel creates a channel of its own for one test, with everyone in it.
func (s *Server) Channel(t testing.TB) *model.Channel {
	t.Helper()
	ctx := context.Background()
	c, _, err := s.Admin.CreateChannel(ctx, &model.Channel{TeamId: s.Team.Id, Name: "t-" + nonce(), DisplayName: t.Name(), Type: model.ChannelTypeOpen})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Account{s.Alice, s.Carol, s.Bot, s.OtherBot} {
		if _, _, err := s.Admin.AddChannelMember(ctx, c.Id, a.User.Id); err != nil {
			t.Fatalf("add %s to the channel: %v", a.User.Username, err)
		}
	}
	return c
}

// Person is someone talking to the bot from their own websocket: an
// adaptertest.Client.
type Person struct {
	s      *Server
	acct   Account
	room   string
	ws     *model.WebSocketClient
	direct string // the direct channel with the bot, once used
}

var _ adaptertest.Client = (*Person)(nil)

// Person connects acct's websocket, to speak in the channel room (an id).
func (s *Server) Person(t testing.TB, acct Account, room string) *Person {
	t.Helper()
	ws, err := model.NewWebSocketClient4(strings.Replace(s.URL, "http", "ws", 1), acct.Token)
	if err != nil {
		t.Fatal(err)
	}
	ws.Listen()
	go func() {
		for range ws.ResponseChannel {
		}
	}()
	t.Cleanup(ws.Close)
	// Wait for the server's hello, so nothing the bot says is missed.
	for ev := range ws.EventChannel {
		if ev.EventType() == model.WebsocketEventHello {
			break
		}
	}
	return &Person{s: s, acct: acct, room: room, ws: ws}
}

// ID is the identity the adapter reports for the person.
func (p *Person) ID() string { return "mattermost:" + p.acct.User.Id }

func (p *Person) Say(ctx context.Context, text string) error {
	_, err := p.Post(ctx, p.room, "", text)
	return err
}

// Post posts text in channel, in the thread of root when not empty.
func (p *Person) Post(ctx context.Context, channel, root, text string) (*model.Post, error) {
	post, _, err := p.acct.API.CreatePost(ctx, &model.Post{ChannelId: channel, RootId: root, Message: text})
	return post, err
}

func (p *Person) SayDirect(ctx context.Context, text string) error {
	if p.direct == "" {
		c, _, err := p.acct.API.CreateDirectChannel(ctx, p.acct.User.Id, p.s.Bot.User.Id)
		if err != nil {
			return err
		}
		p.direct = c.Id
	}
	_, err := p.Post(ctx, p.direct, "", text)
	return err
}

func (p *Person) Next(ctx context.Context) (adaptertest.Received, error) {
	post, kind, err := p.NextPost(ctx)
	if err != nil {
		return adaptertest.Received{}, err
	}
	if kind == model.ChannelTypeDirect {
		return adaptertest.Received{Direct: true, Text: post.Message}, nil
	}
	return adaptertest.Received{Room: post.ChannelId, Text: post.Message}, nil
}

// NextPost returns the next post by the bot this person sees, and the type
// of channel it is in.
func (p *Person) NextPost(ctx context.Context) (*model.Post, model.ChannelType, error) {
	for {
		select {
		case ev, ok := <-p.ws.EventChannel:
			if !ok {
				return nil, "", errors.New("the person's websocket closed")
			}
			if ev.EventType() != model.WebsocketEventPosted {
				continue
			}
			var post model.Post
			raw, _ := ev.GetData()["post"].(string)
			if err := json.Unmarshal([]byte(raw), &post); err != nil {
				return nil, "", err
			}
			if post.UserId != p.s.Bot.User.Id {
				continue
			}
			kind, _ := ev.GetData()["channel_type"].(string)
			return &post, model.ChannelType(kind), nil
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
}
