package pki

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Admin identity carried by the admin client certificate and bearer token.
const (
	// AdminUser is the user name of the admin credentials.
	AdminUser = "keel-admin"
	// AdminGroup is the group of the admin credentials; Kubernetes grants it
	// every permission.
	AdminGroup = "system:masters"
)

// Authority is the cluster's trust material loaded from its directory. Its
// methods are safe for concurrent use.
type Authority struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte

	adminCertPEM []byte
	adminKeyPEM  []byte
	adminToken   string

	// mu serializes ServingCert, which may rewrite files.
	mu sync.Mutex
}

// LoadOrCreate loads the authority kept in dir, creating what is missing:
// the directory (0700), the CA, the admin client certificate and the admin
// token. An admin certificate that is unreadable, not issued by the CA, or
// has 30 days or less left is re-issued, so callers should rewrite the admin
// kubeconfig after each start. A CA certificate without its key is an error
// (re-creating the CA would silently invalidate every issued credential).
func LoadOrCreate(dir string, now time.Time) (*Authority, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	a := &Authority{dir: dir}
	if err := a.loadOrCreateCA(now); err != nil {
		return nil, err
	}
	if err := a.loadOrCreateAdminCert(now); err != nil {
		return nil, err
	}
	if err := a.loadOrCreateToken(); err != nil {
		return nil, err
	}
	return a, nil
}

// path returns the path of a file in the authority's directory.
func (a *Authority) path(name string) string { return filepath.Join(a.dir, name) }

// loadOrCreateCA loads ca.crt and ca.key, or creates both when ca.crt does
// not exist. ca.crt is written after ca.key, so its presence means the pair
// is complete.
func (a *Authority) loadOrCreateCA(now time.Time) error {
	certPath, keyPath := a.path(caCertFile), a.path(caKeyFile)
	certPEM, err := readPublic(certPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return a.createCA(now)
	case err != nil:
		return err
	}
	cert, err := decodeCert(certPEM)
	if err != nil {
		return fmt.Errorf("load CA certificate %s: %w", certPath, err)
	}
	if !cert.IsCA {
		return fmt.Errorf("load CA certificate %s: not a CA certificate", certPath)
	}
	keyPEM, err := ReadPrivate(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("load CA key: %s is missing but %s exists: restore the key, or remove the whole directory %s to create a new cluster CA", keyPath, certPath, a.dir)
	}
	if err != nil {
		return fmt.Errorf("load CA key: %w", err)
	}
	key, err := decodeKey(keyPEM)
	if err != nil {
		return fmt.Errorf("load CA key %s: %w", keyPath, err)
	}
	if !sameKey(cert, key) {
		return fmt.Errorf("load CA: key %s does not match certificate %s", keyPath, certPath)
	}
	a.caCert, a.caKey, a.caPEM = cert, key, certPEM
	return nil
}

// createCA makes a new cluster CA and writes it, key first.
func (a *Authority) createCA(now time.Time) error {
	key, err := newKey()
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	tmpl, err := newCATemplate(now)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	cert, der, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	certPEM := encodeCert(der)
	if err := WriteFileAtomic(a.path(caKeyFile), keyPEM, privateMode); err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	if err := WriteFileAtomic(a.path(caCertFile), certPEM, privateMode); err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	a.caCert, a.caKey, a.caPEM = cert, key, certPEM
	return nil
}

// loadOrCreateAdminCert loads admin.crt and admin.key, re-issuing them when
// they are missing, mismatched, not from this CA or close to expiry.
func (a *Authority) loadOrCreateAdminCert(now time.Time) error {
	certPEM, keyPEM, ok, err := a.loadLeaf(adminCertFile, adminKeyFile, x509.ExtKeyUsageClientAuth, now)
	if err != nil {
		return fmt.Errorf("load admin certificate: %w", err)
	}
	if !ok {
		certPEM, keyPEM, err = a.ClientCert(AdminUser, []string{AdminGroup}, leafValidity, now)
		if err != nil {
			return fmt.Errorf("issue admin certificate: %w", err)
		}
		if err := a.writeLeaf(adminCertFile, adminKeyFile, certPEM, keyPEM); err != nil {
			return fmt.Errorf("issue admin certificate: %w", err)
		}
	}
	a.adminCertPEM, a.adminKeyPEM = certPEM, keyPEM
	return nil
}

// loadLeaf reads a certificate and key pair from the directory and reports
// whether it is usable at now: present, matching, issued by this CA for
// usage, valid now and for more than renewBefore. Unusable files are not an
// error (they are re-issued); only an unreadable file is.
func (a *Authority) loadLeaf(certName, keyName string, usage x509.ExtKeyUsage, now time.Time) (certPEM, keyPEM []byte, ok bool, err error) {
	certPEM, err = readPublic(a.path(certName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	keyPEM, err = ReadPrivate(a.path(keyName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	cert, err := decodeCert(certPEM)
	if err != nil {
		return nil, nil, false, nil
	}
	key, err := decodeKey(keyPEM)
	if err != nil || !sameKey(cert, key) || !a.verifies(cert, usage, now) {
		return nil, nil, false, nil
	}
	if cert.NotAfter.Sub(now) <= renewBefore {
		return nil, nil, false, nil
	}
	return certPEM, keyPEM, true, nil
}

// writeLeaf writes a key and certificate pair, key first.
func (a *Authority) writeLeaf(certName, keyName string, certPEM, keyPEM []byte) error {
	if err := WriteFileAtomic(a.path(keyName), keyPEM, privateMode); err != nil {
		return err
	}
	return WriteFileAtomic(a.path(certName), certPEM, privateMode)
}

// verifies reports whether cert chains to the cluster CA for usage at now.
func (a *Authority) verifies(cert *x509.Certificate, usage x509.ExtKeyUsage, now time.Time) bool {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       a.CAPool(),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{usage},
	})
	return err == nil
}

// CAPEM returns the PEM encoding of the cluster CA certificate.
func (a *Authority) CAPEM() []byte { return slices.Clone(a.caPEM) }

// CAPool returns a new pool holding only the cluster CA certificate.
func (a *Authority) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(a.caCert)
	return pool
}

// CAHash returns the hex SHA-256 of the cluster CA certificate's DER, the
// value a join token carries so that a joining node can pin the CA.
func (a *Authority) CAHash() string {
	sum := sha256.Sum256(a.caCert.Raw)
	return hex.EncodeToString(sum[:])
}

// CACert returns the cluster CA certificate. Callers must not modify it.
func (a *Authority) CACert() *x509.Certificate { return a.caCert }

// AdminCert returns the PEM certificate and PKCS#8 PEM key of the admin
// client credentials (CN keel-admin, O system:masters).
func (a *Authority) AdminCert() (certPEM, keyPEM []byte) {
	return slices.Clone(a.adminCertPEM), slices.Clone(a.adminKeyPEM)
}
