package controllers

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// dnsNode is a node with pod CIDR cidr ("" for none) and the given
// readiness; mods change it further.
func dnsNode(name, cidr string, ready bool, mods ...func(*corev1.Node)) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: k8stypes.UID("uid-" + name)},
		Spec:   corev1.NodeSpec{PodCIDR: cidr},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}}}
	if cidr != "" {
		n.Spec.PodCIDRs = []string{cidr}
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

// describeEndpoints writes endpoints as "ADDR@NODE=READY" words.
func describeEndpoints(eps []discoveryv1.Endpoint) string {
	var out []string
	for _, e := range eps {
		out = append(out, fmt.Sprintf("%s@%s=%v", strings.Join(e.Addresses, ","), ptr.Deref(e.NodeName, ""), ptr.Deref(e.Conditions.Ready, false)))
	}
	return strings.Join(out, " ")
}

func TestKubeDNSEndpoints_onePerNodeAtItsBridge(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name  string
		nodes []*corev1.Node
		want  string
	}{
		{"no nodes", nil, ""},
		{"ready nodes, sorted by address", []*corev1.Node{
			dnsNode("b", "10.244.1.0/24", true),
			dnsNode("a", "10.244.0.0/24", true),
		}, "10.244.0.1@a=true 10.244.1.1@b=true"},
		{"a not-ready node is listed not ready", []*corev1.Node{
			dnsNode("a", "10.244.0.0/24", true),
			dnsNode("b", "10.244.1.0/24", false),
		}, "10.244.0.1@a=true 10.244.1.1@b=false"},
		{"a node without Ready condition is not ready", []*corev1.Node{
			dnsNode("a", "10.244.0.0/24", true, func(n *corev1.Node) { n.Status.Conditions = nil }),
		}, "10.244.0.1@a=false"},
		{"a CIDR given with host bits counts from its network", []*corev1.Node{
			dnsNode("a", "10.244.7.9/24", true),
		}, "10.244.7.1@a=true"},
		{"nodes without a pod CIDR are left out", []*corev1.Node{
			dnsNode("a", "", true),
			dnsNode("b", "10.244.1.0/24", true),
		}, "10.244.1.1@b=true"},
		{"IPv6 and unparsable CIDRs are left out; an IPv4 one among several is used", []*corev1.Node{
			dnsNode("a", "fd00::/64", true),
			dnsNode("b", "nonsense", true),
			dnsNode("c", "fd00:1::/64", true, func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"fd00:1::/64", "10.244.2.0/24"} }),
		}, "10.244.2.1@c=true"},
		{"a CIDR too small for a bridge and a pod is left out", []*corev1.Node{
			dnsNode("a", "10.244.0.0/31", true),
		}, ""},
		{"nodes that run no pods and nodes being deleted are left out", []*corev1.Node{
			dnsNode("a", "10.244.0.0/24", true, func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{{Key: noPodsTaintKey, Effect: corev1.TaintEffectNoSchedule}}
			}),
			dnsNode("b", "10.244.1.0/24", true, func(n *corev1.Node) { n.DeletionTimestamp = &now }),
			dnsNode("c", "10.244.2.0/24", true, func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{{Key: "other", Effect: corev1.TaintEffectNoSchedule}}
			}),
		}, "10.244.2.1@c=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeEndpoints(kubeDNSEndpoints(tt.nodes)); got != tt.want {
				t.Errorf("endpoints:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func kubeDNSService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: KubeDNSName, Namespace: KubeDNSNamespace, UID: "svc-uid"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: KubeDNSPorts()},
	}
}

func TestDesiredKubeDNSSlices_metadataPortsAndEndpoint(t *testing.T) {
	n := dnsNode("a", "10.244.0.0/24", true, func(n *corev1.Node) {
		n.Labels = map[string]string{corev1.LabelTopologyZone: "rack-1"}
	})
	got := desiredKubeDNSSlices(kubeDNSService(), []*corev1.Node{n})
	if len(got) != 1 {
		t.Fatalf("%d slices, want 1", len(got))
	}
	s := got[0]
	if s.Name != "kube-dns-keel-0" || s.Namespace != "kube-system" || s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("slice %s/%s of %s", s.Namespace, s.Name, s.AddressType)
	}
	if s.Labels[discoveryv1.LabelServiceName] != "kube-dns" || s.Labels[discoveryv1.LabelManagedBy] != kubeDNSManagedBy {
		t.Errorf("labels %v", s.Labels)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "svc-uid" || s.OwnerReferences[0].Kind != "Service" {
		t.Errorf("owners %v", s.OwnerReferences)
	}
	var ports []string
	for _, p := range s.Ports {
		ports = append(ports, fmt.Sprintf("%s=%d/%s", *p.Name, *p.Port, *p.Protocol))
	}
	if got := strings.Join(ports, " "); got != "dns=53/UDP dns-tcp=53/TCP" {
		t.Errorf("ports %s", got)
	}
	e := s.Endpoints[0]
	if e.TargetRef == nil || e.TargetRef.Kind != "Node" || e.TargetRef.Name != "a" || ptr.Deref(e.Zone, "") != "rack-1" ||
		!*e.Conditions.Serving || *e.Conditions.Terminating {
		t.Errorf("endpoint %+v", e)
	}
}

func TestDesiredKubeDNSSlices_cutAtAHundred(t *testing.T) {
	tests := []struct {
		nodes int
		sizes string
	}{
		{0, "0"},
		{1, "1"},
		{100, "100"},
		{101, "100 1"},
		{250, "100 100 50"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.nodes), func(t *testing.T) {
			var nodes []*corev1.Node
			for i := range tt.nodes {
				nodes = append(nodes, dnsNode(fmt.Sprintf("n%d", i), fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256), true))
			}
			var sizes, names []string
			for i, s := range desiredKubeDNSSlices(kubeDNSService(), nodes) {
				sizes = append(sizes, fmt.Sprint(len(s.Endpoints)))
				names = append(names, s.Name)
				if s.Name != kubeDNSSliceName(i) {
					t.Errorf("slice %d named %s", i, s.Name)
				}
			}
			if got := strings.Join(sizes, " "); got != tt.sizes {
				t.Errorf("slice sizes %q, want %q (%v)", got, tt.sizes, names)
			}
		})
	}
}

func TestPlanKubeDNSSlices_writesOnlyWhatDiffers(t *testing.T) {
	svc := kubeDNSService()
	two := []*corev1.Node{dnsNode("a", "10.244.0.0/24", true), dnsNode("b", "10.244.1.0/24", true)}
	current := desiredKubeDNSSlices(svc, two)
	current[0].UID, current[0].ResourceVersion = "slice-uid", "7"
	stale := current[0].DeepCopy()
	stale.Name = kubeDNSSliceName(1)
	describe := func(p SlicePlan) string {
		var out []string
		for _, s := range p.Create {
			out = append(out, "create "+s.Name+" "+describeEndpoints(s.Endpoints))
		}
		for _, s := range p.Update {
			out = append(out, fmt.Sprintf("update %s@%s %s", s.Name, s.ResourceVersion, describeEndpoints(s.Endpoints)))
		}
		for _, s := range p.Delete {
			out = append(out, "delete "+s.Name)
		}
		return strings.Join(out, "; ")
	}
	tests := []struct {
		name     string
		nodes    []*corev1.Node
		existing []*discoveryv1.EndpointSlice
		want     string
	}{
		{"nothing yet", two, nil, "create kube-dns-keel-0 10.244.0.1@a=true 10.244.1.1@b=true"},
		{"up to date", two, current, ""},
		{"a node turns not ready", []*corev1.Node{two[0], dnsNode("b", "10.244.1.0/24", false)}, current,
			"update kube-dns-keel-0@7 10.244.0.1@a=true 10.244.1.1@b=false"},
		{"a node is gone, and a surplus slice", two[:1], append(current[:1:1], stale),
			"update kube-dns-keel-0@7 10.244.0.1@a=true; delete kube-dns-keel-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(planKubeDNSSlices(desiredKubeDNSSlices(svc, tt.nodes), tt.existing)); got != tt.want {
				t.Errorf("plan:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	// A slice someone else relabelled is put back.
	relabelled := current[0].DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}
	p := planKubeDNSSlices(desiredKubeDNSSlices(svc, two), []*discoveryv1.EndpointSlice{relabelled})
	if len(p.Update) != 1 || p.Update[0].Labels[discoveryv1.LabelManagedBy] != kubeDNSManagedBy {
		t.Errorf("relabelled slice: %s", describe(p))
	}
}
