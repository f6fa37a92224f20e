package redistest

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Server is a redis-server of the test's own on a free loopback port, with
// every write fsynced to its append-only file before Redis acknowledges
// it, so an acknowledged write survives a kill. Tests kill and restart it
// to see the bot through an outage.
type Server struct {
	// Addr is host:port; it stays the same across restarts.
	Addr string

	bin, dir string
	cmd      *exec.Cmd
}

// Start starts a server, killed when the test ends. Without redis-server
// the test is skipped, or fails under CI, as in URL.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{bin: ServerBinary(t), Addr: ln.Addr().String(), dir: t.TempDir()}
	ln.Close()
	s.Restart(t)
	t.Cleanup(s.Kill)
	return s
}

// URL returns the server's URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Restart starts the killed server again on its port, with what it had
// acknowledged, and returns once it answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.bin, "--bind", "127.0.0.1", "--port", port, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			// Listening is not loading: wait until it answers commands.
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write([]byte("PING\r\n"))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("redis-server did not answer on %s within 5s", s.Addr)
}

// Kill kills the server: it gets no chance to flush anything more.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
