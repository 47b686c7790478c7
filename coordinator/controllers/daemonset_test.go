package controllers_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func createNode(t *testing.T, cs kubernetes.Interface, name string, labels map[string]string, taints ...corev1.Taint) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func agentDaemonSet() *appsv1.DaemonSet {
	labels := map[string]string{"app": "agent"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"edge": "true"},
					Containers: []corev1.Container{{Name: "agent", Image: "agent:1"}}},
			},
		},
	}
}

// daemonNodes maps the nodes the app's live pods are meant for to their
// images.
func daemonNodes(t *testing.T, cs kubernetes.Interface, app string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range podsOf(t, cs, app) {
		if p.DeletionTimestamp != nil {
			continue
		}
		a := p.Spec.Affinity
		if p.Spec.NodeName != "" || a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
			t.Fatalf("pod %s: nodeName %q affinity %+v", p.Name, p.Spec.NodeName, a)
		}
		node := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0]
		if _, dup := out[node]; dup {
			t.Logf("two pods for node %s", node)
		}
		out[node] = p.Spec.Containers[0].Image
	}
	return out
}

func nodeList(m map[string]string) string {
	var ns []string
	for n := range m {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return strings.Join(ns, ",")
}

func TestControllers_daemonSetFollowsNodes(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	edge := map[string]string{"edge": "true"}
	createNode(t, c.cs, "edge-1", edge)
	createNode(t, c.cs, "edge-2", edge, corev1.Taint{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule})
	createNode(t, c.cs, "core-1", nil)
	createNode(t, c.cs, "edge-3", edge, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
	if _, err := c.cs.AppsV1().DaemonSets("default").Create(ctx, agentDaemonSet(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, c, "rollout", "status", "ds/agent", "--timeout=60s")
	if !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
		t.Fatalf("rollout status: %q", out)
	}
	if got := nodeList(daemonNodes(t, c.cs, "agent")); got != "edge-1,edge-2" {
		t.Fatalf("daemon pods on %s, want edge-1,edge-2", got)
	}
	ds, _ := c.cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
	if s := ds.Status; s.DesiredNumberScheduled != 2 || s.NumberReady != 2 || s.UpdatedNumberScheduled != 2 || s.NumberAvailable != 2 {
		t.Fatalf("status %+v", s)
	}
	waitFor(t, "SuccessfulCreate events", eventSeen(c, "DaemonSet", "agent", "SuccessfulCreate", "Created pod: agent-"))
	// A new node gets its pod; a node that leaves loses it.
	createNode(t, c.cs, "edge-4", edge)
	waitFor(t, "a pod for edge-4", func(ctx context.Context) (bool, error) {
		return nodeList(daemonNodes(t, c.cs, "agent")) == "edge-1,edge-2,edge-4", nil
	})
	if err := c.cs.CoreV1().Nodes().Delete(ctx, "edge-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n, _ := c.cs.CoreV1().Nodes().Get(ctx, "edge-2", metav1.GetOptions{})
	n.Labels = nil
	if _, err := c.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pods only on edge-4", func(ctx context.Context) (bool, error) {
		return nodeList(daemonNodes(t, c.cs, "agent")) == "edge-4", nil
	})
	// Deleting the DaemonSet deletes its pods and revisions.
	kubectl(t, c, "delete", "ds", "agent")
	waitFor(t, "pods and revisions gone", func(ctx context.Context) (bool, error) {
		revs, err := c.cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
		return err == nil && len(revs.Items) == 0 && len(podsOf(t, c.cs, "agent")) == 0, err
	})
}

func TestControllers_daemonSetRollingUpdateHistoryUndo(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	edge := map[string]string{"edge": "true"}
	for _, n := range []string{"edge-1", "edge-2", "edge-3"} {
		createNode(t, c.cs, n, edge)
	}
	if _, err := c.cs.AppsV1().DaemonSets("default").Create(ctx, agentDaemonSet(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, c, "rollout", "status", "ds/agent", "--timeout=60s")
	kubectl(t, c, "set", "image", "ds/agent", "agent=agent:2")
	out := kubectl(t, c, "rollout", "status", "ds/agent", "--timeout=60s")
	if !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %q", out)
	}
	for node, img := range daemonNodes(t, c.cs, "agent") {
		if img != "agent:2" {
			t.Fatalf("pod for %s runs %s", node, img)
		}
	}
	hist := kubectl(t, c, "rollout", "history", "ds/agent")
	for _, rev := range []string{"1", "2"} {
		if !strings.Contains(hist, "\n"+rev+" ") {
			t.Fatalf("rollout history lacks revision %s:\n%s", rev, hist)
		}
	}
	kubectl(t, c, "rollout", "undo", "ds/agent")
	kubectl(t, c, "rollout", "status", "ds/agent", "--timeout=60s")
	waitFor(t, "every pod back on agent:1", func(ctx context.Context) (bool, error) {
		m := daemonNodes(t, c.cs, "agent")
		for _, img := range m {
			if img != "agent:1" {
				return false, nil
			}
		}
		return len(m) == 3, nil
	})
	revs, err := c.cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nums []int64
	for _, r := range revs.Items {
		nums = append(nums, r.Revision)
		if !strings.HasPrefix(r.Name, "agent-") || r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == "" {
			t.Errorf("revision %s labels %v", r.Name, r.Labels)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	if len(nums) != 2 || nums[0] != 2 || nums[1] != 3 {
		t.Fatalf("revision numbers %v after undo, want [2 3]", nums)
	}
	if _, err := c.cs.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Fatal("daemonset gone")
	}
}

// eventSeen: an event with reason about the named object whose message
// starts with prefix has been recorded.
func eventSeen(c *cluster, kind, name, reason, prefix string) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		evs, err := c.cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == reason && strings.HasPrefix(e.Message, prefix) {
				return true, nil
			}
		}
		return false, nil
	}
}
