// Package xmpptest starts a real Prosody for tests, with the bot's and a
// human's accounts and a multi-user chat service: the XMPP adapter's own
// tests and the end-to-end tests of "seipbot run" share it.
//
// It does not import the adapter, so the adapter's in-package tests can
// import it without an import cycle; a human's client is the test's own.
package xmpptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/seipbot/seipbot/adapter/adaptertest"
)

// The accounts every server has, and the domain of its multi-user chat
// service, where any room can be joined (and so made) on first use.
const (
	BotJID, BotPassword     = "seipbot@localhost", "bot-pass-1"
	AliceJID, AlicePassword = "alice@localhost", "alice-pass-1"
	MUCDomain               = "conference.localhost"
)

//go:embed prosody.cfg.lua
var config []byte

// Server is a Prosody server on loopback, in a folder of its own, stopped
// when the test ends.
type Server struct {
	// CAFile is the PEM certificate the server's TLS certificate is, for
	// clients to trust.
	CAFile string
	// Port takes plaintext and STARTTLS; TLSPort takes direct TLS.
	Port, TLSPort int

	t             testing.TB
	bin, ctl, cfg string
	base          string
	env           []string
	cmd           *exec.Cmd
	exited        chan struct{}
}

// Start starts a server for t and stops it when t ends. Without Prosody the
// test is skipped, or fails under CI=true (scripts/prosody.sh installs it
// and names it in SEIPBOT_PROSODY).
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("SEIPBOT_PROSODY")
	if bin == "" {
		bin, _ = exec.LookPath("prosody")
	}
	if bin == "" {
		adaptertest.ServerRequired(t, "prosody")
	}
	p := &Server{t: t, bin: bin, ctl: filepath.Join(filepath.Dir(bin), "prosodyctl"), base: t.TempDir()}
	for _, dir := range []string{"data", "logs", "certs"} {
		if err := os.Mkdir(filepath.Join(p.base, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p.cfg = filepath.Join(p.base, "prosody.cfg.lua")
	if err := os.WriteFile(p.cfg, config, 0o600); err != nil {
		t.Fatal(err)
	}
	p.CAFile = writeCert(t, filepath.Join(p.base, "certs"))
	p.Port, p.TLSPort = adaptertest.FreePort(t), adaptertest.FreePort(t)
	p.env = append(os.Environ(), "PROSODY_BASE="+p.base,
		"PROSODY_PORT="+strconv.Itoa(p.Port), "PROSODY_TLS_PORT="+strconv.Itoa(p.TLSPort))
	for _, u := range [][2]string{{"seipbot", BotPassword}, {"alice", AlicePassword}} {
		cmd := exec.Command(p.ctl, "--config", p.cfg, "register", u[0], "localhost", u[1])
		cmd.Env = p.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("prosodyctl register %s: %v\n%s", u[0], err, out)
		}
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Addr is the plaintext and STARTTLS host:port.
func (p *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// Start runs the server (again, after Stop) and returns once it accepts
// connections.
func (p *Server) Start() {
	p.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(p.base, "logs", "console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logFile.Close()
	p.cmd = exec.Command(p.bin, "--config", p.cfg, "-F")
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, logFile, logFile
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start prosody: %v", err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(p.cmd, p.exited)
	deadline := time.Now().Add(adaptertest.Timeout)
	for {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.exited:
			log, _ := os.ReadFile(filepath.Join(p.base, "logs", "console.log"))
			p.t.Fatalf("prosody exited at start:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("prosody did not listen on %s within %s", p.Addr(), adaptertest.Timeout)
		}
	}
}

// Stop shuts the server down, as a restart does, and waits until it is
// gone. It asks with SIGTERM rather than killing: a server killed in the
// instant between delivering a reply and answering the bot's ping leaves
// the bot unable to tell whether the reply arrived, so it sends it again
// (delivery is at least once), and a test counting replies sees a
// duplicate.
func (p *Server) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(adaptertest.Timeout):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// TLSConfig trusts the server's certificate.
func (p *Server) TLSConfig() *tls.Config {
	pemData, err := os.ReadFile(p.CAFile)
	if err != nil {
		p.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	return &tls.Config{ServerName: "localhost", RootCAs: pool}
}

// writeCert makes a self-signed certificate for localhost and its MUC
// service, as Prosody finds it in dir, and returns the certificate's path
// for clients to trust.
func writeCert(t testing.TB, dir string) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost", MUCDomain},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt := filepath.Join(dir, "localhost.crt")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "localhost.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return crt
}
