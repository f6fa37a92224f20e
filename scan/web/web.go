// Package web checks a web server the way an auditor would from outside:
// the TLS versions and weak cipher suites it accepts, its certificate
// (validity, chain, host name, days to expiry), its HTTP security headers,
// cookie flags, version disclosure and redirect to HTTPS, and sums them up
// in a grade from A to F with the reasons.
//
// Connections go to the address the caller approved (Options.Addr), never
// to a fresh DNS answer, so a scan stays where the scope check put it.
package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Severity weighs a finding in the grade.
type Severity int

// Severities, with the points each costs.
const (
	Low    Severity = 3
	Medium Severity = 10
	High   Severity = 25
)

func (s Severity) String() string {
	switch s {
	case High:
		return "high"
	case Medium:
		return "medium"
	}
	return "low"
}

// Finding is one problem found.
type Finding struct {
	Severity Severity
	Text     string
}

// Options tune a check.
type Options struct {
	// Addr is the address to connect to, approved by the caller.
	Addr netip.Addr
	// Timeout bounds each connection and request; zero means 10s.
	Timeout time.Duration
	// Roots verifies certificates; nil means the system's.
	Roots *x509.CertPool
	// Now is the time certificates are checked at; nil means time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Cert describes a server's certificate.
type Cert struct {
	Subject    string
	Issuer     string
	DNSNames   []string
	NotAfter   time.Time
	DaysLeft   int
	Trusted    bool   // the chain verifies to a root and matches the host
	Problem    string // why it does not, when it does not
	SelfSigned bool
}

// Report is the result of Scan.
type Report struct {
	URL         string
	Versions    []string // TLS versions the server accepts
	WeakCiphers []string
	Cert        *Cert
	Status      int
	Findings    []Finding
	Grade       string
}

var versions = []struct {
	v    uint16
	name string
}{{tls.VersionTLS10, "TLS 1.0"}, {tls.VersionTLS11, "TLS 1.1"}, {tls.VersionTLS12, "TLS 1.2"}, {tls.VersionTLS13, "TLS 1.3"}}

// dial connects to the approved address on port.
func dial(ctx context.Context, o Options, port string) (net.Conn, error) {
	d := net.Dialer{Timeout: o.Timeout}
	return d.DialContext(ctx, "tcp", net.JoinHostPort(o.Addr.String(), port))
}

// handshake tries one TLS configuration and returns the connection state.
func handshake(ctx context.Context, o Options, host, port string, cfg *tls.Config) (tls.ConnectionState, error) {
	conn, err := dial(ctx, o, port)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	cfg.ServerName = host
	// The certificate is judged separately, by CheckCert, so that a bad
	// one is reported rather than stopping the checks.
	cfg.InsecureSkipVerify = true
	tc := tls.Client(conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(o.Timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return tc.ConnectionState(), nil
}

// CheckCert fetches and judges the certificate of host:port.
func CheckCert(ctx context.Context, host, port string, o Options) (*Cert, error) {
	o.defaults()
	st, err := handshake(ctx, o, host, port, &tls.Config{MinVersion: tls.VersionTLS10})
	if err != nil {
		return nil, fmt.Errorf("web: TLS handshake with %s: %w", net.JoinHostPort(host, port), err)
	}
	return judge(st.PeerCertificates, host, o), nil
}

func judge(chain []*x509.Certificate, host string, o Options) *Cert {
	leaf := chain[0]
	now := o.Now()
	c := &Cert{
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), DNSNames: leaf.DNSNames,
		NotAfter: leaf.NotAfter, DaysLeft: int(leaf.NotAfter.Sub(now).Hours() / 24),
		// Not CheckSignatureFrom, which refuses a parent that is not a CA,
		// as a self-signed server certificate usually is not.
		SelfSigned: bytes.Equal(leaf.RawIssuer, leaf.RawSubject) &&
			leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil,
	}
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: o.Roots, Intermediates: inter, CurrentTime: now})
	var invalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		c.Trusted = true
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && now.After(leaf.NotAfter):
		c.Problem = "expired on " + leaf.NotAfter.UTC().Format(time.DateOnly)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		c.Problem = "not valid until " + leaf.NotBefore.UTC().Format(time.DateOnly)
	case errors.As(err, &hostErr):
		c.Problem = fmt.Sprintf("issued for %s, not %s", strings.Join(append(leaf.DNSNames, ipStrings(leaf)...), ", "), host)
	case errors.As(err, &unknown) && c.SelfSigned:
		c.Problem = "self-signed"
	case errors.As(err, &unknown):
		c.Problem = "issued by an unknown authority (" + leaf.Issuer.CommonName + "), or the chain is incomplete"
	default:
		c.Problem = err.Error()
	}
	return c
}

func ipStrings(c *x509.Certificate) []string {
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// Scan checks the site at rawURL (http or https).
func Scan(ctx context.Context, rawURL string, o Options) (*Report, error) {
	o.defaults()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("web: %q is not an http or https URL", rawURL)
	}
	r := &Report{URL: u.String()}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if u.Scheme == "https" {
		if err := r.checkTLS(ctx, host, port, o); err != nil {
			return nil, err
		}
	}
	if err := r.checkHTTP(ctx, u, o); err != nil {
		return nil, err
	}
	r.Grade = grade(r.Findings)
	return r, nil
}

func (r *Report) add(s Severity, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{s, fmt.Sprintf(format, args...)})
}

func (r *Report) checkTLS(ctx context.Context, host, port string, o Options) error {
	var chain []*x509.Certificate
	for _, v := range versions {
		st, err := handshake(ctx, o, host, port, &tls.Config{MinVersion: v.v, MaxVersion: v.v})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		r.Versions = append(r.Versions, v.name)
		chain = st.PeerCertificates
		switch v.v {
		case tls.VersionTLS10:
			r.add(High, "TLS 1.0 is accepted; turn it off")
		case tls.VersionTLS11:
			r.add(Medium, "TLS 1.1 is accepted; turn it off")
		}
	}
	if chain == nil {
		return fmt.Errorf("web: no TLS handshake with %s succeeded", net.JoinHostPort(host, port))
	}
	if !slices.Contains(r.Versions, "TLS 1.2") && !slices.Contains(r.Versions, "TLS 1.3") {
		r.add(High, "neither TLS 1.2 nor 1.3 is offered")
	}
	// Weak suites exist only up to TLS 1.2; offer only them and see if
	// the server takes one.
	var weak []uint16
	for _, cs := range tls.InsecureCipherSuites() {
		weak = append(weak, cs.ID)
	}
	for {
		st, err := handshake(ctx, o, host, port, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12, CipherSuites: weak})
		if err != nil {
			break
		}
		name := tls.CipherSuiteName(st.CipherSuite)
		r.WeakCiphers = append(r.WeakCiphers, name)
		weak = slices.DeleteFunc(weak, func(id uint16) bool { return id == st.CipherSuite })
	}
	if len(r.WeakCiphers) > 0 {
		r.add(High, "weak cipher suites accepted: %s", strings.Join(r.WeakCiphers, ", "))
	}
	r.Cert = judge(chain, host, o)
	switch {
	case !r.Cert.Trusted:
		r.add(High, "the certificate is not trusted: %s", r.Cert.Problem)
	case r.Cert.DaysLeft < 14:
		r.add(Medium, "the certificate expires in %d days", r.Cert.DaysLeft)
	case r.Cert.DaysLeft < 30:
		r.add(Low, "the certificate expires in %d days", r.Cert.DaysLeft)
	}
	return nil
}

// client returns an HTTP client that connects only to the approved address
// and does not follow redirects, which are checked themselves.
func client(o Options) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return dial(ctx, o, port)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10},
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (r *Report) checkHTTP(ctx context.Context, u *url.URL, o Options) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := client(o).Do(req)
	if err != nil {
		return fmt.Errorf("web: request %s: %w", u.Redacted(), err)
	}
	resp.Body.Close()
	r.Status = resp.StatusCode
	h := resp.Header
	if u.Scheme == "http" {
		loc, _ := resp.Location()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != nil && loc.Scheme == "https" {
			r.add(Low, "served over plain HTTP, redirected to HTTPS; scan %s for the rest", loc)
		} else {
			r.add(High, "served over plain HTTP with no redirect to HTTPS")
		}
	} else if h.Get("Strict-Transport-Security") == "" {
		r.add(Medium, "no Strict-Transport-Security header")
	}
	csp := h.Get("Content-Security-Policy")
	if csp == "" {
		r.add(Medium, "no Content-Security-Policy header")
	}
	if !strings.EqualFold(h.Get("X-Content-Type-Options"), "nosniff") {
		r.add(Low, "no X-Content-Type-Options: nosniff")
	}
	if h.Get("X-Frame-Options") == "" && !strings.Contains(csp, "frame-ancestors") {
		r.add(Low, "neither X-Frame-Options nor CSP frame-ancestors: the site can be framed")
	}
	if h.Get("Referrer-Policy") == "" {
		r.add(Low, "no Referrer-Policy header")
	}
	if h.Get("Permissions-Policy") == "" {
		r.add(Low, "no Permissions-Policy header")
	}
	for _, name := range []string{"Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version"} {
		if v := h.Get(name); v != "" && strings.ContainsAny(v, "0123456789") {
			r.add(Low, "%s discloses a version: %s", name, printable(v))
		}
	}
	for _, c := range resp.Cookies() {
		var missing []string
		if u.Scheme == "https" && !c.Secure {
			missing = append(missing, "Secure")
		}
		if !c.HttpOnly {
			missing = append(missing, "HttpOnly")
		}
		if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
			missing = append(missing, "SameSite")
		}
		if len(missing) > 0 {
			r.add(Low, "cookie %s lacks %s", printable(c.Name), strings.Join(missing, ", "))
		}
	}
	return nil
}

// printable keeps what a server sent safe to show: printable ASCII, short.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

// grade turns findings into a letter: 100 points less each finding's
// weight, and no better than C with any high finding, however few the
// others.
func grade(fs []Finding) string {
	score, high := 100, false
	for _, f := range fs {
		score -= int(f.Severity)
		high = high || f.Severity == High
	}
	if high {
		score = min(score, 79)
	}
	switch {
	case score >= 90:
		return "A"
	case score >= 80:
		return "B"
	case score >= 70:
		return "C"
	case score >= 60:
		return "D"
	}
	return "F"
}

// Text renders the report for chat.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: grade %s (HTTP %d)", r.URL, r.Grade, r.Status)
	if len(r.Versions) > 0 {
		fmt.Fprintf(&b, "\nTLS: %s", strings.Join(r.Versions, ", "))
	}
	if r.Cert != nil {
		b.WriteString("\n" + r.Cert.Text())
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n- [%s] %s", f.Severity, f.Text)
	}
	return b.String()
}

// Text renders the certificate in one line.
func (c *Cert) Text() string {
	state := "trusted"
	if !c.Trusted {
		state = "NOT trusted: " + c.Problem
	}
	return fmt.Sprintf("Certificate %s, issued by %s, for %s; expires %s (%s days); %s",
		c.Subject, c.Issuer, strings.Join(c.DNSNames, ", "), c.NotAfter.UTC().Format(time.DateOnly), strconv.Itoa(c.DaysLeft), state)
}
