package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCluster_accounting(t *testing.T) {
	c := cluster([]*corev1.Node{node("n1", "2", "2Gi")})
	n := c.nodes["n1"]
	check := func(step string, cpu int64, pods int) {
		t.Helper()
		if n.requested.MilliCPU != cpu || len(n.pods) != pods {
			t.Fatalf("%s: %dm cpu, %d pods; want %dm, %d", step, n.requested.MilliCPU, len(n.pods), cpu, pods)
		}
	}
	a := pod("a", requests("cpu", "500m"))
	c.Assume(a, "n1")
	check("assumed", 500, 1)
	if !c.Assumed("default/a") {
		t.Fatal("assumed pod not known")
	}
	c.Forget("default/a")
	check("forgotten", 0, 0)

	c.Assume(a, "n1")
	bound := a.DeepCopy()
	bound.Spec.NodeName = "n1"
	c.SetPod(bound)
	c.Forget("default/a") // confirmed: stays
	check("confirmed", 500, 1)

	bigger := bound.DeepCopy()
	bigger.Spec.Containers[0].Resources.Requests = list("cpu", "1")
	c.SetPod(bigger)
	check("updated", 1000, 1)

	done := bigger.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	c.SetPod(done)
	check("succeeded", 0, 0)

	// Pods bound to a node not known yet are counted once it shows up.
	c.SetPod(pod("b", on("n2"), requests("cpu", "1")))
	if c.NumNodes() != 1 {
		t.Fatalf("%d nodes, want 1", c.NumNodes())
	}
	c.SetNode(node("n2", "1", "1Gi"))
	if d := c.Schedule(pod("p", requests("cpu", "1"), func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "n2"} })); d.Node != "" {
		t.Fatalf("scheduled onto a full node: %+v", d)
	}
	c.RemoveNode("n2")
	c.RemoveNode("n1")
	if c.NumNodes() != 0 || c.nodes["n2"] == nil || c.nodes["n1"] != nil {
		t.Fatalf("after removing nodes: %d listed, known %v", c.NumNodes(), c.nodes)
	}
	c.RemovePod("default/b")
	if len(c.nodes) != 0 || len(c.pods) != 0 {
		t.Fatalf("left over: %v %v", c.nodes, c.pods)
	}
}

func TestFitError_format(t *testing.T) {
	got := fitError(3, map[string]int{"Insufficient memory": 2, "node(s) had untolerated taint {key: value}": 1})
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient memory."
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
