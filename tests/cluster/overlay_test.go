package cluster

import (
	"strings"
	"testing"
	"time"

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
// (--pod-routing vxlan): each pod reaches the one on the other node, also
// with full-size packets (pods' MTU leaves room for encapsulation), and
// once a node leaves, the other removes its route, neighbour and
// forwarding entries for it. Nothing is left on the host afterwards.
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

	// Pods' packets fit the overlay: eth0 is 1450 (1500 less 50), and a
	// megabyte crosses in full-size packets both ways.
	for _, pair := range [][2][]string{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		if mtu := strings.TrimSpace(k(t, c.Nodes[0], kc, "exec", from[0], "--", "cat", "/sys/class/net/eth0/mtu")); mtu != "1450" {
			t.Fatalf("%s's eth0 MTU is %s, want 1450", from[0], mtu)
		}
		got := k(t, c.Nodes[0], kc, "exec", from[0], "--", "sh", "-c",
			"timeout 20 wget -qO- http://"+to[2]+":8080/bytes?n=1048576 | wc -c")
		if strings.TrimSpace(got) != "1048576" {
			t.Fatalf("%s fetched %s bytes of 1048576 from %s over the overlay", from[0], strings.TrimSpace(got), to[0])
		}
	}

	// node-2 leaves: node-1 forgets the way to its pods.
	cidr2 := k(t, c.Nodes[0], kc, "get", "node", "node-2", "-o", "jsonpath={.spec.podCIDR}")
	vtep2 := strings.TrimSuffix(cidr2, "/24")
	gone := func(state string) bool {
		return !strings.Contains(state, cidr2+" ") && !strings.Contains(state, vtep2+" ") && !strings.Contains(state, "dst "+c.IPs[1]+" ")
	}
	if state := nodeNet(t, c.Nodes[0]); gone(state) || !strings.Contains(state, cidr2+" via "+vtep2+" dev keel.vxlan") {
		t.Fatalf("node-1 has no overlay route, neighbour and forwarding entry for node-2 (%s via %s):\n%s", cidr2, c.IPs[1], state)
	}
	start := time.Now()
	c.Nodes[1].Stop()
	var state string
	waitFor(t, "node-1 to drop node-2's route and overlay entries", 30*time.Second, func() bool {
		state = nodeNet(t, c.Nodes[0])
		return gone(state)
	})
	t.Logf("node-2 stopped gracefully (SIGTERM); node-1 had dropped its route and overlay entries %s later:\n%s",
		time.Since(start).Round(10*time.Millisecond), state)
}
