package apiserver_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/keel-edge/keel/coordinator/apiserver"
	"github.com/keel-edge/keel/coordinator/kinds"
	"github.com/keel-edge/keel/coordinator/store"
)

const testToken = "test-token"

// testServer is an API server over a real store in a temporary directory,
// served over TLS, with the default namespace created.
type testServer struct {
	t     testing.TB
	srv   *apiserver.Server
	store *store.Store
	ts    *httptest.Server
	cs    *kubernetes.Clientset
	cfg   *rest.Config
}

func newTestServer(t testing.TB, mutate ...func(*store.Config)) *testServer {
	t.Helper()
	return newTestServerWith(t, nil, mutate...)
}

// newTestServerWith also adjusts the API server's configuration.
func newTestServerWith(t testing.TB, configure func(*apiserver.Config), mutate ...func(*store.Config)) *testServer {
	t.Helper()
	reg, err := kinds.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	scfg := store.DefaultConfig(filepath.Join(t.TempDir(), "state.db"))
	for _, m := range mutate {
		m(&scfg)
	}
	st, err := store.Open(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := apiserver.Config{
		Kinds: reg,
		Store: st,
		Authenticate: func(r *http.Request) (apiserver.User, bool) {
			return apiserver.User{Name: "admin", Groups: []string{apiserver.MastersGroup}}, r.Header.Get("Authorization") == "Bearer "+testToken
		},
		WatchBookmarkInterval: 100 * time.Millisecond,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.RunNamespaceFinalizer(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	rcfg := &rest.Config{Host: ts.URL, BearerToken: testToken, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: 1000, Burst: 1000}
	cs, err := kubernetes.NewForConfig(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, srv: srv, store: st, ts: ts, cs: cs, cfg: rcfg}
	s.mustNamespace("default")
	return s
}

func (s *testServer) mustNamespace(name string) {
	s.t.Helper()
	_, err := s.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		s.t.Fatalf("create namespace %s: %v", name, err)
	}
}

// do sends a raw request and returns the status code and body.
func (s *testServer) do(method, path, contentType, body string, header ...string) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.ts.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}
