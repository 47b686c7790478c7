package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServingCert_sans(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	pair, err := a.ServingCert([]string{"Node1.Example.COM.", "api.keel", "10.0.0.7", ""},
		[]net.IP{net.ParseIP("192.168.1.10"), net.ParseIP("fd00::1"), net.ParseIP("127.0.0.1")}, t0)
	if err != nil {
		t.Fatalf("ServingCert: %v", err)
	}
	leaf := pair.Leaf
	wantNames := append(slices.Clone(defaultServingNames), "node1.example.com", "api.keel")
	if !slices.Equal(leaf.DNSNames, wantNames) {
		t.Errorf("DNS names = %v, want %v", leaf.DNSNames, wantNames)
	}
	wantIPs := []string{"127.0.0.1", "::1", "192.168.1.10", "fd00::1", "10.0.0.7"}
	var gotIPs []string
	for _, ip := range leaf.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	if !slices.Equal(gotIPs, wantIPs) {
		t.Errorf("IP addresses = %v, want %v", gotIPs, wantIPs)
	}
	if got := leaf.NotAfter.Sub(t0); got != leafValidity {
		t.Errorf("validity from now = %s, want %s", got, leafValidity)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || leaf.IsCA {
		t.Errorf("serving certificate usage = %v, IsCA = %v", leaf.ExtKeyUsage, leaf.IsCA)
	}
	for _, host := range []string{"kubernetes.default.svc", "node1.example.com", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.CAPool(), DNSName: host, CurrentTime: t0}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
}

func TestServingCert_invalidInput(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	tests := []struct {
		name  string
		names []string
		ips   []net.IP
	}{
		{"bad dns name", []string{"not a name"}, nil},
		{"underscore", []string{"a_b.example"}, nil},
		{"bad ip length", nil, []net.IP{{1, 2, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.ServingCert(tt.names, tt.ips, t0); err == nil {
				t.Fatal("ServingCert accepted invalid input")
			}
		})
	}
}

func TestServingCert_reuseAndReissue(t *testing.T) {
	day := 24 * time.Hour
	base := []string{"node1"}
	tests := []struct {
		name    string
		mangle  func(t *testing.T, dir string)
		names   []string
		ips     []net.IP
		at      time.Time
		reissue bool
		// issued is when the first certificate was issued; t0 when zero.
		issued time.Time
	}{
		{"same request", nil, base, nil, t0, false, time.Time{}},
		{"same request later", nil, base, nil, t0.Add(300 * day), false, time.Time{}},
		{"fewer names", nil, nil, nil, t0, false, time.Time{}},
		{"default name spelled differently", nil, []string{"KUBERNETES", "node1"}, nil, t0, false, time.Time{}},
		{"new name", nil, []string{"node1", "node2"}, nil, t0, true, time.Time{}},
		{"new ip", nil, base, []net.IP{net.ParseIP("10.1.2.3")}, t0, true, time.Time{}},
		{"30 days left", nil, base, nil, t0.Add(335 * day), true, time.Time{}},
		{"31 days left", nil, base, nil, t0.Add(334 * day), false, time.Time{}},
		{"expired", nil, base, nil, t0.Add(400 * day), true, time.Time{}},
		{"not yet valid", nil, base, nil, t0.Add(5 * day), true, t0.Add(10 * day)},
		{"cert garbage", writeFile(servingCertFile, "garbage"), base, nil, t0, true, time.Time{}},
		{"key missing", removeFile(servingKeyFile), base, nil, t0, true, time.Time{}},
		{"from another CA", servingFromOtherCA, base, nil, t0, true, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newTestAuthority(t, t0)
			issued := tt.issued
			if issued.IsZero() {
				issued = t0
			}
			first, err := a.ServingCert(base, nil, issued)
			if err != nil {
				t.Fatalf("first ServingCert: %v", err)
			}
			if tt.mangle != nil {
				tt.mangle(t, dir)
			}
			second, err := a.ServingCert(tt.names, tt.ips, tt.at)
			if err != nil {
				t.Fatalf("second ServingCert: %v", err)
			}
			reissued := first.Leaf.SerialNumber.Cmp(second.Leaf.SerialNumber) != 0
			if reissued != tt.reissue {
				t.Fatalf("re-issued = %v, want %v", reissued, tt.reissue)
			}
			wantNames := slices.Clone(defaultServingNames)
			for _, n := range tt.names {
				wantNames = append(wantNames, strings.ToLower(n))
			}
			if !covers(second.Leaf, wantNames, append(slices.Clone(defaultServingIPs), tt.ips...)) {
				t.Errorf("returned certificate does not cover the request")
			}
			if !a.verifies(second.Leaf, x509.ExtKeyUsageServerAuth, tt.at) {
				t.Errorf("returned certificate does not verify at %s", tt.at)
			}
			// The stored pair is what a restart would load.
			onDisk, err := tls.LoadX509KeyPair(filepath.Join(dir, servingCertFile), filepath.Join(dir, servingKeyFile))
			if err != nil {
				t.Fatalf("load stored pair: %v", err)
			}
			if onDisk.Leaf.SerialNumber.Cmp(second.Leaf.SerialNumber) != 0 {
				t.Errorf("stored certificate is not the returned one")
			}
		})
	}
}

// servingFromOtherCA overwrites the serving pair with one issued by an
// unrelated authority for the same names.
func servingFromOtherCA(t *testing.T, dir string) {
	t.Helper()
	other, otherDir := newTestAuthority(t, t0)
	if _, err := other.ServingCert([]string{"node1"}, nil, t0); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{servingKeyFile, servingCertFile} {
		data, err := os.ReadFile(filepath.Join(otherDir, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(name, string(data))(t, dir)
	}
}

func TestClientCert_subject(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	tests := []struct {
		name   string
		user   string
		groups []string
	}{
		{"user with groups", "alice", []string{"dev", "ops"}},
		{"node identity", "system:node:edge-1", []string{"system:nodes"}},
		{"no groups", "bob", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, err := a.ClientCert(tt.user, tt.groups, 48*time.Hour, t0)
			if err != nil {
				t.Fatalf("ClientCert: %v", err)
			}
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatalf("key pair: %v", err)
			}
			leaf := pair.Leaf
			if leaf.Subject.CommonName != tt.user || !slices.Equal(leaf.Subject.Organization, tt.groups) {
				t.Errorf("subject = %q %v, want %q %v", leaf.Subject.CommonName, leaf.Subject.Organization, tt.user, tt.groups)
			}
			if leaf.NotAfter.Sub(t0) != 48*time.Hour {
				t.Errorf("validity from now = %s, want 48h", leaf.NotAfter.Sub(t0))
			}
			if !a.verifies(leaf, x509.ExtKeyUsageClientAuth, t0) {
				t.Errorf("client certificate does not verify for client auth")
			}
			if a.verifies(leaf, x509.ExtKeyUsageServerAuth, t0) {
				t.Errorf("client certificate verifies for server auth")
			}
		})
	}
}

func TestClientCert_invalidInput(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	tests := []struct {
		name     string
		user     string
		groups   []string
		validity time.Duration
	}{
		{"empty user", "", nil, time.Hour},
		{"empty group", "alice", []string{""}, time.Hour},
		{"zero validity", "alice", nil, 0},
		{"negative validity", "alice", nil, -time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := a.ClientCert(tt.user, tt.groups, tt.validity, t0); err == nil {
				t.Fatal("ClientCert accepted invalid input")
			}
		})
	}
}
