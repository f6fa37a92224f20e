package ingest

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/alert"
)

// SNS receives Amazon SNS HTTPS deliveries, which is how GuardDuty and
// Security Hub findings arrive through EventBridge. Each message's
// signature (version 1, SHA1withRSA, or 2, SHA256withRSA) is checked
// against the signing certificate, which is fetched only from an SNS host
// and must chain to a trusted root; a subscription is confirmed only for a
// configured topic, by a request that again goes only to an SNS host.
type SNS struct {
	TopicARNs []string
	// Hosts are the host names allowed for the signing certificate and
	// the subscription URL; empty means sns.<region>.amazonaws.com(.cn).
	Hosts []string
	// Roots verify the signing certificate and the TLS of both fetches;
	// nil means the system's roots.
	Roots  *x509.CertPool
	Window time.Duration // how old a message may be; default 1h
	Logger *slog.Logger
	Now    func() time.Time

	once   sync.Once
	client *http.Client
	mu     sync.Mutex
	certs  map[string]*x509.Certificate
}

// snsHost is the shape of SNS's own host names.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// Name returns "sns".
func (s *SNS) Name() string { return "sns" }

// ReplayWindow is the age a message may have; SNS retries a delivery with
// the same MessageId, so an id accepted once is refused within it.
func (s *SNS) ReplayWindow() time.Duration {
	if s.Window <= 0 {
		return time.Hour
	}
	return s.Window
}

type snsMessage struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token"`
	TopicARN         string `json:"TopicArn"`
	Subject          string `json:"Subject"`
	Message          string `json:"Message"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL"`
}

// stringToSign is the canonical form SNS signs: the named fields in a
// fixed order, each as its name and value on lines of their own. Subject
// counts only for notifications, and only when present.
func (m *snsMessage) stringToSign() string {
	var fields [][2]string
	switch m.Type {
	case "Notification":
		fields = [][2]string{{"Message", m.Message}, {"MessageId", m.MessageID}}
		if m.Subject != "" {
			fields = append(fields, [2]string{"Subject", m.Subject})
		}
		fields = append(fields, [2]string{"Timestamp", m.Timestamp}, [2]string{"TopicArn", m.TopicARN}, [2]string{"Type", m.Type})
	default:
		fields = [][2]string{{"Message", m.Message}, {"MessageId", m.MessageID}, {"SubscribeURL", m.SubscribeURL},
			{"Timestamp", m.Timestamp}, {"Token", m.Token}, {"TopicArn", m.TopicARN}, {"Type", m.Type}}
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f[0])
		b.WriteByte('\n')
		b.WriteString(f[1])
		b.WriteByte('\n')
	}
	return b.String()
}

// Verify checks the topic, the certificate's origin and chain, the
// signature and the message's age. The envelope is decoded to find the
// signature; the message inside it is read only after.
func (s *SNS) Verify(r *http.Request, body []byte) (string, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("%w: not an SNS message", ErrUnsigned)
	}
	if m.Signature == "" || m.SigningCertURL == "" {
		return m.MessageID, ErrUnsigned
	}
	if !slices.Contains(s.TopicARNs, m.TopicARN) {
		return m.MessageID, fmt.Errorf("%w: topic %q is not configured", ErrBadSignature, m.TopicARN)
	}
	var h crypto.Hash
	switch m.SignatureVersion {
	case "1":
		h = crypto.SHA1
	case "2":
		h = crypto.SHA256
	default:
		return m.MessageID, fmt.Errorf("%w: signature version %q", ErrBadSignature, m.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return m.MessageID, ErrBadSignature
	}
	cert, err := s.cert(r.Context(), m.SigningCertURL)
	if err != nil {
		return m.MessageID, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return m.MessageID, fmt.Errorf("%w: the signing key is not RSA", ErrBadSignature)
	}
	var digest []byte
	if h == crypto.SHA1 {
		d := sha1.Sum([]byte(m.stringToSign()))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(m.stringToSign()))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(key, h, digest, sig); err != nil {
		return m.MessageID, ErrBadSignature
	}
	ts, err := time.Parse(time.RFC3339, m.Timestamp)
	if err != nil {
		return m.MessageID, ErrBadSignature
	}
	return m.MessageID, inWindow(ts, s.now(), s.ReplayWindow())
}

func (s *SNS) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// allowed checks that a URL SNS gave is HTTPS on an SNS host; anything else
// would let a forged message make the bot fetch from anywhere.
func (s *SNS) allowed(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil {
		return nil, fmt.Errorf("%q is not an https URL", raw)
	}
	host := u.Hostname()
	if len(s.Hosts) > 0 && slices.Contains(s.Hosts, host) || len(s.Hosts) == 0 && snsHost.MatchString(host) {
		return u, nil
	}
	return nil, fmt.Errorf("%s is not an SNS host", host)
}

func (s *SNS) httpClient() *http.Client {
	s.once.Do(func() {
		s.client = &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Roots, MinVersion: tls.VersionTLS12}},
			// A redirect could leave the SNS host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return s.client
}

// cert fetches (once per URL) and checks the signing certificate.
func (s *SNS) cert(ctx context.Context, raw string) (*x509.Certificate, error) {
	u, err := s.allowed(raw)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c := s.certs[u.String()]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	body, err := s.get(ctx, u, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	block, rest := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("signing certificate: not PEM")
	}
	c, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	inter := x509.NewCertPool()
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if ic, err := x509.ParseCertificate(b.Bytes); err == nil {
			inter.AddCert(ic)
		}
	}
	_, err = c.Verify(x509.VerifyOptions{Roots: s.Roots, Intermediates: inter, CurrentTime: s.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	s.mu.Lock()
	if s.certs == nil {
		s.certs = map[string]*x509.Certificate{}
	}
	s.certs[u.String()] = c
	s.mu.Unlock()
	return c, nil
}

func (s *SNS) get(ctx context.Context, u *url.URL, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u.Host, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit))
}

// Parse confirms a subscription to a configured topic, or renders a
// notification: GuardDuty and Security Hub findings by their fields, any
// other message as text.
func (s *SNS) Parse(r *http.Request, body []byte) ([]alert.Alert, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		u, err := s.allowed(m.SubscribeURL)
		if err != nil {
			return nil, fmt.Errorf("%w: SubscribeURL: %w", ErrBadSignature, err)
		}
		if _, err := s.get(r.Context(), u, 64<<10); err != nil {
			return nil, fmt.Errorf("confirming the subscription: %w", err)
		}
		if s.Logger != nil {
			s.Logger.Info("SNS subscription confirmed", "topic", m.TopicARN)
		}
		return nil, nil
	case "UnsubscribeConfirmation":
		return nil, nil
	case "Notification":
		return snsAlerts(&m)
	}
	return nil, fmt.Errorf("message type %q", m.Type)
}

// eventBridge is the envelope of an EventBridge event.
type eventBridge struct {
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

type guardDuty struct {
	ID          string  `json:"id"`
	AccountID   string  `json:"accountId"`
	Region      string  `json:"region"`
	Type        string  `json:"type"`
	Severity    float64 `json:"severity"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Resource    struct {
		ResourceType    string `json:"resourceType"`
		InstanceDetails *struct {
			InstanceID string `json:"instanceId"`
		} `json:"instanceDetails"`
		AccessKeyDetails *struct {
			UserName string `json:"userName"`
		} `json:"accessKeyDetails"`
		S3BucketDetails []struct {
			Name string `json:"name"`
		} `json:"s3BucketDetails"`
	} `json:"resource"`
}

type securityHub struct {
	Findings []struct {
		ID           string   `json:"Id"`
		AwsAccountID string   `json:"AwsAccountId"`
		Region       string   `json:"Region"`
		Types        []string `json:"Types"`
		Title        string   `json:"Title"`
		Description  string   `json:"Description"`
		Severity     struct {
			Label string `json:"Label"`
		} `json:"Severity"`
		Resources []struct {
			Type string `json:"Type"`
			ID   string `json:"Id"`
		} `json:"Resources"`
		Workflow struct {
			Status string `json:"Status"`
		} `json:"Workflow"`
		RecordState string `json:"RecordState"`
	} `json:"findings"`
}

func snsAlerts(m *snsMessage) ([]alert.Alert, error) {
	var ev eventBridge
	if json.Unmarshal([]byte(m.Message), &ev) == nil && len(ev.Detail) > 0 {
		switch ev.DetailType {
		case "GuardDuty Finding":
			var f guardDuty
			if err := json.Unmarshal(ev.Detail, &f); err != nil {
				return nil, fmt.Errorf("decoding the GuardDuty finding: %w", err)
			}
			return []alert.Alert{guardDutyAlert(&f)}, nil
		case "Security Hub Findings - Imported":
			var sh securityHub
			if err := json.Unmarshal(ev.Detail, &sh); err != nil {
				return nil, fmt.Errorf("decoding the Security Hub findings: %w", err)
			}
			return securityHubAlerts(&sh), nil
		}
	}
	text := m.Message
	if len(text) > 2000 {
		text = text[:2000] + "…"
	}
	return []alert.Alert{{
		Source: "sns", Status: alert.Firing, Title: cmp.Or(m.Subject, "SNS notification on "+topicName(m.TopicARN)),
		Text: text, Fingerprint: m.MessageID, Labels: map[string]string{"topic": topicName(m.TopicARN)},
	}}, nil
}

// guardDutySeverity maps GuardDuty's 0–10 scale onto its documented bands.
func guardDutySeverity(v float64) alert.Severity {
	switch {
	case v >= 9:
		return alert.Critical
	case v >= 7:
		return alert.High
	case v >= 4:
		return alert.Medium
	case v >= 1:
		return alert.Low
	}
	return alert.Info
}

func guardDutyAlert(f *guardDuty) alert.Alert {
	res := f.Resource.ResourceType
	switch {
	case f.Resource.InstanceDetails != nil:
		res += " " + f.Resource.InstanceDetails.InstanceID
	case f.Resource.AccessKeyDetails != nil:
		res += " " + f.Resource.AccessKeyDetails.UserName
	case len(f.Resource.S3BucketDetails) > 0:
		res += " " + f.Resource.S3BucketDetails[0].Name
	}
	return alert.Alert{
		Source: "guardduty", Status: alert.Firing, Severity: guardDutySeverity(f.Severity),
		Title: f.Title,
		Text: fmt.Sprintf("type: %s\nresource: %s\naccount: %s (%s), severity %.1f\n%s",
			f.Type, res, f.AccountID, f.Region, f.Severity, f.Description),
		Fingerprint: f.ID, GroupKey: f.Type,
		Labels: map[string]string{"type": f.Type, "account": f.AccountID, "region": f.Region},
	}
}

func securityHubAlerts(sh *securityHub) []alert.Alert {
	var out []alert.Alert
	for _, f := range sh.Findings {
		sev, _ := alert.ParseSeverity(f.Severity.Label)
		var res []string
		for _, r := range f.Resources {
			res = append(res, r.Type+" "+r.ID)
		}
		a := alert.Alert{
			Source: "securityhub", Status: alert.Firing, Severity: sev, Title: f.Title,
			Text: fmt.Sprintf("type: %s\nresource: %s\naccount: %s (%s)\n%s",
				strings.Join(f.Types, ", "), strings.Join(res, ", "), f.AwsAccountID, f.Region, f.Description),
			Fingerprint: f.ID,
			Labels:      map[string]string{"account": f.AwsAccountID, "region": f.Region},
		}
		if f.RecordState == "ARCHIVED" || f.Workflow.Status == "RESOLVED" || f.Workflow.Status == "SUPPRESSED" {
			a.Status = alert.Resolved
		}
		out = append(out, a)
	}
	return out
}

func topicName(arn string) string {
	return arn[strings.LastIndexByte(arn, ':')+1:]
}
