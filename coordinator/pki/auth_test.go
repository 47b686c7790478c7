package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// whoami is a handler that answers with the authenticated user, or 401.
func whoami(a *Authority) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.Authenticate(r)
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"name": u.Name, "groups": u.Groups, "proto": r.Proto,
			"cert": r.TLS != nil && len(r.TLS.VerifiedChains) > 0})
	})
}

// startServer serves whoami over TLS with the authority's configuration.
// Certificates are issued at the wall clock because crypto/tls checks them
// against it.
func startServer(t *testing.T, a *Authority) *httptest.Server {
	t.Helper()
	return startServerWith(t, a, whoami(a))
}

// startServerWith serves h over TLS with the authority's configuration.
func startServerWith(t *testing.T, a *Authority, h http.Handler) *httptest.Server {
	t.Helper()
	cert, err := a.ServingCert(nil, nil, time.Now())
	if err != nil {
		t.Fatalf("ServingCert: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = a.TLSConfig(cert)
	// Rejected handshakes are expected in these tests; keep them out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// clientWith returns an HTTP client trusting the authority's CA and
// presenting the given client certificate when it is not nil.
func clientWith(t *testing.T, a *Authority, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: a.CAPool(), MinVersion: tls.VersionTLS12}
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type whoamiReply struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
	Proto  string   `json:"proto"`
	// Cert is whether the request carried a verified client certificate.
	Cert bool `json:"cert"`
}

// get fetches url with an optional Authorization header and decodes whoami.
func get(t *testing.T, c *http.Client, url, authz string) (int, whoamiReply) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var reply whoamiReply
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
			t.Fatalf("decode reply: %v", err)
		}
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, reply
}

func TestAuthenticate_clientCertHandshake(t *testing.T) {
	a, _ := newTestAuthority(t, time.Now())
	srv := startServer(t, a)
	now := time.Now()
	aliceCert, aliceKey, err := a.ClientCert("alice", []string{"dev", "ops"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	adminCert, adminKey := a.AdminCert()
	tests := []struct {
		name       string
		cert, key  []byte
		authz      string
		wantStatus int
		wantUser   string
		wantGroups []string
	}{
		{"issued client cert", aliceCert, aliceKey, "", 200, "alice", []string{"dev", "ops"}},
		{"admin cert", adminCert, adminKey, "", 200, AdminUser, []string{AdminGroup}},
		{"cert wins over token", aliceCert, aliceKey, "Bearer " + a.AdminToken(), 200, "alice", []string{"dev", "ops"}},
		{"admin token without cert", nil, nil, "Bearer " + a.AdminToken(), 200, AdminUser, []string{AdminGroup}},
		{"nothing", nil, nil, "", 401, "", nil},
		{"wrong token", nil, nil, "Bearer nope", 401, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, reply := get(t, clientWith(t, a, tt.cert, tt.key), srv.URL, tt.authz)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", status, tt.wantStatus)
			}
			if status != 200 {
				return
			}
			if reply.Name != tt.wantUser || !slices.Equal(reply.Groups, tt.wantGroups) {
				t.Errorf("user = %q %v, want %q %v", reply.Name, reply.Groups, tt.wantUser, tt.wantGroups)
			}
			if reply.Proto != "HTTP/2.0" {
				t.Errorf("protocol = %s, want HTTP/2.0 (ALPN h2)", reply.Proto)
			}
		})
	}
}

func TestAuthenticate_foreignCertRejected(t *testing.T) {
	now := time.Now()
	a, _ := newTestAuthority(t, now)
	var served atomic.Int32
	srv := startServerWith(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		whoami(a).ServeHTTP(w, r)
	}))
	// The CA's common name carries its creation second: a foreign CA made
	// in the same second has the same name (so a stock client offers its
	// certificate), one made a minute earlier does not (so a stock client
	// keeps its certificate to itself).
	tests := []struct {
		name      string
		otherAt   time.Time
		force     bool // send the certificate whatever CAs the server asks for
		wantShake bool // the handshake must fail
	}{
		{"forced, other CA with another name", now.Add(-time.Minute), true, true},
		{"forced, other CA with the same name", now, true, true},
		{"stock client, other CA with the same name", now, false, true},
		{"stock client, other CA with another name", now.Add(-time.Minute), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			served.Store(0)
			other, _ := newTestAuthority(t, tt.otherAt)
			certPEM, keyPEM, err := other.ClientCert("mallory", []string{AdminGroup}, time.Hour, now)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cfg := &tls.Config{RootCAs: a.CAPool(), MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
			if tt.force {
				cfg.Certificates = nil
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
			}
			tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
			if tt.wantShake {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request got status %d, want a handshake failure", resp.StatusCode)
				}
				if n := served.Load(); n != 0 {
					t.Errorf("handler ran %d times for a rejected client", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401 (the foreign certificate must not authenticate)", resp.StatusCode)
			}
		})
	}
}

func TestAuthenticate_verifiedChains(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	other, _ := newTestAuthority(t, t0)
	leaf := func(au *Authority, cn string, orgs []string) *x509.Certificate {
		certPEM, _, err := au.ClientCert(cn, orgs, time.Hour, t0)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := decodeCert(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	alice := leaf(a, "alice", []string{"dev"})
	tests := []struct {
		name     string
		state    *tls.ConnectionState
		wantOK   bool
		wantUser string
	}{
		{"chain to our CA", &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{alice, a.CACert()}}}, true, "alice"},
		{"chain to another CA", &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf(other, "eve", nil), other.CACert()}}}, false, ""},
		{"second chain is ours", &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf(other, "eve", nil), other.CACert()}, {alice, a.CACert()}}}, true, "alice"},
		{"unverified peer cert", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{alice}}, false, ""},
		{"empty chain", &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{}}}, false, ""},
		{"no TLS", nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://localhost/", nil)
			r.TLS = tt.state
			u, ok := a.Authenticate(r)
			if ok != tt.wantOK || u.Name != tt.wantUser {
				t.Errorf("Authenticate = %q, %v; want %q, %v", u.Name, ok, tt.wantUser, tt.wantOK)
			}
		})
	}
}

func TestAuthenticate_emptyCommonName(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := newLeafTemplate("", []string{AdminGroup}, x509.ExtKeyUsageClientAuth, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := sign(tmpl, a.CACert(), &key.PublicKey, a.caKey)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "https://localhost/", nil)
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert, a.CACert()}}}
	if u, ok := a.Authenticate(r); ok {
		t.Errorf("certificate without a common name authenticated as %q", u.Name)
	}
}

func TestAuthenticate_bearer(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	tok := a.AdminToken()
	tests := []struct {
		name   string
		header []string
		wantOK bool
	}{
		{"admin token", []string{"Bearer " + tok}, true},
		{"lowercase scheme", []string{"bearer " + tok}, true},
		{"no header", nil, false},
		{"empty header", []string{""}, false},
		{"scheme only", []string{"Bearer"}, false},
		{"scheme and space", []string{"Bearer "}, false},
		{"wrong token", []string{"Bearer " + strings.Repeat("A", len(tok))}, false},
		{"token prefix", []string{"Bearer " + tok[:len(tok)-1]}, false},
		{"token with suffix", []string{"Bearer " + tok + "x"}, false},
		{"token without scheme", []string{tok}, false},
		{"basic scheme", []string{"Basic " + tok}, false},
		{"token and junk", []string{"Bearer " + tok + " junk"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://localhost/", nil)
			for _, h := range tt.header {
				r.Header.Add("Authorization", h)
			}
			u, ok := a.Authenticate(r)
			if ok != tt.wantOK {
				t.Fatalf("Authenticate ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && (u.Name != AdminUser || !slices.Equal(u.Groups, []string{AdminGroup})) {
				t.Errorf("user = %q %v, want %s [%s]", u.Name, u.Groups, AdminUser, AdminGroup)
			}
		})
	}
}

func TestTLSConfig_settings(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	cert, err := a.ServingCert(nil, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.TLSConfig(cert)
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Errorf("ClientAuth = %v, want VerifyClientCertIfGiven", cfg.ClientAuth)
	}
	if !cfg.ClientCAs.Equal(a.CAPool()) {
		t.Errorf("ClientCAs is not the cluster CA pool")
	}
	if !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("NextProtos = %v", cfg.NextProtos)
	}
	if len(cfg.Certificates) != 1 || cfg.Certificates[0].Leaf.SerialNumber.Cmp(cert.Leaf.SerialNumber) != 0 {
		t.Errorf("Certificates do not hold the serving certificate")
	}
}

func FuzzBearerToken(f *testing.F) {
	const token = "dG9rZW4tZm9yLWZ1enppbmctb25seS0wMTIzNDU2Nzg"
	for _, seed := range []string{"", "Bearer", "Bearer ", "Bearer " + token, "bearer " + token,
		"Bearer " + token + " x", "Basic abc", " Bearer\t" + token, "Bearer  " + token, "\x00Bearer \xff"} {
		f.Add(seed)
	}
	a := &Authority{adminToken: token}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := bearerToken(header)
		if ok && (tok == "" || strings.ContainsAny(tok, " \t")) {
			t.Fatalf("bearerToken(%q) accepted token %q", header, tok)
		}
		r := &http.Request{Header: http.Header{"Authorization": {header}}}
		u, authed := a.Authenticate(r)
		if authed != (ok && tok == token) {
			t.Fatalf("Authenticate(%q) = %v, token parse = %q, %v", header, authed, tok, ok)
		}
		if authed && u.Name != AdminUser {
			t.Fatalf("Authenticate(%q) user = %q", header, u.Name)
		}
	})
}
