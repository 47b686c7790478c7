package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keel-edge/keel/internal/kubectlbin"
)

// fakeAPIServer serves the OpenAPI handler plus the least discovery kubectl
// needs to map "pods" to a resource, over TLS, and records what was asked.
type fakeAPIServer struct {
	openapi *Handler
	mu      sync.Mutex
	seen    []string
}

func (s *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	writeJSON := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/openapi/"):
		s.openapi.ServeHTTP(w, r)
	case p == "/api":
		writeJSON(http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
		})
	case p == "/apis":
		writeJSON(http.StatusOK, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}})
	case p == "/api/v1":
		writeJSON(http.StatusOK, &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", ShortNames: []string{"po"},
					Verbs: metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}},
				{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch", "update"}},
			},
		})
	default:
		writeJSON(http.StatusNotFound, &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound, Message: p + " not found",
		})
	}
}

func (s *fakeAPIServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// startKubectlEnv serves a fake API server and writes a kubeconfig for it.
func startKubectlEnv(t *testing.T) (*fakeAPIServer, []string) {
	t.Helper()
	h, err := New(testRegistry(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	api := &fakeAPIServer{openapi: h}
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "test",
		"clusters": []any{map[string]any{"name": "test", "cluster": map[string]any{
			"server": srv.URL, "certificate-authority-data": ca,
		}}},
		// A token keeps kubectl from prompting for a password; nothing checks it.
		"users":    []any{map[string]any{"name": "test", "user": map[string]any{"token": "unchecked"}}},
		"contexts": []any{map[string]any{"name": "test", "context": map[string]any{"cluster": "test", "user": "test", "namespace": "default"}}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	if err := os.WriteFile(kubeconfig, b, 0o600); err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	env := []string{"HOME=" + dir, "KUBECONFIG=" + kubeconfig, "PATH=" + os.Getenv("PATH")}
	return api, env
}

func runKubectl(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

const podManifest = `apiVersion: v1
kind: Pod
metadata:
  name: x
spec:
  containers:
  - name: web
    image: nginx
    ports:
    - containerPort: 80
    resources:
      limits: {cpu: 500m, memory: 64Mi}
`

func TestRealKubectl_explainAndApply(t *testing.T) {
	for _, version := range []string{"1.27", "1.33"} {
		t.Run(version, func(t *testing.T) {
			bin := kubectlbin.Require(t, version)
			api, env := startKubectlEnv(t)

			out, err := runKubectl(t, bin, env, "explain", "pods.spec.containers")
			if err != nil {
				t.Fatalf("kubectl explain: %v\n%s\nrequests: %v", err, out, api.requests())
			}
			for _, want := range []string{"containers", "image", "name", "-required-"} {
				if !strings.Contains(out, want) {
					t.Errorf("kubectl explain output lacks %q:\n%s", want, out)
				}
			}

			manifest := filepath.Join(t.TempDir(), "pod.yaml")
			if err := os.WriteFile(manifest, []byte(podManifest), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err = runKubectl(t, bin, env, "apply", "--dry-run=client", "--validate=strict", "-f", manifest)
			if err != nil {
				t.Fatalf("kubectl apply: %v\n%s\nrequests: %v", err, out, api.requests())
			}
			if !strings.Contains(out, "pod/x created (dry run)") {
				t.Errorf("kubectl apply output = %q, want pod/x created (dry run)", out)
			}
			reqs := api.requests()
			if !slices.ContainsFunc(reqs, func(r string) bool { return strings.HasPrefix(r, "GET /openapi/") }) {
				t.Errorf("kubectl never read OpenAPI: %v", reqs)
			}
			t.Logf("requests: %v", reqs)
		})
	}
}
