package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// Paths of the HTTP endpoints, to enter in the Slack app's settings as
// the Events API request URL and the interactivity request URL.
const (
	EventsPath        = "/slack/events"
	InteractivityPath = "/slack/interactivity"
)

// Limits on the requests the HTTP endpoints accept.
const (
	maxBody = 1 << 20
	// signatureWindow is how far a request's timestamp may be from now;
	// Slack's documentation asks for five minutes, which bounds how long a
	// captured request could be replayed (event ids catch replays within).
	signatureWindow = 5 * time.Minute
)

// Handler serves the Events API and the interactivity endpoint, for HTTP
// mode. Each request's signature is checked before its body is parsed, and
// Slack is answered at once: the message waits in the adapter's queue, not
// in the request, so Slack's three-second deadline is kept.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+EventsPath, a.serveEvents)
	mux.HandleFunc("POST "+InteractivityPath, a.serveInteractivity)
	return mux
}

// verified reads the body of r and returns it if its signature is Slack's,
// answering the request itself otherwise.
func (a *Adapter) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err := checkSignature(r.Header, body, a.opts.SigningSecret, a.opts.Now()); err != nil {
		a.log.Warn("slack: refused a request", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// Errors checkSignature returns.
var (
	errNoSignature  = errors.New("no X-Slack-Signature or X-Slack-Request-Timestamp header")
	errStale        = errors.New("the request's timestamp is outside the five-minute window")
	errBadSignature = errors.New("the signature does not match")
)

// checkSignature checks Slack's v0 signature: "v0=" and the hex HMAC-SHA256,
// keyed with the signing secret, of "v0:<timestamp>:<body>".
func checkSignature(h http.Header, body []byte, secret string, now time.Time) error {
	ts, sig := h.Get("X-Slack-Request-Timestamp"), h.Get("X-Slack-Signature")
	if ts == "" || sig == "" {
		return errNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errStale
	}
	if d := now.Sub(time.Unix(sec, 0)); d > signatureWindow || d < -signatureWindow {
		return errStale
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, "v0="))
	if err != nil || !strings.HasPrefix(sig, "v0=") {
		return errBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errBadSignature
	}
	return nil
}

func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := a.verified(w, r)
	if !ok {
		return
	}
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	if outer.Type == slackevents.URLVerification {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, outer.Challenge)
		return
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		// A well-signed event of a kind the library cannot read is not
		// going to read better on a retry.
		a.log.Warn("slack: unreadable event", "err", err)
		return
	}
	if !a.acceptEvent(ev) {
		// Full, or not running yet: Slack retries later.
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}
}

func (a *Adapter) serveInteractivity(w http.ResponseWriter, r *http.Request) {
	body, ok := a.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "not a form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "no payload", http.StatusBadRequest)
		return
	}
	if !a.acceptAction(cb) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}
}
