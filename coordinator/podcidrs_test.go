package coordinator

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCoordinator_podCIDRs(t *testing.T) {
	r := startCoordinator(t, t.TempDir(), func(c *Config) { c.ClusterCIDR, c.NodeCIDRBits = "10.250.0.0/22", 24 })
	ctx := context.Background()
	nodes := r.cs.CoreV1().Nodes()
	create := func(name, cidr string) (*corev1.Node, error) {
		return nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}, metav1.CreateOptions{})
	}
	mustCIDR := func(name, cidr, want string) {
		t.Helper()
		n, err := create(name, cidr)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if n.Spec.PodCIDR != want || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != want {
			t.Fatalf("%s got %s %v, want %s", name, n.Spec.PodCIDR, n.Spec.PodCIDRs, want)
		}
	}
	mustCIDR("a", "", "10.250.0.0/24")
	mustCIDR("b", "10.250.2.0/24", "10.250.2.0/24")
	mustCIDR("c", "", "10.250.1.0/24")
	for _, tc := range []struct{ name, cidr, want string }{
		{"d", "10.250.2.0/24", "already the pod CIDR of node b"},
		{"d", "10.9.0.0/24", "not inside the cluster CIDR"},
		{"d", "10.250.3.7/24", "no host bits"},
	} {
		if _, err := create(tc.name, tc.cidr); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("create %s with %s: %v; want %q", tc.name, tc.cidr, err, tc.want)
		}
	}
	mustCIDR("d", "", "10.250.3.0/24")
	if _, err := create("e", ""); err == nil || !strings.Contains(err.Error(), "no free /24") {
		t.Fatalf("a full cluster CIDR: %v", err)
	}

	// The range never changes, and an update without it keeps it.
	b, _ := nodes.Get(ctx, "b", metav1.GetOptions{})
	b.Spec.PodCIDR, b.Spec.PodCIDRs = "10.250.0.0/24", nil
	if _, err := nodes.Update(ctx, b, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing b's range: %v", err)
	}
	b.Spec.PodCIDR = ""
	b.Labels = map[string]string{"x": "y"}
	if b, err := nodes.Update(ctx, b, metav1.UpdateOptions{}); err != nil || b.Spec.PodCIDR != "10.250.2.0/24" {
		t.Fatalf("update without a range: %v %v", b, err)
	}

	// Deleting a node releases its range.
	if err := nodes.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mustCIDR("e", "", "10.250.0.0/24")
}
