package main

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPrintStatus_report(t *testing.T) {
	now := time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)
	ready := []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	nodes := []corev1.Node{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "node2", CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Minute)),
				Labels: map[string]string{"kubernetes.io/role": "edge"}},
			Spec:   corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "node1", CreationTimestamp: metav1.NewTime(now.Add(-48 * time.Hour)),
				Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "true"}},
			Status: corev1.NodeStatus{
				Conditions: ready,
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v0.1.0"},
			},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "node3"}},
	}
	st := clusterStatus{Coordinator: "node1", APIAddress: "https://10.0.0.1:6443", Version: "v0.1.0", Revision: 42}
	var b strings.Builder
	if err := printStatus(&b, st, "v1.33.0", nodes, now); err != nil {
		t.Fatal(err)
	}
	want := `Coordinator:     node1
API address:     https://10.0.0.1:6443
Store revision:  42
Server version:  v0.1.0
Kubernetes API:  v1.33.0

NAME    STATUS                        ROLES                  AGE         VERSION   INTERNAL-IP
node1   Ready                         control-plane,worker   2d          v0.1.0    10.0.0.1
node2   NotReady,SchedulingDisabled   edge                   90m         <none>    <none>
node3   Unknown                       <none>                 <unknown>   <none>    <none>
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintStatus_noNodes(t *testing.T) {
	var b strings.Builder
	if err := printStatus(&b, clusterStatus{}, "", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Coordinator:     <none>") || !strings.HasSuffix(b.String(), "\nNo nodes.\n") {
		t.Errorf("got\n%s", b.String())
	}
}

func TestStatus_overSocket(t *testing.T) {
	_, sock := startFakeAPI(t)
	out, stderr, err := runAgentctl(t, map[string]string{"KEEL_SOCKET": sock}, "", "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, stderr)
	}
	for _, want := range []string{"Coordinator:     node1", "Store revision:  42", "Kubernetes API:  v1.33.0-keel",
		"NAME", "INTERNAL-IP", "node1", "Ready", "control-plane", "10.0.0.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
