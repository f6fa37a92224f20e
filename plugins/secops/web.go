package secops

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/scan/web"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/scope"
)

const (
	certWatchPrefix = "secops/certwatch/"
	certWatchKind   = "secops-cert"
	// certCheckEvery is how often a watched certificate is fetched again.
	certCheckEvery = 24 * time.Hour
)

// warnDays are the days before expiry at which a watch warns, once each.
var warnDays = []int{30, 14, 7}

func (p *Plugin) registerWeb(r *bot.Registry) {
	r.Command(bot.Command{
		Words: "scan web", Args: []bot.Arg{{Name: "url", Kind: bot.String, Help: "an http or https URL in scope"}},
		Help:       "check a site's TLS, certificate and security headers and grade it A-F (a job)",
		Examples:   []string{"scan web https://intranet.example.com/"},
		Permission: "scan.web", Sensitive: true, Handler: bot.HandlerFunc(p.scanWeb),
	})
	hostPort := []bot.Arg{{Name: "address", Kind: bot.String, Help: "host:port, such as intranet.example.com:443"}}
	r.Command(bot.Command{
		Words: "cert", Args: hostPort, Help: "show a server's certificate and whether it is trusted",
		Permission: "scan.web", Sensitive: true, Handler: bot.HandlerFunc(p.cert),
	})
	r.Command(bot.Command{
		Words: "watch cert", Args: hostPort, Help: "warn here 30, 14 and 7 days before a certificate expires",
		Permission: "scan.web", Sensitive: true, Handler: bot.HandlerFunc(p.watchCert),
	})
}

// approve checks a host against the room's scope and returns it with the
// address to connect to.
func (p *Plugin) approve(ctx context.Context, room, host string) (web.Options, error) {
	t, err := p.o.Scope.CheckHost(ctx, room, host)
	if err != nil {
		return web.Options{}, userScopeError(err)
	}
	return web.Options{Addr: t.Prefixes[0].Addr(), Roots: p.o.Roots, Now: p.o.Now}, nil
}

func (p *Plugin) scanWeb(ctx context.Context, w bot.Responder, m *bot.Message) error {
	raw := m.Args.String("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return bot.Userf("%q is not a web address; give one such as https://intranet.example.com/.", raw)
	}
	opts, err := p.approve(ctx, m.Room, u.Hostname())
	if err != nil {
		return err
	}
	j, err := p.o.Jobs.Start(ctx, w, jobs.SpecFor(m), func(ctx context.Context, _ func(string)) (string, error) {
		r, err := web.Scan(ctx, u.String(), opts)
		if err != nil {
			return "", &bot.UserError{Msg: fmt.Sprintf("%s could not be checked: %s.", u.Host, reason(err)), Err: err}
		}
		return r.Text(), nil
	})
	if err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Job %s: checking %s; the report will follow in the thread.", j.ID, u.Host))
}

// reason says briefly why a connection failed, without internal detail.
func reason(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "it did not answer in time"
	case strings.Contains(err.Error(), "refused"):
		return "the connection was refused"
	case strings.Contains(err.Error(), "handshake"):
		return "the TLS handshake failed"
	}
	return "the connection failed"
}

// splitHostPort reads host:port from a command.
func splitHostPort(s string) (string, string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", "", bot.Userf("%q is not host:port; give one such as intranet.example.com:443.", s)
	}
	return host, port, nil
}

func (p *Plugin) cert(ctx context.Context, w bot.Responder, m *bot.Message) error {
	host, port, err := splitHostPort(m.Args.String("address"))
	if err != nil {
		return err
	}
	opts, err := p.approve(ctx, m.Room, host)
	if err != nil {
		return err
	}
	c, err := web.CheckCert(ctx, host, port, opts)
	if err != nil {
		return &bot.UserError{Msg: fmt.Sprintf("%s:%s could not be checked: %s.", host, port, reason(err)), Err: err}
	}
	return w.Reply(ctx, c.Text())
}

// certWatch is a watched certificate.
type certWatch struct {
	ID   string `json:"id"`
	Host string `json:"host"`
	Port string `json:"port"`
	place
	// Warned is the smallest of warnDays already warned about for the
	// current certificate; 0 means none.
	Warned   int       `json:"warned"`
	NotAfter time.Time `json:"not_after"`
}

func (p *Plugin) watchCert(ctx context.Context, w bot.Responder, m *bot.Message) error {
	host, port, err := splitHostPort(m.Args.String("address"))
	if err != nil {
		return err
	}
	if _, err := p.approve(ctx, m.Room, host); err != nil {
		return err
	}
	cw := certWatch{ID: strings.ToLower(rand.Text()[:6]), Host: host, Port: port, place: placeOf(m)}
	if err := p.saveWatch(ctx, cw); err != nil {
		return err
	}
	if _, err := p.o.Sched.At(ctx, p.o.Now(), certWatchKind, []byte(cw.ID)); err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Watching the certificate of %s:%s (watch %s); I'll warn here 30, 14 and 7 days before it expires.", host, port, cw.ID))
}

func (p *Plugin) saveWatch(ctx context.Context, cw certWatch) error {
	raw, err := json.Marshal(cw)
	if err != nil {
		return err
	}
	return p.o.Store.Put(ctx, certWatchPrefix+cw.ID, raw, 0)
}

// watchCheck fetches a watched certificate, warns when it has crossed one
// of warnDays since the last warning, and books the next check.
func (p *Plugin) watchCheck(ctx context.Context, e schedule.Entry, _ bool) error {
	cw, err := load[certWatch](ctx, p.o.Store, certWatchPrefix+string(e.Payload))
	if cw == nil || err != nil {
		return err // nil and nil: the watch was removed
	}
	say := func(text string) error { return p.say(ctx, cw.place, "cert-"+e.ID, text) }
	opts, err := p.approve(ctx, cw.Room, cw.Host)
	if errors.Is(err, scope.ErrOutOfScope) {
		_ = p.o.Store.Delete(ctx, certWatchPrefix+cw.ID)
		return say(fmt.Sprintf("Certificate watch %s of %s stopped: %s", cw.ID, cw.Host, err))
	}
	if err != nil {
		return err
	}
	c, err := web.CheckCert(ctx, cw.Host, cw.Port, opts)
	if err != nil {
		p.log.Warn("secops: watched certificate not fetched", "watch", cw.ID, "host", cw.Host, "err", err)
	} else {
		if !c.NotAfter.Equal(cw.NotAfter) {
			cw.NotAfter, cw.Warned = c.NotAfter, 0 // renewed: warn afresh
		}
		if due := warnFor(c.DaysLeft); due != 0 && (cw.Warned == 0 || due < cw.Warned) {
			if err := say(fmt.Sprintf("The certificate of %s:%s expires in %d days, on %s; renew it.", cw.Host, cw.Port, c.DaysLeft, c.NotAfter.UTC().Format(time.DateOnly))); err != nil {
				return err
			}
			cw.Warned = due
		}
		if err := p.saveWatch(ctx, *cw); err != nil {
			return err
		}
	}
	_, err = p.o.Sched.At(ctx, p.o.Now().Add(certCheckEvery), certWatchKind, e.Payload)
	return err
}

// warnFor returns the smallest of warnDays that days has reached, or 0.
func warnFor(days int) int {
	due := 0
	for _, d := range warnDays {
		if days <= d {
			due = d
		}
	}
	return due
}
