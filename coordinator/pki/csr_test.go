package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSignClientCSR(t *testing.T) {
	now := time.Now()
	a, err := LoadOrCreate(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "keel-admin", Organization: []string{"system:masters"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	certPEM, err := a.SignClientCSR(csrPEM, "system:node:n1", []string{"system:nodes"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := decodeCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The subject asked for is ignored: no way to mint an admin.
	if cert.Subject.CommonName != "system:node:n1" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Fatalf("subject %v", cert.Subject)
	}
	if !sameKey(cert, key) {
		t.Fatal("certificate is not for the request's key")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: a.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}

	// A tampered request fails its signature check.
	bad := bytes.Clone(der)
	bad[len(bad)-5] ^= 0xff
	if _, err := a.SignClientCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad}), "u", nil, time.Hour, now); err == nil {
		t.Fatal("tampered request signed")
	}
	if _, err := a.SignClientCSR([]byte("junk"), "u", nil, time.Hour, now); err == nil {
		t.Fatal("junk signed")
	}
}

func TestGossipKey(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k1, err := a.GossipKey()
	if err != nil || len(k1) != GossipKeySize {
		t.Fatalf("%d bytes, %v", len(k1), err)
	}
	b, _ := LoadOrCreate(dir, time.Now())
	if k2, err := b.GossipKey(); err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the gossip key changed across loads")
	}
}

func FuzzSignClientCSR(f *testing.F) {
	a, err := LoadOrCreate(f.TempDir(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, csr []byte) {
		certPEM, err := a.SignClientCSR(csr, "u", []string{"g"}, time.Hour, time.Now())
		if err != nil {
			return
		}
		if c, err := decodeCert(certPEM); err != nil || c.Subject.CommonName != "u" {
			t.Fatalf("issued %v, %v", c, err)
		}
	})
}

func TestSignNodeServingCSR(t *testing.T) {
	now := time.Now()
	a, err := LoadOrCreate(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr := func(names ...string) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names,
			IPAddresses: []net.IP{net.ParseIP("192.0.2.7")}}, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	certPEM, err := a.SignNodeServingCSR(csr("n1"), "n1", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := decodeCert(certPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: a.CAPool(), DNSName: "192.0.2.7"}); err != nil {
		t.Fatalf("verify by IP: %v", err)
	}
	if cert.Subject.CommonName != "system:node:n1" {
		t.Fatalf("CN %s", cert.Subject.CommonName)
	}
	if _, err := a.SignNodeServingCSR(csr("n1", "kubernetes.default.svc"), "n1", now); err == nil {
		t.Fatal("a node got a certificate for the API's name")
	}
}

func TestInstall(t *testing.T) {
	src, err := LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := src.CAKeyPEM()
	gk, _ := src.GossipKey()
	dir := t.TempDir()
	if err := Install(dir, src.CAPEM(), keyPEM, src.AdminToken(), gk); err != nil {
		t.Fatal(err)
	}
	dst, err := LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if dst.CAHash() != src.CAHash() || dst.AdminToken() != src.AdminToken() {
		t.Fatal("installed authority differs")
	}
	other, _ := LoadOrCreate(t.TempDir(), time.Now())
	okey, _ := other.CAKeyPEM()
	if err := Install(dir, other.CAPEM(), okey, other.AdminToken(), gk); err == nil || !strings.Contains(err.Error(), "another cluster's CA") {
		t.Fatalf("replacing the CA: %v", err)
	}
	if err := Install(t.TempDir(), src.CAPEM(), okey, src.AdminToken(), gk); err == nil {
		t.Fatal("a mismatched key was installed")
	}
}
