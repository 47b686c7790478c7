package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// t0 is the fixed "now" of tests that do not run a TLS handshake.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestAuthority creates an authority in a fresh directory.
func newTestAuthority(t *testing.T, now time.Time) (*Authority, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	a, err := LoadOrCreate(dir, now)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	return a, dir
}

func TestLoadOrCreate_createsCA(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	ca := a.CACert()
	if want := "keel-ca@1740830400"; ca.Subject.CommonName != want {
		t.Errorf("CA CN = %q, want %q", ca.Subject.CommonName, want)
	}
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate lacks CA constraints or cert-sign usage")
	}
	pub, ok := ca.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if got := ca.NotAfter.Sub(t0); got != caValidity {
		t.Errorf("CA validity from now = %s, want %s", got, caValidity)
	}
	if !ca.NotBefore.Before(t0) {
		t.Errorf("CA NotBefore %s is not before now %s", ca.NotBefore, t0)
	}
	sum := sha256.Sum256(ca.Raw)
	if a.CAHash() != hex.EncodeToString(sum[:]) || len(a.CAHash()) != 64 {
		t.Errorf("CAHash = %q, want hex sha256 of the CA DER", a.CAHash())
	}
	parsed, err := decodeCert(a.CAPEM())
	if err != nil || !parsed.Equal(ca) {
		t.Errorf("CAPEM does not decode to the CA certificate: %v", err)
	}
	if _, err := ca.Verify(x509.VerifyOptions{Roots: a.CAPool(), CurrentTime: t0}); err != nil {
		t.Errorf("CA does not verify against CAPool: %v", err)
	}
}

func TestLoadOrCreate_reloadKeepsEverything(t *testing.T) {
	a, dir := newTestAuthority(t, t0)
	b, err := LoadOrCreate(dir, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !bytes.Equal(a.CAPEM(), b.CAPEM()) || a.CAHash() != b.CAHash() {
		t.Errorf("reload changed the CA")
	}
	if a.AdminToken() != b.AdminToken() {
		t.Errorf("reload changed the admin token")
	}
	ac, ak := a.AdminCert()
	bc, bk := b.AdminCert()
	if !bytes.Equal(ac, bc) || !bytes.Equal(ak, bk) {
		t.Errorf("reload re-issued an admin certificate that was still valid")
	}
}

func TestLoadOrCreate_fileModes(t *testing.T) {
	a, dir := newTestAuthority(t, t0)
	if _, err := a.ServingCert(nil, nil, t0); err != nil {
		t.Fatalf("ServingCert: %v", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %04o, want 0700", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{caCertFile: true, caKeyFile: true, servingCertFile: true, servingKeyFile: true,
		adminCertFile: true, adminKeyFile: true, adminTokenFile: true}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("unexpected file %s (temporary file left behind?)", e.Name())
			continue
		}
		delete(want, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %04o, want 0600", e.Name(), got)
		}
	}
	for name := range want {
		t.Errorf("file %s not written", name)
	}
}

func TestLoadOrCreate_tightensDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, t0); err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %04o, want 0700", got)
	}
}

func TestLoadOrCreate_refusesBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		mangle  func(t *testing.T, dir string)
		wantErr string
	}{
		{"ca key readable by others", chmodFile(caKeyFile, 0o644), "chmod 600"},
		{"ca key readable by group", chmodFile(caKeyFile, 0o640), "chmod 600"},
		{"admin key readable by others", chmodFile(adminKeyFile, 0o604), "chmod 600"},
		{"token readable by others", chmodFile(adminTokenFile, 0o644), "chmod 600"},
		{"ca key missing", removeFile(caKeyFile), "is missing"},
		{"ca key garbage", writeFile(caKeyFile, "not a key"), "load CA key"},
		{"ca cert garbage", writeFile(caCertFile, "not a cert"), "load CA certificate"},
		{"token malformed", writeFile(adminTokenFile, "short"), "load admin token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newTestAuthority(t, t0)
			tt.mangle(t, dir)
			_, err := LoadOrCreate(dir, t0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadOrCreate error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), a.AdminToken()) {
				t.Errorf("error leaks the admin token")
			}
		})
	}
}

func TestLoadOrCreate_reissuesAdminCert(t *testing.T) {
	tests := []struct {
		name    string
		mangle  func(t *testing.T, dir string)
		at      time.Time
		reissue bool
	}{
		{"valid", func(*testing.T, string) {}, t0.Add(300 * 24 * time.Hour), false},
		{"close to expiry", func(*testing.T, string) {}, t0.Add(340 * 24 * time.Hour), true},
		{"expired", func(*testing.T, string) {}, t0.Add(400 * 24 * time.Hour), true},
		{"cert missing", removeFile(adminCertFile), t0, true},
		{"key missing", removeFile(adminKeyFile), t0, true},
		{"cert garbage", writeFile(adminCertFile, "garbage"), t0, true},
		{"key from another pair", swapAdminKey, t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newTestAuthority(t, t0)
			oldCert, _ := a.AdminCert()
			tt.mangle(t, dir)
			b, err := LoadOrCreate(dir, tt.at)
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			newCert, newKey := b.AdminCert()
			if got := !bytes.Equal(oldCert, newCert); got != tt.reissue {
				t.Fatalf("re-issued = %v, want %v", got, tt.reissue)
			}
			cert, err := decodeCert(newCert)
			if err != nil {
				t.Fatal(err)
			}
			key, err := decodeKey(newKey)
			if err != nil || !sameKey(cert, key) {
				t.Fatalf("admin key does not match certificate: %v", err)
			}
			if cert.Subject.CommonName != AdminUser || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != AdminGroup {
				t.Errorf("admin subject = %v", cert.Subject)
			}
			if !b.verifies(cert, x509.ExtKeyUsageClientAuth, tt.at) {
				t.Errorf("admin certificate does not verify at %s", tt.at)
			}
			onDisk, err := os.ReadFile(filepath.Join(dir, adminCertFile))
			if err != nil || !bytes.Equal(onDisk, newCert) {
				t.Errorf("admin certificate on disk differs from the loaded one: %v", err)
			}
		})
	}
}

func chmodFile(name string, mode os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func removeFile(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(name, content string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := WriteFileAtomic(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// swapAdminKey replaces admin.key with a fresh key that matches no certificate.
func swapAdminKey(t *testing.T, dir string) {
	t.Helper()
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(adminKeyFile, string(pemKey))(t, dir)
}
