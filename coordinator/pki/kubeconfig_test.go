package pki

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	clientcmd "k8s.io/client-go/tools/clientcmd"
)

func TestAdminKubeconfig_contents(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	data, err := a.AdminKubeconfig("https://10.0.0.1:6443")
	if err != nil {
		t.Fatalf("AdminKubeconfig: %v", err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatalf("clientcmd.Load: %v", err)
	}
	if cfg.CurrentContext != "keel" {
		t.Errorf("current context = %q, want keel", cfg.CurrentContext)
	}
	ctx := cfg.Contexts["keel"]
	if ctx == nil || ctx.Cluster != "keel" || ctx.AuthInfo != "admin" {
		t.Fatalf("context keel = %+v, want cluster keel, user admin", ctx)
	}
	cl := cfg.Clusters["keel"]
	if cl == nil || cl.Server != "https://10.0.0.1:6443" || !bytes.Equal(cl.CertificateAuthorityData, a.CAPEM()) {
		t.Errorf("cluster keel = %+v", cl)
	}
	certPEM, keyPEM := a.AdminCert()
	admin := cfg.AuthInfos["admin"]
	if admin == nil || !bytes.Equal(admin.ClientCertificateData, certPEM) || !bytes.Equal(admin.ClientKeyData, keyPEM) || admin.Token != "" {
		t.Errorf("user admin does not carry exactly the admin certificate and key")
	}
	tok := cfg.AuthInfos["admin-token"]
	if tok == nil || tok.Token != a.AdminToken() || tok.ClientCertificateData != nil {
		t.Errorf("user admin-token does not carry exactly the admin token")
	}
	if err := clientcmd.Validate(*cfg); err != nil {
		t.Errorf("kubeconfig does not validate: %v", err)
	}
}

func TestAdminKubeconfig_badServer(t *testing.T) {
	a, _ := newTestAuthority(t, t0)
	for _, server := range []string{"", "http://10.0.0.1:6443", "10.0.0.1:6443", "https://", "https://a b/"} {
		t.Run(server, func(t *testing.T) {
			if _, err := a.AdminKubeconfig(server); err == nil {
				t.Fatalf("AdminKubeconfig(%q) succeeded", server)
			}
		})
	}
}

func TestAdminKubeconfig_clientGoRequest(t *testing.T) {
	a, dir := newTestAuthority(t, time.Now())
	srv := startServer(t, a)
	data, err := a.AdminKubeconfig(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "admin.kubeconfig")
	if err := WriteFileAtomic(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		user     string // overrides the context's user when not empty
		wantCert bool
	}{
		{"certificate user", "", true},
		{"token user", "admin-token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			overrides := &clientcmd.ConfigOverrides{}
			overrides.Context.AuthInfo = tt.user
			loader := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
			restCfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loader, overrides).ClientConfig()
			if err != nil {
				t.Fatalf("rest config: %v", err)
			}
			hc, err := rest.HTTPClientFor(restCfg)
			if err != nil {
				t.Fatalf("http client: %v", err)
			}
			resp, err := hc.Get(srv.URL + "/version")
			if err != nil {
				t.Fatalf("GET /version: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			var reply whoamiReply
			if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
				t.Fatal(err)
			}
			if reply.Cert != tt.wantCert {
				t.Errorf("request authenticated by certificate = %v, want %v", reply.Cert, tt.wantCert)
			}
			if reply.Name != AdminUser || !slices.Equal(reply.Groups, []string{AdminGroup}) {
				t.Errorf("user = %q %v, want %s [%s]", reply.Name, reply.Groups, AdminUser, AdminGroup)
			}
		})
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode = %04o, want 0600", st.Mode().Perm())
	}
}
