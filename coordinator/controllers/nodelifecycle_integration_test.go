package controllers_test

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/controllers"
)

// heartbeat registers or renews node the way an agent does: Ready True
// posted now and its lease renewed, lasting leaseSeconds.
func heartbeat(t *testing.T, cs kubernetes.Interface, node string, leaseSeconds int32) {
	t.Helper()
	ctx := context.Background()
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		if n, err = cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	now := metav1.Now()
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady",
		LastHeartbeatTime: now, LastTransitionTime: now}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	l, err := leases.Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), LeaseDurationSeconds: ptr.To(leaseSeconds)}}
		l.Spec.RenewTime = &metav1.MicroTime{Time: now.Time}
		if _, err := leases.Create(ctx, l, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	l.Spec.RenewTime = &metav1.MicroTime{Time: now.Time}
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func nodeState(ctx context.Context, cs kubernetes.Interface, name string) (corev1.ConditionStatus, map[string]bool, error) {
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", nil, err
	}
	taints := map[string]bool{}
	for _, t := range n.Spec.Taints {
		taints[t.Key+":"+string(t.Effect)] = true
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status, taints, nil
		}
	}
	return "", taints, nil
}

func hasEvent(ctx context.Context, cs kubernetes.Interface, reason, name string) bool {
	l, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, e := range l.Items {
		if e.Reason == reason && e.InvolvedObject.Name == name {
			return true
		}
	}
	return false
}

func TestNodeLifecycle_deadNodeLosesItsPods(t *testing.T) {
	cs := startControllers(t, func(c *coordinator.Config) { c.DefaultTolerationSeconds = 1 },
		func(c *controllers.Config) { c.NodeMonitorGracePeriod = 2 * time.Second })
	ctx := context.Background()
	heartbeat(t, cs, "n1", 2)
	if _, err := cs.CoreV1().Services("default").Create(ctx, webService("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	unreachable := func(seconds *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
	}
	plain := runningPod(t, cs, "plain", "web", "n1", "10.244.0.5", true)
	runningPod(t, cs, "now", "web", "n1", "10.244.0.6", true, unreachable(ptr.To[int64](0)))
	runningPod(t, cs, "forever", "web", "n1", "10.244.0.7", true, unreachable(nil))
	if len(plain.Spec.Tolerations) != 2 || *plain.Spec.Tolerations[1].TolerationSeconds != 1 {
		t.Fatalf("default tolerations: %+v", plain.Spec.Tolerations)
	}
	waitFor(t, "three ready endpoints", func(ctx context.Context) (bool, error) {
		ready, _, err := endpointsOf(ctx, cs, "web")
		return err == nil && len(ready) == 3, nil
	})
	// n1 stops renewing.
	waitFor(t, "n1 unknown and tainted unreachable", func(ctx context.Context) (bool, error) {
		st, taints, err := nodeState(ctx, cs, "n1")
		return err == nil && st == corev1.ConditionUnknown && taints["node.kubernetes.io/unreachable:NoExecute"] &&
			taints["node.kubernetes.io/unreachable:NoSchedule"], nil
	})
	n, _ := cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if c := n.Status.Conditions[0]; c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." {
		t.Fatalf("ready condition %+v", c)
	}
	waitFor(t, "pods gone from the ready endpoints", func(ctx context.Context) (bool, error) {
		ready, _, err := endpointsOf(ctx, cs, "web")
		return err == nil && len(ready) == 0, nil
	})
	terminating := func(name string) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			return err == nil && p.DeletionTimestamp != nil, nil
		}
	}
	waitFor(t, "pod without patience evicted", terminating("now"))
	waitFor(t, "pod with default tolerations evicted", terminating("plain"))
	if p, _ := cs.CoreV1().Pods("default").Get(ctx, "forever", metav1.GetOptions{}); p.DeletionTimestamp != nil {
		t.Fatal("a pod tolerating unreachable forever was evicted")
	}
	waitFor(t, "events", func(ctx context.Context) (bool, error) {
		return hasEvent(ctx, cs, "NodeNotReady", "n1") && hasEvent(ctx, cs, "TaintManagerEviction", "now"), nil
	})
	// n1 comes back.
	heartbeat(t, cs, "n1", 2)
	waitFor(t, "n1 untainted", func(ctx context.Context) (bool, error) {
		st, taints, err := nodeState(ctx, cs, "n1")
		return err == nil && st == corev1.ConditionTrue && len(taints) == 0, nil
	})
}

func TestMarkNodeUnreachable(t *testing.T) {
	cs := startControllers(t, nil, nil)
	ctx := context.Background()
	heartbeat(t, cs, "n2", 600)
	if err := controllers.MarkNodeUnreachable(ctx, cs, "n2", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n2 tainted unreachable", func(ctx context.Context) (bool, error) {
		st, taints, err := nodeState(ctx, cs, "n2")
		return err == nil && st == corev1.ConditionUnknown && taints["node.kubernetes.io/unreachable:NoExecute"], nil
	})
	if err := controllers.MarkNodeUnreachable(ctx, cs, "missing", time.Now()); err == nil {
		t.Fatal("marking a missing node succeeded")
	}
}
