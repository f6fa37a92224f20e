package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testCA signs the test certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert, key, pool}
}

// leaf issues a certificate for names valid from notBefore to notAfter;
// a nil ca makes it self-signed.
func leaf(t *testing.T, ca *testCA, names []string, notBefore, notAfter time.Time) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func secureHeaders(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Strict-Transport-Security", "max-age=63072000")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Permissions-Policy", "camera=()")
	h.Set("Server", "web")
}

// serveTLS starts a loopback TLS server and returns its https URL on
// localhost.
func serveTLS(t *testing.T, cert tls.Certificate, minV, maxV uint16, h http.HandlerFunc) string {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV, MaxVersion: maxV}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "https://localhost:" + port + "/"
}

func TestScanTLS(t *testing.T) {
	ca := newCA(t)
	now := time.Now()
	good := leaf(t, ca, []string{"localhost"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	tests := []struct {
		name       string
		cert       tls.Certificate
		minV, maxV uint16
		handler    http.HandlerFunc
		grade      string
		want       []string // substrings of the report
	}{
		{"good", good, tls.VersionTLS12, 0, secureHeaders, "A", []string{"TLS: TLS 1.2, TLS 1.3", "; trusted"}},
		{"expired", leaf(t, ca, []string{"localhost"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour)), tls.VersionTLS12, 0, secureHeaders, "C",
			[]string{"[high] the certificate is not trusted: expired on"}},
		{"self-signed", leaf(t, nil, []string{"localhost"}, now.Add(-time.Hour), now.Add(time.Hour*24*90)), tls.VersionTLS12, 0, secureHeaders, "C",
			[]string{"not trusted: self-signed"}},
		{"wrong host", leaf(t, ca, []string{"other.test"}, now.Add(-time.Hour), now.Add(time.Hour*24*90)), tls.VersionTLS12, 0, secureHeaders, "C",
			[]string{"not trusted: issued for other.test, not localhost"}},
		{"tls 1.0", good, tls.VersionTLS10, tls.VersionTLS12, secureHeaders, "D",
			[]string{"TLS: TLS 1.0, TLS 1.1, TLS 1.2", "[high] TLS 1.0 is accepted", "[medium] TLS 1.1 is accepted"}},
		{"expiring, bare", leaf(t, ca, []string{"localhost"}, now.Add(-time.Hour), now.Add(10*24*time.Hour)), tls.VersionTLS12, 0,
			func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Server", "Apache/2.4.1")
				w.Header().Set("X-Powered-By", "PHP/8.1")
				http.SetCookie(w, &http.Cookie{Name: "sid", Value: "abc"})
			}, "F",
			[]string{"[medium] the certificate expires in 9 days", "[medium] no Strict-Transport-Security header", "Server discloses a version: Apache/2.4.1",
				"X-Powered-By discloses a version: PHP/8.1", "cookie sid lacks Secure, HttpOnly, SameSite", "the site can be framed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := serveTLS(t, tt.cert, tt.minV, tt.maxV, tt.handler)
			r, err := Scan(context.Background(), u, Options{Addr: loopback, Roots: ca.pool, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			text := r.Text()
			if r.Grade != tt.grade {
				t.Errorf("grade %s, want %s\n%s", r.Grade, tt.grade, text)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("report lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestScanPlainHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(secureHeaders))
	defer plain.Close()
	redirect := httptest.NewServer(http.RedirectHandler("https://localhost/", http.StatusMovedPermanently))
	defer redirect.Close()
	for srv, want := range map[*httptest.Server]string{
		plain:    "[high] served over plain HTTP with no redirect to HTTPS",
		redirect: "[low] served over plain HTTP, redirected to HTTPS",
	} {
		r, err := Scan(context.Background(), srv.URL, Options{Addr: loopback})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Text(), want) {
			t.Errorf("%s: report lacks %q:\n%s", srv.URL, want, r.Text())
		}
	}
}

func TestCheckCert(t *testing.T) {
	ca := newCA(t)
	u, _ := url.Parse(serveTLS(t, leaf(t, ca, []string{"localhost"}, time.Now().Add(-time.Hour), time.Now().Add(40*24*time.Hour)), tls.VersionTLS12, 0, secureHeaders))
	c, err := CheckCert(context.Background(), "localhost", u.Port(), Options{Addr: loopback, Roots: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Trusted || c.DaysLeft != 39 || !strings.Contains(c.Text(), "issued by CN=Test CA, for localhost") {
		t.Errorf("cert = %+v\n%s", c, c.Text())
	}
}

func TestScanRejectsOtherSchemes(t *testing.T) {
	if _, err := Scan(context.Background(), "ftp://localhost/", Options{Addr: loopback}); err == nil {
		t.Error("ftp URL accepted")
	}
}
