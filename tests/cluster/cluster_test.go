package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the multi-node suite starts real agents in network namespaces (tier 2)")
	}
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the multi-node suite needs root, and CI runs as root")
	}
	t.Skip("needs root: network namespaces, bridges, cgroups")
}

// k runs kubectl against the cluster through node's namespace and
// kubeconfig.
func k(t *testing.T, node *harness.Agent, kc string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := node.Run(ctx, kc, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCluster_forms(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 3, Coordinators: 1})
	out := k(t, c.Nodes[0], kc, "get", "nodes", "-o", "custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR,IP:.status.addresses[0].address", "--no-headers")
	cidrs := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != c.Nodes[i].NodeName || f[2] != c.IPs[i] || !strings.HasPrefix(f[1], "10.244.") || cidrs[f[1]] {
			t.Fatalf("nodes:\n%s", out)
		}
		cidrs[f[1]] = true
	}
	if len(cidrs) != 3 {
		t.Fatalf("nodes:\n%s", out)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

func TestCluster_deadWorkerIsNoticed(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 3, Coordinators: 1})
	c.Nodes[2].Kill()
	took := waitFor(t, "node-3 NotReady", 30*time.Second, func() bool {
		out := k(t, c.Nodes[0], kc, "get", "node", "node-3", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
		return out == "Unknown"
	})
	t.Logf("failure detection: node-3 killed with SIGKILL, Ready=Unknown after %s", took.Round(10*time.Millisecond))
	taints := k(t, c.Nodes[0], kc, "get", "node", "node-3", "-o", "jsonpath={.spec.taints[*].key}")
	if !strings.Contains(taints, "node.kubernetes.io/unreachable") {
		t.Errorf("node-3 taints: %q", taints)
	}
}

// TestCluster_anyNodeServesTheAPI points kubectl at a worker, whose API
// address passes connections through to the coordinator, and uses a
// worker's socket, which has the node's rights.
func TestCluster_anyNodeServesTheAPI(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 2, Coordinators: 1})
	admin, err := os.ReadFile(c.Nodes[0].Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	viaWorker := filepath.Join(t.TempDir(), "worker.kubeconfig")
	cfg := strings.ReplaceAll(string(admin), c.Nodes[0].Server, "https://"+c.IPs[1]+":6443")
	if err := os.WriteFile(viaWorker, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := k(t, c.Nodes[1], kc, "--kubeconfig", viaWorker, "get", "nodes", "-o", "name")
	if out != "node/node-1\nnode/node-2\n" {
		t.Fatalf("get nodes through the worker:\n%s", out)
	}
	k(t, c.Nodes[1], kc, "--kubeconfig", viaWorker, "create", "configmap", "via-worker", "--from-literal=a=b")

	_, agentctl := harness.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := exec.CommandContext(ctx, agentctl, "--socket", c.Nodes[1].Socket, "get", "configmap", "via-worker", "-o", "name").CombinedOutput()
	if err != nil || string(got) != "configmap/via-worker\n" {
		t.Fatalf("read through the worker's socket: %v\n%s", err, got)
	}
	got, err = exec.CommandContext(ctx, agentctl, "--socket", c.Nodes[1].Socket, "delete", "configmap", "via-worker").CombinedOutput()
	if err == nil || !strings.Contains(string(got), `User "system:node:node-2" cannot delete resource "configmaps"`) {
		t.Fatalf("a worker's socket deleted a configmap: %v\n%s", err, got)
	}
}

// TestCluster_coordinatorFailover kills the coordinator: the standby,
// which followed its store, takes over with what it holds.
func TestCluster_coordinatorFailover(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 3, Coordinators: 2})
	k(t, c.Nodes[0], kc, "create", "configmap", "before-failover", "--from-literal=k=v")
	// Let the standby's copy catch up (it follows within milliseconds).
	time.Sleep(2 * time.Second)

	c.Nodes[0].Kill()
	start := time.Now()
	standby := c.Nodes[1]
	waitFor(t, "node-2 to serve as coordinator", 60*time.Second, func() bool {
		_, err := os.Stat(standby.Kubeconfig)
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out string
	for ctx.Err() == nil {
		o, err := standby.Run(ctx, kc, "--kubeconfig", standby.Kubeconfig, "get", "configmap", "before-failover", "-o", "jsonpath={.data.k}")
		if err == nil {
			out = o
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out != "v" {
		t.Fatalf("the new coordinator lost the configmap: %q", out)
	}
	t.Logf("coordinator takeover: node-1 killed with SIGKILL, node-2 serving its copy after %s", time.Since(start).Round(10*time.Millisecond))
	events := k(t, standby, kc, "--kubeconfig", standby.Kubeconfig, "get", "events", "--field-selector", "reason=CoordinatorTakeover", "-o", "jsonpath={.items[*].message}")
	if !strings.Contains(events, "node-2 took over as coordinator with epoch 2") {
		t.Errorf("takeover event: %q", events)
	}
	// The cluster keeps working: writes, and the worker reports to the
	// new coordinator.
	k(t, standby, kc, "--kubeconfig", standby.Kubeconfig, "create", "configmap", "after-failover")
	waitFor(t, "node-1 NotReady and node-3 Ready", 60*time.Second, func() bool {
		o := k(t, standby, kc, "--kubeconfig", standby.Kubeconfig, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
		return strings.Contains(o, "node-1=Unknown") && strings.Contains(o, "node-3=True")
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
