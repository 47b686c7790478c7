package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
)

// User is an authenticated API client.
type User struct {
	// Name is the user name: a client certificate's common name, or
	// AdminUser for the admin bearer token.
	Name string
	// Groups are the user's groups: a client certificate's organizations,
	// or AdminGroup for the admin bearer token.
	Groups []string
}

// Authenticate says who sent r. A client certificate the TLS layer verified
// against the cluster CA (r.TLS.VerifiedChains non-empty, see TLSConfig)
// maps to its common name and organizations; a certificate with an empty
// common name is refused. Without one, an "Authorization: Bearer <token>"
// header matching the admin token maps to AdminUser in AdminGroup. Anything
// else is not authenticated. Authenticate adds no implicit groups such as
// system:authenticated; that is the authorizer's business.
func (a *Authority) Authenticate(r *http.Request) (User, bool) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return a.certUser(r.TLS.VerifiedChains)
	}
	if tok, ok := bearerToken(r.Header.Get("Authorization")); ok && a.tokenMatches(tok) {
		return User{Name: AdminUser, Groups: []string{AdminGroup}}, true
	}
	return User{}, false
}

// certUser maps the first verified chain that ends at the cluster CA to its
// leaf's subject. Chains to any other root are ignored, so a server
// configured with a wider ClientCAs pool still admits only this CA.
func (a *Authority) certUser(chains [][]*x509.Certificate) (User, bool) {
	for _, chain := range chains {
		if len(chain) == 0 || !bytes.Equal(chain[len(chain)-1].Raw, a.caCert.Raw) {
			continue
		}
		leaf := chain[0]
		if leaf.Subject.CommonName == "" {
			return User{}, false
		}
		return User{Name: leaf.Subject.CommonName, Groups: slices.Clone(leaf.Subject.Organization)}, true
	}
	return User{}, false
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header value. The scheme is case-insensitive; an empty token is refused.
func bearerToken(header string) (string, bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// TLSConfig returns the API server's TLS configuration: TLS 1.2 or later,
// cert as the serving certificate, client certificates verified against the
// cluster CA when a client offers one (so bearer-token clients still
// connect), and ALPN for HTTP/2 and HTTP/1.1.
//
// The CA certificate follows the serving certificate in the chain, so a
// joining node can check it against the CA hash its token pins.
func (a *Authority) TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{a.ChainWithCA(cert)},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    a.CAPool(),
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// tokenBytes is the number of random bytes in the admin bearer token.
const tokenBytes = 32

// loadOrCreateToken reads admin.token, or writes a new random token there.
func (a *Authority) loadOrCreateToken() error {
	path := a.path(adminTokenFile)
	data, err := ReadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		tok, err := newToken()
		if err != nil {
			return err
		}
		if err := WriteFileAtomic(path, []byte(tok+"\n"), privateMode); err != nil {
			return fmt.Errorf("create admin token: %w", err)
		}
		a.adminToken = tok
		return nil
	}
	if err != nil {
		return fmt.Errorf("load admin token: %w", err)
	}
	tok := string(bytes.TrimSpace(data))
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != tokenBytes {
		return fmt.Errorf("load admin token %s: not %d base64url-encoded bytes: remove the file to create a new token", path, tokenBytes)
	}
	a.adminToken = tok
	return nil
}

// newToken returns tokenBytes random bytes, base64url encoded without padding.
func newToken() (string, error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// AdminToken returns the admin bearer token.
func (a *Authority) AdminToken() string { return a.adminToken }

// tokenMatches compares a presented token with the admin token in constant
// time. Both are hashed first so that not even the length is compared in
// variable time.
func (a *Authority) tokenMatches(presented string) bool {
	if presented == "" || a.adminToken == "" {
		return false
	}
	got := sha256.Sum256([]byte(presented))
	want := sha256.Sum256([]byte(a.adminToken))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
