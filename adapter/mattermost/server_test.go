package mattermost_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// The server every test of the package shares: started by the first test
// that needs it, stopped by TestMain.
var (
	srvOnce sync.Once
	srv     *server
	srvErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	os.Exit(code)
}

// server is a Mattermost process with a database of its own, and the
// accounts the tests talk as.
type server struct {
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
	dir    string
	dbURL  string // the PostgreSQL server, without a database
	db     string // this run's database
	log    *os.File

	admin *model.Client4
	team  *model.Team
	// alice and carol are people; carol approves. seipbot is the bot under
	// test and other a second bot.
	alice, carol, seipbot, other account
}

// account is a user and a client logged in as them.
type account struct {
	user  *model.User
	token string
	api   *model.Client4
}

// needServer returns the shared server, or skips (fails under CI=true)
// when scripts/mattermost.sh has not said where one is.
func needServer(t *testing.T) *server {
	t.Helper()
	bin, dbURL := os.Getenv("SEIPBOT_TEST_MATTERMOST"), os.Getenv("SEIPBOT_TEST_MATTERMOST_DB")
	if bin == "" || dbURL == "" {
		adaptertest.ServerRequired(t, "Mattermost (SEIPBOT_TEST_MATTERMOST and SEIPBOT_TEST_MATTERMOST_DB, set by scripts/mattermost.sh)")
	}
	srvOnce.Do(func() { srv, srvErr = startServer(bin, dbURL) })
	if srvErr != nil {
		t.Fatalf("starting Mattermost: %v", srvErr)
	}
	return srv
}

func nonce() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func psql(dbURL, sql string) error {
	out, err := exec.Command("psql", dbURL+"/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", sql, err, out)
	}
	return nil
}

// serverEnv reads testdata/mattermost.env.sh, the verified settings for a
// loopback test server, as KEY=VALUE pairs with the run folder filled in.
func serverEnv(runDir string) ([]string, error) {
	f, err := os.Open("testdata/mattermost.env.sh")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
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

func startServer(bin, dbURL string) (_ *server, err error) {
	s := &server{dbURL: strings.TrimSuffix(dbURL, "/"), db: "seipbot_mm_" + nonce(), exited: make(chan struct{})}
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
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s.url = "http://" + addr
	env, err := serverEnv(s.dir)
	if err != nil {
		return nil, err
	}
	env = append(env,
		"MM_SQLSETTINGS_DATASOURCE="+s.dbURL+"/"+s.db+"?sslmode=disable&connect_timeout=10",
		"MM_SERVICESETTINGS_LISTENADDRESS="+addr,
		"MM_SERVICESETTINGS_SITEURL="+s.url,
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
func (s *server) awaitPing(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("the server exited; its log:\n%s", s.tail())
		default:
		}
		resp, err := http.Get(s.url + "/api/v4/system/ping")
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
func (s *server) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *server) stop() {
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

const password = "Test-pass-1234!"

// setup creates, by REST, what a team using the bot has: an admin (the
// first account becomes one), a team, two people and two bots with access
// tokens.
func (s *server) setup() error {
	ctx := context.Background()
	s.admin = model.NewAPIv4Client(s.url)
	if _, _, err := s.admin.CreateUser(ctx, &model.User{Username: "admin", Email: "admin@example.com", Password: password}); err != nil {
		return fmt.Errorf("create admin: %w", err)
	}
	if _, _, err := s.admin.Login(ctx, "admin", password); err != nil {
		return fmt.Errorf("log in as admin: %w", err)
	}
	var err error
	if s.team, _, err = s.admin.CreateTeam(ctx, &model.Team{Name: "sec", DisplayName: "Security", Type: model.TeamOpen}); err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	for _, who := range []struct {
		acct *account
		name string
	}{{&s.alice, "alice"}, {&s.carol, "carol"}} {
		u, _, err := s.admin.CreateUser(ctx, &model.User{Username: who.name, Email: who.name + "@example.com", Password: password})
		if err != nil {
			return fmt.Errorf("create %s: %w", who.name, err)
		}
		api := model.NewAPIv4Client(s.url)
		if _, _, err := api.Login(ctx, who.name, password); err != nil {
			return fmt.Errorf("log in as %s: %w", who.name, err)
		}
		*who.acct = account{user: u, token: api.AuthToken, api: api}
	}
	for _, who := range []struct {
		acct *account
		name string
	}{{&s.seipbot, "seipbot"}, {&s.other, "otherbot"}} {
		b, _, err := s.admin.CreateBot(ctx, &model.Bot{Username: who.name, DisplayName: who.name})
		if err != nil {
			return fmt.Errorf("create bot %s: %w", who.name, err)
		}
		tok, _, err := s.admin.CreateUserAccessToken(ctx, b.UserId, "seipbot tests")
		if err != nil {
			return fmt.Errorf("token for %s: %w", who.name, err)
		}
		u, _, err := s.admin.GetUser(ctx, b.UserId, "")
		if err != nil {
			return err
		}
		api := model.NewAPIv4Client(s.url)
		api.SetToken(tok.Token)
		*who.acct = account{user: u, token: tok.Token, api: api}
	}
	for _, a := range []account{s.alice, s.carol, s.seipbot, s.other} {
		if _, _, err := s.admin.AddTeamMember(ctx, s.team.Id, a.user.Id); err != nil {
			return fmt.Errorf("add %s to the team: %w", a.user.Username, err)
		}
	}
	return nil
}

// channel creates a channel of its own for one test, with everyone in it.
func (s *server) channel(t *testing.T) *model.Channel {
	t.Helper()
	ctx := context.Background()
	c, _, err := s.admin.CreateChannel(ctx, &model.Channel{TeamId: s.team.Id, Name: "t-" + nonce(), DisplayName: t.Name(), Type: model.ChannelTypeOpen})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []account{s.alice, s.carol, s.seipbot, s.other} {
		if _, _, err := s.admin.AddChannelMember(ctx, c.Id, a.user.Id); err != nil {
			t.Fatalf("add %s to the channel: %v", a.user.Username, err)
		}
	}
	return c
}

// proxy stands between the bot and the server, so a test can cut the
// bot's connections (REST and websocket) without touching anyone else's.
type proxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		l.Close()
		p.drop()
	})
	go p.serve()
	return p
}

func (p *proxy) url() string { return "http://" + p.l.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		if !cut {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if cut {
			c.Close() // while cut, the server is unreachable
			continue
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// drop closes every connection through the proxy.
func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Drop is adaptertest's Harness.Drop: it cuts the bot off until the
// returned function is called.
func (p *proxy) Drop(t *testing.T) func() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.drop()
	return func() {
		p.mu.Lock()
		p.cut = false
		p.mu.Unlock()
	}
}

// person is someone talking to the bot from their own websocket: the
// suite's Client.
type person struct {
	s      *server
	acct   account
	room   string
	ws     *model.WebSocketClient
	direct string // the direct channel with the bot, once used
}

var _ adaptertest.Client = (*person)(nil)

func (s *server) person(t *testing.T, acct account, room string) *person {
	t.Helper()
	ws, err := model.NewWebSocketClient4(strings.Replace(s.url, "http", "ws", 1), acct.token)
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
	return &person{s: s, acct: acct, room: room, ws: ws}
}

func (p *person) ID() string { return "mattermost:" + p.acct.user.Id }

func (p *person) Say(ctx context.Context, text string) error {
	_, err := p.post(ctx, p.room, "", text)
	return err
}

func (p *person) post(ctx context.Context, channel, root, text string) (*model.Post, error) {
	post, _, err := p.acct.api.CreatePost(ctx, &model.Post{ChannelId: channel, RootId: root, Message: text})
	return post, err
}

func (p *person) SayDirect(ctx context.Context, text string) error {
	if p.direct == "" {
		c, _, err := p.acct.api.CreateDirectChannel(ctx, p.acct.user.Id, p.s.seipbot.user.Id)
		if err != nil {
			return err
		}
		p.direct = c.Id
	}
	_, err := p.post(ctx, p.direct, "", text)
	return err
}

func (p *person) Next(ctx context.Context) (adaptertest.Received, error) {
	post, kind, err := p.nextPost(ctx)
	if err != nil {
		return adaptertest.Received{}, err
	}
	if kind == model.ChannelTypeDirect {
		return adaptertest.Received{Direct: true, Text: post.Message}, nil
	}
	return adaptertest.Received{Room: post.ChannelId, Text: post.Message}, nil
}

// nextPost returns the next post by the bot this person sees, and the type
// of channel it is in.
func (p *person) nextPost(ctx context.Context) (*model.Post, model.ChannelType, error) {
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
			if post.UserId != p.s.seipbot.user.Id {
				continue
			}
			kind, _ := ev.GetData()["channel_type"].(string)
			return &post, model.ChannelType(kind), nil
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
}
