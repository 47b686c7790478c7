package agent

import (
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeStatus_reportsHostAndKeepsTransitions(t *testing.T) {
	n := NodeFacts{Name: "n1", Version: "v1", MaxPods: 110, Coordinator: true}
	h := HostFacts{Hostname: "host", Addresses: []net.IP{net.ParseIP("192.0.2.7")}, CPUs: 4, MemoryBytes: 8 << 30,
		KernelVersion: "6.1.0", OSImage: "Debian", Arch: "amd64"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := nodeStatus(n, h, nil, t0)
	if st.Capacity.Cpu().Value() != 4 || st.Capacity.Memory().Value() != 8<<30 || st.Capacity.Pods().Value() != 110 {
		t.Fatalf("capacity %v", st.Capacity)
	}
	if st.Addresses[0].Type != corev1.NodeInternalIP || st.Addresses[0].Address != "192.0.2.7" {
		t.Fatalf("addresses %v", st.Addresses)
	}
	t1 := t0.Add(time.Minute)
	st2 := nodeStatus(n, h, st.Conditions, t1)
	for _, c := range st2.Conditions {
		if !c.LastTransitionTime.Equal(&metav1.Time{Time: t0}) || !c.LastHeartbeatTime.Equal(&metav1.Time{Time: t1}) {
			t.Fatalf("%s: transition %v heartbeat %v", c.Type, c.LastTransitionTime, c.LastHeartbeatTime)
		}
	}
	labels := nodeLabels(n, h)
	if _, ok := labels["node-role.kubernetes.io/control-plane"]; !ok || labels[corev1.LabelHostname] != "n1" {
		t.Fatalf("labels %v", labels)
	}
}

func TestParseMemTotal(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"MemTotal:       16384 kB\nMemFree: 1 kB\n", 16384 * 1024, false},
		{"MemFree: 1 kB\n", 0, true},
		{"MemTotal: x kB\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseMemTotal([]byte(tt.in))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%q: %d %v", tt.in, got, err)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	for in, want := range map[string]string{
		"NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n": "Debian GNU/Linux 12 (bookworm)",
		"PRETTY_NAME=Alpine": "Alpine",
		"":                   "Linux",
	} {
		if got := parseOSRelease([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestNodeLease_renewsKeepingIdentity(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "u1"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := nodeLease(node, nil, 10*time.Second, t0)
	if *l.Spec.HolderIdentity != "n1" || *l.Spec.LeaseDurationSeconds != 40 || !l.Spec.RenewTime.Time.Equal(t0) {
		t.Fatalf("new lease %+v", l.Spec)
	}
	if l.Namespace != corev1.NamespaceNodeLease || l.OwnerReferences[0].UID != "u1" {
		t.Fatalf("lease meta %+v", l.ObjectMeta)
	}
	l.ResourceVersion = "7"
	t1 := t0.Add(10 * time.Second)
	l2 := nodeLease(node, l, 10*time.Second, t1)
	if l2.ResourceVersion != "7" || !l2.Spec.RenewTime.Time.Equal(t1) || l.Spec.RenewTime.Time.Equal(t1) {
		t.Fatalf("renewal %+v (from %+v)", l2, l)
	}
}

func TestNodeSpec(t *testing.T) {
	if s := nodeSpec(NodeFacts{PodCIDR: "10.244.3.0/24"}); s.PodCIDR != "10.244.3.0/24" || len(s.PodCIDRs) != 1 || len(s.Taints) != 0 {
		t.Errorf("a node with pods: %+v", s)
	}
	if s := nodeSpec(NodeFacts{NoPods: true}); s.PodCIDR != "" || len(s.Taints) != 1 || s.Taints[0] != NoPodsTaint {
		t.Errorf("a node without pods: %+v", s)
	}
}
