package cluster

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/tests/harness"
	"github.com/keel-edge/keel/tests/kubectl"
)

func requireRoot(t *testing.T) {
	t.Helper()
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
	kc := kubectl.RequireBinary(t, "1.33")
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
