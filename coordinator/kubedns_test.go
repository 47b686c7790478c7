package coordinator

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestCoordinator_kubeDNS: the coordinator makes kube-system/kube-dns at
// the tenth address of the service CIDR, and its controller gives it a
// registered node's pod bridge address as endpoint.
func TestCoordinator_kubeDNS(t *testing.T) {
	r := startCoordinator(t, t.TempDir(), func(c *Config) { c.ServiceCIDR = "10.100.0.0/16" })
	ctx := context.Background()
	svc, err := r.cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Name+"/"+string(p.Protocol))
	}
	if svc.Spec.ClusterIP != "10.100.0.10" || svc.Labels["k8s-app"] != "kube-dns" || len(svc.Spec.Selector) != 0 ||
		strings.Join(ports, " ") != "dns/UDP dns-tcp/TCP" || svc.Annotations["service.keel.dev/other-nodes-only"] != "true" {
		t.Fatalf("kube-dns service: %s %v %v %v %v", svc.Spec.ClusterIP, svc.Labels, svc.Spec.Selector, ports, svc.Annotations)
	}

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.3.0/24", PodCIDRs: []string{"10.244.3.0/24"}}}
	if _, err := r.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := r.cs.DiscoveryV1().EndpointSlices("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=kube-dns"})
		if err != nil || len(l.Items) != 1 || len(l.Items[0].Endpoints) != 1 {
			return false, nil
		}
		e := l.Items[0].Endpoints[0]
		got = e.Addresses[0] + "@" + *e.NodeName
		return got == "10.244.3.1@node-a", nil
	})
	if err != nil {
		t.Fatalf("kube-dns endpoints: last %q, want 10.244.3.1@node-a: %v", got, err)
	}
}
