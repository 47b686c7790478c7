package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"
)

// SignClientCSR issues a client certificate for the public key of a PEM
// certificate request, whose signature proves the requester holds the
// key. The subject is the one given here, whatever the request asks for:
// user as common name, groups as organizations.
func (a *Authority) SignClientCSR(csrPEM []byte, user string, groups []string, validity time.Duration, now time.Time) ([]byte, error) {
	if user == "" || validity <= 0 {
		return nil, errors.New("sign certificate request: a user and a positive validity are required")
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("sign certificate request: not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sign certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("sign certificate request: bad signature: %w", err)
	}
	tmpl, err := newLeafTemplate(user, slices.Clone(groups), x509.ExtKeyUsageClientAuth, now, validity)
	if err != nil {
		return nil, err
	}
	_, der, err := sign(tmpl, a.caCert, csr.PublicKey, a.caKey)
	if err != nil {
		return nil, err
	}
	return encodeCert(der), nil
}

// CAKeyPEM is the CA's private key, which only coordinator candidates
// receive.
func (a *Authority) CAKeyPEM() ([]byte, error) { return encodeKey(a.caKey) }

// GossipKeySize is the size of the cluster's gossip key (AES-256).
const GossipKeySize = 32

const gossipKeyFile = "gossip.key"

// GossipKey is the cluster's gossip encryption key, created on first use
// and kept beside the CA.
func (a *Authority) GossipKey() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	path := a.path(gossipKeyFile)
	key, err := ReadPrivate(path)
	switch {
	case err == nil:
		if len(key) != GossipKeySize {
			return nil, fmt.Errorf("gossip key %s: %d bytes, want %d", path, len(key), GossipKeySize)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	key = make([]byte, GossipKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(path, key, privateMode); err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	return key, nil
}
