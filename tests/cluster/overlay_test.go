package cluster

import (
	"strings"
	"testing"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

const spread = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels: {app: web}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: demo
        image: localhost/demo:v1
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
`

// TestCluster_vxlan runs the pod network over the VXLAN overlay
// (--pod-routing vxlan) and has each pod reach the one on the other node.
func TestCluster_vxlan(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 2, Coordinators: 1, RunPods: true,
		Args: []string{"--pod-routing", "vxlan"}})
	manifest := t.TempDir() + "/web.yaml"
	writeFile(t, manifest, spread)
	k(t, c.Nodes[0], kc, "apply", "-f", manifest)
	k(t, c.Nodes[0], kc, "rollout", "status", "deployment/web", "--timeout=120s")
	out := k(t, c.Nodes[0], kc, "get", "pods", "-l", "app=web", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP}{"\n"}{end}`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("pods:\n%s", out)
	}
	a, b := strings.Fields(lines[0]), strings.Fields(lines[1])
	if a[1] == b[1] {
		t.Fatalf("both pods on %s", a[1])
	}
	for _, pair := range [][2][]string{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		got := k(t, c.Nodes[0], kc, "exec", from[0], "--", "timeout", "5", "wget", "-qO-", "http://"+to[2]+":8080/")
		if !strings.Contains(got, to[0]) {
			t.Fatalf("%s on %s asked %s on %s and got %q", from[0], from[1], to[0], to[1], got)
		}
	}
	// The overlay carried it: each node has the vxlan device.
	for _, n := range c.Nodes {
		if out, err := n.Run(t.Context(), "ip", "-o", "link", "show", "keel.vxlan"); err != nil || !strings.Contains(out, "keel.vxlan") {
			t.Fatalf("%s has no keel.vxlan: %v %s", n.NodeName, err, out)
		}
	}
}
