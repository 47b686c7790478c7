package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/keelapi"
	"github.com/keel-edge/keel/coordinator/pki"
)

// credentials are what a node of a cluster holds: the cluster CA, its
// client certificate for the API, its node API's serving certificate, the
// gossip key and the members it last knew. They live in DATA/node.
type credentials struct {
	CA                      []byte
	ClientCert, ClientKey   []byte
	ServingCert, ServingKey []byte
	GossipKey               []byte
	Members                 []string
}

// servingPair is the node API's serving certificate.
func (c *credentials) servingPair() (tls.Certificate, error) {
	return tls.X509KeyPair(c.ServingCert, c.ServingKey)
}

const (
	credCA      = "ca.crt"
	credCert    = "node.crt"
	credKey     = "node.key"
	credServing = "serving.crt"
	credServKey = "serving.key"
	credGossip  = "gossip.key"
	credMembers = "members.json"
)

func credDir(dataDir string) string { return filepath.Join(dataDir, "node") }

// loadCredentials reads DATA/node; fs.ErrNotExist when the node never
// joined.
func loadCredentials(dataDir string) (*credentials, error) {
	dir := credDir(dataDir)
	read := func(name string) ([]byte, error) { return pki.ReadPrivate(filepath.Join(dir, name)) }
	ca, err := read(credCA)
	if err != nil {
		return nil, err
	}
	c := &credentials{CA: ca}
	for _, f := range []struct {
		name string
		into *[]byte
	}{{credCert, &c.ClientCert}, {credKey, &c.ClientKey}, {credServing, &c.ServingCert}, {credServKey, &c.ServingKey}, {credGossip, &c.GossipKey}} {
		if *f.into, err = read(f.name); err != nil {
			return nil, fmt.Errorf("node credentials in %s: %w", dir, err)
		}
	}
	if _, err := tls.X509KeyPair(c.ClientCert, c.ClientKey); err != nil {
		return nil, fmt.Errorf("node credentials in %s: client certificate: %w", dir, err)
	}
	if _, err := c.servingPair(); err != nil {
		return nil, fmt.Errorf("node credentials in %s: serving certificate: %w", dir, err)
	}
	if m, err := read(credMembers); err == nil {
		_ = json.Unmarshal(m, &c.Members)
	}
	return c, nil
}

// saveCredentials writes the PEM parts of a fresh set of credentials.
func saveCredentials(dataDir string, ca, cert, key, serving, servingKey, gossip []byte, members []string) error {
	dir := credDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	m, _ := json.Marshal(members)
	for _, f := range []struct {
		name string
		data []byte
	}{{credGossip, gossip}, {credKey, key}, {credCert, cert}, {credServKey, servingKey}, {credServing, serving}, {credMembers, m}, {credCA, ca}} {
		if err := pki.WriteFileAtomic(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return fmt.Errorf("save node credentials: %w", err)
		}
	}
	return nil
}

// saveMembers remembers gossip addresses for the next start.
func saveMembers(dataDir string, members []string) error {
	m, _ := json.Marshal(members)
	return pki.WriteFileAtomic(filepath.Join(credDir(dataDir), credMembers), m, 0o600)
}

// bootstrapCluster makes a new cluster's trust material on its first
// coordinator and the node's own credentials from it.
func bootstrapCluster(dataDir, node string, ips []net.IP) error {
	auth, err := pki.LoadOrCreate(filepath.Join(dataDir, "pki"), time.Now())
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	gossip, err := auth.GossipKey()
	if err != nil {
		return err
	}
	r, err := newRequests(node, ips)
	if err != nil {
		return err
	}
	cert, err := auth.SignClientCSR(r.clientCSR, coordinator.NodeUser(node), []string{coordinator.NodesGroup}, coordinator.NodeCertValidity, time.Now())
	if err != nil {
		return err
	}
	serving, err := auth.SignNodeServingCSR(r.servingCSR, node, time.Now())
	if err != nil {
		return err
	}
	return saveCredentials(dataDir, auth.CAPEM(), cert, r.clientKey, serving, r.servingKey, gossip, nil)
}

// requests are a node's two certificate requests (client and node API
// serving) and their keys, which never leave the node.
type requests struct {
	clientKey, clientCSR   []byte
	servingKey, servingCSR []byte
}

func newRequests(node string, ips []net.IP) (requests, error) {
	var r requests
	for _, req := range []struct {
		ips      []net.IP
		key, csr *[]byte
	}{{nil, &r.clientKey, &r.clientCSR}, {ips, &r.servingKey, &r.servingCSR}} {
		key, keyPEM, err := newNodeKey()
		if err != nil {
			return requests{}, err
		}
		csr, err := nodeCSR(key, node, req.ips)
		if err != nil {
			return requests{}, err
		}
		*req.key, *req.csr = keyPEM, csr
	}
	return r, nil
}

// joinCluster presents token to the API at one of addrs and keeps what
// the coordinator answers. The server is trusted only once its chain
// leads to the CA whose hash the token pins, before the token's secret is
// sent.
func joinCluster(ctx context.Context, dataDir, node string, ips []net.IP, addrs []string, token keelapi.JoinToken, asCoordinator bool) error {
	r, err := newRequests(node, ips)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(keelapi.JoinRequest{Node: node, CSR: r.clientCSR, ServingCSR: r.servingCSR, Coordinator: asCoordinator})
	var errs []error
	for _, addr := range addrs {
		resp, err := postJoin(ctx, addr, token, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if asCoordinator {
			if err := pki.Install(filepath.Join(dataDir, "pki"), resp.CA, resp.CAKey, resp.AdminToken, resp.GossipKey); err != nil {
				return err
			}
			if err := pki.WriteFileAtomic(filepath.Join(dataDir, "pki", "encryption.key"), resp.EncryptionKey, 0o600); err != nil {
				return err
			}
		}
		return saveCredentials(dataDir, resp.CA, resp.Certificate, r.clientKey, resp.ServingCertificate, r.servingKey, resp.GossipKey, resp.Members)
	}
	return fmt.Errorf("join: %w", errors.Join(errs...))
}

func postJoin(ctx context.Context, addr string, token keelapi.JoinToken, body []byte) (*keelapi.JoinResponse, error) {
	tlsCfg := &tls.Config{
		// The chain is checked against the pinned CA below instead.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, token.CAHash)
		},
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+keelapi.JoinPath, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	req.Header.Set("Authorization", "Bearer "+token.Bootstrap())
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		var st struct{ Message string }
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			return nil, fmt.Errorf("%s: %s", addr, st.Message)
		}
		return nil, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	var jr keelapi.JoinResponse
	if err := json.Unmarshal(data, &jr); err != nil {
		return nil, fmt.Errorf("%s: join response: %w", addr, err)
	}
	if got := caHash(jr.CA); got != token.CAHash {
		return nil, fmt.Errorf("%s: the cluster CA in the answer is not the one the token pins", addr)
	}
	return &jr, nil
}

// verifyPinned accepts a server whose chain includes the CA with the given
// hash and whose leaf that CA signed.
func verifyPinned(chain []*x509.Certificate, hash string) error {
	if len(chain) == 0 {
		return errors.New("the server presented no certificate")
	}
	for _, c := range chain {
		sum := sha256.Sum256(c.Raw)
		if hex.EncodeToString(sum[:]) != hash {
			continue
		}
		pool := x509.NewCertPool()
		pool.AddCert(c)
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool}); err != nil {
			return fmt.Errorf("the server's certificate is not signed by the pinned CA: %w", err)
		}
		return nil
	}
	return errors.New("the server's CA is not the one the join token pins (wrong cluster, or someone in between)")
}

func caHash(caPEM []byte) string {
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return ""
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}

func newNodeKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func nodeCSR(key *ecdsa.PrivateKey, node string, ips []net.IP) ([]byte, error) {
	tmpl := &x509.CertificateRequest{}
	if ips != nil {
		tmpl.DNSNames, tmpl.IPAddresses = []string{node}, ips
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// haveCredentials reports whether the node joined before.
func haveCredentials(dataDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(credDir(dataDir), credCA))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}
