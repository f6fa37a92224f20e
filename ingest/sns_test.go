package ingest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seipbot/seipbot/ingest"
)

// snsFixture plays SNS's side: a CA of its own, a signing certificate it
// issued, and an HTTPS server on loopback that serves the certificate and
// counts subscription confirmations.
type snsFixture struct {
	srv        *httptest.Server
	roots      *x509.CertPool
	key, other *rsa.PrivateKey
	confirmed  atomic.Int32
}

func newSNSFixture(t testing.TB) *snsFixture {
	t.Helper()
	caKey := mustRSA(t)
	validity := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		}
	}
	caTmpl := validity(1, "seipbot test root")
	caTmpl.IsCA, caTmpl.BasicConstraintsValid, caTmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	caCert := mustCert(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)

	f := &snsFixture{roots: x509.NewCertPool(), key: mustRSA(t), other: mustRSA(t)}
	f.roots.AddCert(caCert)
	signTmpl := validity(2, "sns.test")
	signTmpl.KeyUsage = x509.KeyUsageDigitalSignature
	signCert := mustCert(t, signTmpl, caCert, &f.key.PublicKey, caKey)

	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tlsTmpl := validity(3, "127.0.0.1")
	tlsTmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	tlsTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tlsTmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tlsCert := mustCert(t, tlsTmpl, caCert, &tlsKey.PublicKey, caKey)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /SimpleNotificationService.pem", func(w http.ResponseWriter, _ *http.Request) {
		pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: signCert.Raw})
	})
	mux.HandleFunc("GET /confirm", func(w http.ResponseWriter, _ *http.Request) {
		f.confirmed.Add(1)
		w.Write([]byte("<ConfirmSubscriptionResponse/>"))
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{tlsCert.Raw}, PrivateKey: tlsKey}}}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func mustRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *snsFixture) notification(message, id string) map[string]string {
	return map[string]string{
		"Type": "Notification", "MessageId": id, "TopicArn": topicARN, "Subject": "",
		"Message": message, "Timestamp": now.Add(-time.Minute).Format(time.RFC3339),
		"SigningCertURL": f.srv.URL + "/SimpleNotificationService.pem",
		"UnsubscribeURL": f.srv.URL + "/unsubscribe",
	}
}

// signOrder lists the fields SNS signs, by message type, as its
// documentation gives them.
var signOrder = map[string][]string{
	"Notification":             {"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"},
	"SubscriptionConfirmation": {"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"},
}

// sign sets SignatureVersion and Signature on m with key.
func (f *snsFixture) sign(t *testing.T, m map[string]string, version string, key *rsa.PrivateKey) {
	t.Helper()
	var text []byte
	for _, k := range signOrder[m["Type"]] {
		if v, ok := m[k]; ok && (v != "" || k != "Subject") {
			text = append(text, k+"\n"+v+"\n"...)
		}
	}
	var sig []byte
	var err error
	if version == "1" {
		d := sha1.Sum(text)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256(text)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m["SignatureVersion"], m["Signature"] = version, base64.StdEncoding.EncodeToString(sig)
}

// TestSNS covers what is particular to SNS: both signature versions, and
// subscription confirmation only for a configured topic and only to an SNS
// host.
func TestSNS(t *testing.T) {
	f := newSNSFixture(t)
	src := &ingest.SNS{TopicARNs: []string{topicARN}, Hosts: []string{"127.0.0.1"}, Roots: f.roots, Now: clock}
	h, rec := newServer(t, src)

	m := f.notification("plain text from a CloudWatch alarm", "v1-msg")
	m["Subject"] = "ALARM: api-5xx"
	f.sign(t, m, "1", f.key)
	if w := send(h, post("/hooks/sns", mustJSON(t, m))); w.Code != http.StatusAccepted {
		t.Fatalf("signature version 1: status %d (%s)", w.Code, w.Body)
	}
	if got := rec.texts(); len(got) != 1 || got[0][:22] != "**[INFO] ALARM: api-5x" {
		t.Errorf("plain notification posted %q", got)
	}

	confirm := func(topic, subscribeURL string) int {
		c := map[string]string{
			"Type": "SubscriptionConfirmation", "MessageId": "c-" + topic + subscribeURL, "Token": "2336412f37f",
			"TopicArn": topic, "Message": "You have chosen to subscribe…", "SubscribeURL": subscribeURL,
			"Timestamp": now.Format(time.RFC3339), "SigningCertURL": f.srv.URL + "/SimpleNotificationService.pem",
		}
		f.sign(t, c, "2", f.key)
		return send(h, post("/hooks/sns", mustJSON(t, c))).Code
	}
	tests := []struct {
		name, topic, url string
		code             int
		confirmed        int32
	}{
		{"configured topic", topicARN, f.srv.URL + "/confirm", http.StatusAccepted, 1},
		{"other topic", "arn:aws:sns:eu-west-1:123456789012:other", f.srv.URL + "/confirm", http.StatusUnauthorized, 1},
		{"not an SNS host", topicARN, "https://localhost:1/confirm", http.StatusUnauthorized, 1},
		{"not https", topicARN, "http://127.0.0.1/confirm", http.StatusUnauthorized, 1},
	}
	for _, tt := range tests {
		if code := confirm(tt.topic, tt.url); code != tt.code || f.confirmed.Load() != tt.confirmed {
			t.Errorf("%s: status %d, confirmations %d; want %d, %d", tt.name, code, f.confirmed.Load(), tt.code, tt.confirmed)
		}
	}

	// A certificate from anywhere but an SNS host is never fetched.
	m = f.notification("x", "elsewhere")
	m["SigningCertURL"] = "https://example.com/cert.pem"
	f.sign(t, m, "2", f.key)
	if w := send(h, post("/hooks/sns", mustJSON(t, m))); w.Code != http.StatusUnauthorized {
		t.Errorf("certificate from another host: status %d, want 401", w.Code)
	}
}
