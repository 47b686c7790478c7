package coordinator

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// running is a coordinator serving in this process.
type running struct {
	c    *Coordinator
	cs   *kubernetes.Clientset
	stop func()
}

func startCoordinator(t *testing.T, dataDir string, mutate ...func(*Config)) *running {
	t.Helper()
	cfg := DefaultConfig(dataDir)
	cfg.APIAddr = "127.0.0.1:0"
	sockDir, err := os.MkdirTemp("", "keel-coord-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg.Socket = filepath.Join(sockDir, "api.sock")
	cfg.NodeName = "node-a"
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-c.Ready():
	case err := <-done:
		t.Fatalf("coordinator stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("coordinator not ready")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("coordinator run: %v", err)
		}
	}
	t.Cleanup(stop)
	cs, err := kubernetes.NewForConfig(LocalConfig(cfg.Socket))
	if err != nil {
		t.Fatal(err)
	}
	return &running{c: c, cs: cs, stop: stop}
}

func TestCoordinator_bootstrapObjects(t *testing.T) {
	// The advertise address is only written into objects, never dialled.
	r := startCoordinator(t, t.TempDir(), func(c *Config) { c.AdvertiseIP = "192.0.2.10" })
	ctx := context.Background()
	for _, ns := range systemNamespaces {
		if _, err := r.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
	svc, err := r.cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.96.0.1" || svc.Spec.Ports[0].Port != 443 {
		t.Fatalf("kubernetes service: %s %v", svc.Spec.ClusterIP, svc.Spec.Ports)
	}
	port := svc.Spec.Ports[0].TargetPort.IntVal
	ep, err := r.cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := ep.Subsets[0].Addresses[0].IP; a != "192.0.2.10" || ep.Subsets[0].Ports[0].Port != port {
		t.Fatalf("endpoints %s:%d, want 192.0.2.10:%d", a, ep.Subsets[0].Ports[0].Port, port)
	}
	slices, err := r.cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=kubernetes"})
	if err != nil || len(slices.Items) != 1 || slices.Items[0].Endpoints[0].Addresses[0] != "192.0.2.10" {
		t.Fatalf("endpoint slices: %v %+v", err, slices)
	}
	var st struct{ APIAddress string }
	raw, err := r.cs.CoreV1().RESTClient().Get().AbsPath("/keel/v1/status").DoRaw(ctx)
	if err != nil || json.Unmarshal(raw, &st) != nil || !strings.HasPrefix(st.APIAddress, "https://192.0.2.10:") {
		t.Fatalf("status %s: %v", raw, err)
	}
}

func TestCoordinator_loopbackAdvertisesLoopback(t *testing.T) {
	r := startCoordinator(t, t.TempDir())
	ctx := context.Background()
	var st struct{ APIAddress string }
	raw, err := r.cs.CoreV1().RESTClient().Get().AbsPath("/keel/v1/status").DoRaw(ctx)
	if err != nil || json.Unmarshal(raw, &st) != nil || st.APIAddress != r.c.APIURL() {
		t.Fatalf("status %s (%v), want the API URL %s", raw, err, r.c.APIURL())
	}
	ep, err := r.cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err == nil && len(ep.Subsets) > 0 {
		t.Fatalf("loopback-only API got endpoints %+v", ep.Subsets)
	}
}

func TestCoordinator_kubeconfigOverTLS(t *testing.T) {
	r := startCoordinator(t, t.TempDir())
	cfg, err := clientcmd.BuildConfigFromFlags("", r.c.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("admin kubeconfig: %v", err)
	}
	st, err := os.Stat(r.c.KubeconfigPath())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.kubeconfig mode: %v %v", st.Mode(), err)
	}
	// Without credentials: 401, even though the TLS handshake succeeds.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(r.c.APIURL() + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous request: %d, want 401", resp.StatusCode)
	}
}

func svcSpec(name string, typ corev1.ServiceType, clusterIP string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

func TestCoordinator_serviceAllocation(t *testing.T) {
	r := startCoordinator(t, t.TempDir())
	ctx := context.Background()
	svcs := r.cs.CoreV1().Services("default")
	cidr := netip.MustParsePrefix("10.96.0.0/12")
	seen := map[string]bool{"10.96.0.1": true}
	for _, name := range []string{"a", "b", "c", "d"} {
		s, err := svcs.Create(ctx, svcSpec(name, "", ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ip := netip.MustParseAddr(s.Spec.ClusterIP)
		if !cidr.Contains(ip) || seen[ip.String()] || len(s.Spec.ClusterIPs) != 1 {
			t.Fatalf("service %s got %s (seen %v)", name, ip, seen)
		}
		seen[ip.String()] = true
	}
	a, _ := svcs.Get(ctx, "a", metav1.GetOptions{})
	if _, err := svcs.Create(ctx, svcSpec("dup", "", a.Spec.ClusterIP), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("taken IP: want 422, got %v", err)
	}
	if _, err := svcs.Create(ctx, svcSpec("out", "", "192.168.0.1"), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("IP outside the range: want 422, got %v", err)
	}
	// A replace without clusterIP keeps the allocation.
	a.Spec.ClusterIP, a.Spec.ClusterIPs = "", nil
	a.Spec.Selector = map[string]string{"app": "other"}
	if a2, err := svcs.Update(ctx, a, metav1.UpdateOptions{}); err != nil || a2.Spec.ClusterIP == "" {
		t.Fatalf("replace without clusterIP: %v", err)
	}
	// Deleting releases the IP for an explicit request.
	got, err := svcs.Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ipA := got.Spec.ClusterIP
	if err := svcs.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Create(ctx, svcSpec("again", "", ipA), metav1.CreateOptions{}); err != nil {
		t.Fatalf("reuse of a released IP: %v", err)
	}

	np, err := svcs.Create(ctx, svcSpec("np", corev1.ServiceTypeNodePort, ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port := np.Spec.Ports[0].NodePort
	if port < 30000 || port > 32767 {
		t.Fatalf("node port %d outside 30000-32767", port)
	}
	clash := svcSpec("np2", corev1.ServiceTypeNodePort, "")
	clash.Spec.Ports[0].NodePort = port
	if _, err := svcs.Create(ctx, clash, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("taken node port: want 422, got %v", err)
	}
	headless, err := svcs.Create(ctx, svcSpec("headless", "", "None"), metav1.CreateOptions{})
	if err != nil || headless.Spec.ClusterIP != "None" {
		t.Fatalf("headless: %v %q", err, headless.Spec.ClusterIP)
	}
	ext := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}}
	if e, err := svcs.Create(ctx, ext, metav1.CreateOptions{}); err != nil || e.Spec.ClusterIP != "" {
		t.Fatalf("external name: %v %q", err, e.Spec.ClusterIP)
	}
}

func TestCoordinator_restartKeepsStateAndSecretsAreSealed(t *testing.T) {
	dir := t.TempDir()
	r := startCoordinator(t, dir)
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "hunter2-very-secret"}}
	if _, err := r.cs.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token1, _ := os.ReadFile(filepath.Join(dir, "pki", "admin.token"))
	r.stop()

	raw, err := os.ReadFile(filepath.Join(dir, "store", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hunter2-very-secret")) || bytes.Contains(raw, []byte("aHVudGVyMi12ZXJ5LXNlY3JldA")) {
		t.Fatal("secret plaintext found in the store file")
	}

	r = startCoordinator(t, dir)
	got, err := r.cs.CoreV1().Secrets("default").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data["password"]) != "hunter2-very-secret" {
		t.Fatalf("secret after restart: %q", got.Data["password"])
	}
	token2, _ := os.ReadFile(filepath.Join(dir, "pki", "admin.token"))
	if !bytes.Equal(token1, token2) {
		t.Fatal("admin token changed across a restart")
	}
}
