package agentctl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/keel-edge/keel/coordinator/keelapi"
)

const configMapX = `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  labels:
    app: e2e
data:
  greeting: hello
`

// TestAgentctl_overSocket drives one agent through its unix socket, step
// by step, as an operator on the node would.
func TestAgentctl_overSocket(t *testing.T) {
	agent, ctl := startAgent(t)
	sock := []string{"--socket", agent.Socket}
	ctlRun := func(t *testing.T, args ...string) string {
		t.Helper()
		return mustRun(t, "", ctl, append(slices.Clone(sock), args...)...)
	}

	t.Run("get ns", func(t *testing.T) {
		out := ctlRun(t, "get", "ns")
		if !strings.HasPrefix(out, "NAME") {
			t.Errorf("no table header:\n%s", out)
		}
		names := firstColumn(out)
		for _, want := range []string{"default", "kube-system"} {
			if !slices.Contains(names, want) {
				t.Errorf("namespace %s missing:\n%s", want, out)
			}
		}
	})

	t.Run("get ns -o json", func(t *testing.T) {
		out := ctlRun(t, "get", "ns", "-o", "json")
		var list corev1.NamespaceList
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("not a namespace list: %v\n%s", err, out)
		}
		var names []string
		for _, ns := range list.Items {
			names = append(names, ns.Name)
		}
		if !slices.Contains(names, "default") || !slices.Contains(names, "kube-system") {
			t.Errorf("namespaces = %v", names)
		}
	})

	t.Run("KEEL_SOCKET selects the socket", func(t *testing.T) {
		r := run(t, "", "/usr/bin/env", "KEEL_SOCKET="+agent.Socket, ctl, "get", "ns", "default", "-o", "name")
		if r.err != nil || strings.TrimSpace(r.stdout) != "namespace/default" {
			t.Errorf("got %q, %v\n%s", r.stdout, r.err, r.stderr)
		}
	})

	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte(configMapX), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("apply twice then get -o yaml", func(t *testing.T) {
		if out := ctlRun(t, "apply", "-f", manifest); strings.TrimSpace(out) != "configmap/x created" {
			t.Errorf("first apply: %q", out)
		}
		if out := ctlRun(t, "apply", "-f", manifest); strings.TrimSpace(out) != "configmap/x unchanged" {
			t.Errorf("second apply: %q", out)
		}
		out := ctlRun(t, "get", "cm", "x", "-o", "yaml")
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal([]byte(out), &cm); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, out)
		}
		if cm.Name != "x" || cm.Namespace != "default" || cm.Data["greeting"] != "hello" || cm.Labels["app"] != "e2e" {
			t.Errorf("configmap = %+v", cm)
		}
		if _, ok := cm.Annotations[corev1.LastAppliedConfigAnnotation]; !ok {
			t.Errorf("no last-applied annotation: %v", cm.Annotations)
		}
	})

	t.Run("apply from stdin", func(t *testing.T) {
		out := mustRun(t, strings.Replace(configMapX, "name: x", "name: from-stdin", 1), ctl,
			append(slices.Clone(sock), "apply", "-f", "-")...)
		if strings.TrimSpace(out) != "configmap/from-stdin created" {
			t.Errorf("apply -f -: %q", out)
		}
	})

	t.Run("get with a label selector", func(t *testing.T) {
		out := ctlRun(t, "get", "cm", "-l", "app=e2e", "-o", "name")
		if out != "configmap/from-stdin\nconfigmap/x\n" {
			t.Errorf("got %q", out)
		}
	})

	t.Run("describe svc kubernetes", func(t *testing.T) {
		out := ctlRun(t, "describe", "svc", "kubernetes")
		for _, want := range []string{"Name:", "kubernetes", "Namespace:", "default", "Type:", "ClusterIP", "443/TCP"} {
			if !strings.Contains(out, want) {
				t.Errorf("describe lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("delete cm x", func(t *testing.T) {
		out := ctlRun(t, "delete", "cm", "x")
		if strings.TrimSpace(out) != `configmap "x" deleted` {
			t.Errorf("delete: %q", out)
		}
		r := run(t, "", ctl, append(slices.Clone(sock), "get", "cm", "x")...)
		if r.err == nil || !strings.Contains(r.stderr, `configmaps "x" not found`) {
			t.Errorf("get after delete: %v\n%s%s", r.err, r.stdout, r.stderr)
		}
	})

	t.Run("status", func(t *testing.T) {
		out := ctlRun(t, "status")
		for _, want := range []string{"Coordinator:     node-1", "API address:     https://", "Store revision:", "Server version:",
			"Kubernetes API:", "NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		_, table, _ := strings.Cut(out, "\n\n")
		if names := firstColumn(table); !slices.Equal(names, []string{"node-1"}) {
			t.Errorf("nodes = %v:\n%s", names, out)
		}
	})

	t.Run("kubeconfig then client-go", func(t *testing.T) {
		raw := ctlRun(t, "kubeconfig")
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(raw))
		if err != nil {
			t.Fatalf("kubeconfig does not load: %v\n%s", err, raw)
		}
		if !strings.HasPrefix(cfg.Host, "https://") {
			t.Errorf("server = %q, want https", cfg.Host)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{}); err != nil {
			t.Fatalf("client-go with the printed kubeconfig (server %s; the agent serves %s): %v", cfg.Host, agent.Server, err)
		}
	})

	t.Run("token create, ls, rm", func(t *testing.T) {
		tok, err := keelapi.ParseJoinToken(ctlRun(t, "token", "create", "--ttl", "1h", "--coordinator", "--description", "rack 2"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(agent.DataDir, "pki", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(raw)
		if sum := sha256.Sum256(block.Bytes); hex.EncodeToString(sum[:]) != tok.CAHash {
			t.Errorf("token pins %s, not the cluster CA", tok.CAHash)
		}
		ls := ctlRun(t, "token", "ls")
		if !strings.Contains(ls, tok.ID+"   59m") || !strings.Contains(ls, "join,coordinator   rack 2") || strings.Contains(ls, tok.Secret) {
			t.Errorf("token ls:\n%s", ls)
		}
		if out := ctlRun(t, "token", "rm", tok.ID); !strings.Contains(out, "token "+tok.ID+" revoked") {
			t.Errorf("token rm: %s", out)
		}
		if ls := ctlRun(t, "token", "ls"); strings.Contains(ls, tok.ID) {
			t.Errorf("revoked token still listed:\n%s", ls)
		}
		if r := run(t, "", ctl, append(slices.Clone(sock), "token", "rm", tok.ID)...); r.err == nil || !strings.Contains(r.stderr, "not found") {
			t.Errorf("second rm: %v %s", r.err, r.stderr)
		}
		if r := run(t, "", ctl, append(slices.Clone(sock), "token", "create", "--ttl", "-1h")...); r.err == nil || !strings.Contains(r.stderr, "must not be negative") {
			t.Errorf("negative ttl: %v %s", r.err, r.stderr)
		}
	})

	t.Run("a dead socket is named", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "agent.sock")
		r := run(t, "", ctl, "--socket", missing, "get", "ns")
		want := "agentctl: cannot reach the API at " + missing + ": no such socket; is the agent running? pass --kubeconfig or --ssh"
		if r.err == nil || strings.TrimSpace(r.stderr) != want {
			t.Errorf("stderr = %q, want %q", r.stderr, want)
		}
	})
}
