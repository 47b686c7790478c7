package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"
)

// parseCSR reads a PEM certificate request and checks its signature.
func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	return csr, nil
}

// SignNodeServingCSR issues a node API serving certificate for a
// request: common name system:node:<node>, the DNS name node and the IP
// addresses the request lists. Other DNS names are refused, so a node
// cannot pose as the API server or another node by name.
func (a *Authority) SignNodeServingCSR(csrPEM []byte, node string, now time.Time) ([]byte, error) {
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("sign serving certificate request: %w", err)
	}
	for _, n := range csr.DNSNames {
		if n != node {
			return nil, fmt.Errorf("sign serving certificate request: DNS name %q is not the node's name %q", n, node)
		}
	}
	tmpl, err := newLeafTemplate("system:node:"+node, nil, x509.ExtKeyUsageServerAuth, now, leafValidity)
	if err != nil {
		return nil, err
	}
	tmpl.DNSNames, tmpl.IPAddresses = []string{node}, csr.IPAddresses
	_, der, err := sign(tmpl, a.caCert, csr.PublicKey, a.caKey)
	if err != nil {
		return nil, err
	}
	return encodeCert(der), nil
}

// SignClientCSR issues a client certificate for the public key of a PEM
// certificate request, whose signature proves the requester holds the
// key. The subject is the one given here, whatever the request asks for:
// user as common name, groups as organizations.
func (a *Authority) SignClientCSR(csrPEM []byte, user string, groups []string, validity time.Duration, now time.Time) ([]byte, error) {
	if user == "" || validity <= 0 {
		return nil, errors.New("sign certificate request: a user and a positive validity are required")
	}
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("sign certificate request: %w", err)
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

// Install writes the trust material a coordinator candidate receives when
// it joins (the cluster CA and its key, the admin token and the gossip
// key) into dir, so that LoadOrCreate there loads the cluster's CA
// instead of making a new one. It refuses to replace a different CA.
func Install(dir string, caPEM, caKeyPEM []byte, adminToken string, gossipKey []byte) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	cert, err := decodeCert(caPEM)
	if err != nil {
		return fmt.Errorf("install CA: %w", err)
	}
	key, err := decodeKey(caKeyPEM)
	if err != nil {
		return fmt.Errorf("install CA key: %w", err)
	}
	if !cert.IsCA || !sameKey(cert, key) {
		return errors.New("install CA: the key does not belong to the CA certificate")
	}
	path := filepath.Join(dir, caCertFile)
	if cur, err := readPublic(path); err == nil {
		if c, err := decodeCert(cur); err != nil || !bytes.Equal(c.Raw, cert.Raw) {
			return fmt.Errorf("install CA: %s holds another cluster's CA; remove the data directory to join this cluster", path)
		}
	}
	if len(gossipKey) != GossipKeySize {
		return fmt.Errorf("install gossip key: %d bytes, want %d", len(gossipKey), GossipKeySize)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{caKeyFile, caKeyPEM},
		{caCertFile, caPEM},
		{adminTokenFile, []byte(adminToken + "\n")},
		{gossipKeyFile, gossipKey},
	} {
		if err := WriteFileAtomic(filepath.Join(dir, f.name), f.data, privateMode); err != nil {
			return fmt.Errorf("install %s: %w", f.name, err)
		}
	}
	return nil
}
