package controllers

import (
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const grace = 8 * time.Second

// heartbeatNode is a node that posted Ready status at heartbeat.
func heartbeatNode(status corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))}}
	for _, typ := range nodeConditionTypes {
		st := corev1.ConditionFalse
		if typ == corev1.NodeReady {
			st = status
		}
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: typ, Status: st,
			LastHeartbeatTime: metav1.NewTime(heartbeat), LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))})
	}
	return n
}

func testLease(renew time.Time, seconds int32) *coordinationv1.Lease {
	return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: renew}, LeaseDurationSeconds: ptr.To(seconds)}}
}

func taintNames(ts []corev1.Taint) string {
	s := ""
	for _, t := range ts {
		s += fmt.Sprintf("%s:%s ", t.Key, t.Effect)
	}
	return s
}

func TestDecideNode_heartbeats(t *testing.T) {
	for _, tt := range []struct {
		name       string
		node       *corev1.Node
		lease      *coordinationv1.Lease
		now        time.Time
		goUnknown  bool
		taints     string
		podsNotRdy bool
		requeue    time.Duration
	}{
		{name: "fresh heartbeat", node: heartbeatNode(corev1.ConditionTrue, t0), lease: testLease(t0, 8), now: t0.Add(3 * time.Second),
			requeue: 6 * time.Second},
		{name: "fresh lease, old status", node: heartbeatNode(corev1.ConditionTrue, t0.Add(-time.Minute)), lease: testLease(t0, 8), now: t0.Add(7 * time.Second),
			requeue: 2 * time.Second},
		{name: "silent past the grace", node: heartbeatNode(corev1.ConditionTrue, t0), lease: testLease(t0, 8), now: t0.Add(9 * time.Second),
			goUnknown: true, taints: "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute ", podsNotRdy: true},
		{name: "a long lease gives half its duration", node: heartbeatNode(corev1.ConditionTrue, t0), lease: testLease(t0, 40), now: t0.Add(15 * time.Second),
			requeue: 6 * time.Second},
		{name: "a long lease expired", node: heartbeatNode(corev1.ConditionTrue, t0), lease: testLease(t0, 40), now: t0.Add(21 * time.Second),
			goUnknown: true, taints: "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute ", podsNotRdy: true},
		{name: "no lease: the status heartbeat counts", node: heartbeatNode(corev1.ConditionTrue, t0), now: t0.Add(5 * time.Second),
			requeue: 4 * time.Second},
		{name: "not ready", node: heartbeatNode(corev1.ConditionFalse, t0), lease: testLease(t0, 8), now: t0.Add(time.Second),
			taints: "node.kubernetes.io/not-ready:NoSchedule node.kubernetes.io/not-ready:NoExecute ", podsNotRdy: true, requeue: 8 * time.Second},
		{name: "already unknown", node: heartbeatNode(corev1.ConditionUnknown, t0), now: t0.Add(time.Hour),
			taints: "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute ", podsNotRdy: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan := decideNode(tt.node, tt.lease, grace, tt.now)
			if (plan.Conditions != nil) != tt.goUnknown {
				t.Fatalf("conditions %+v", plan.Conditions)
			}
			if got := taintNames(plan.Taints); got != tt.taints {
				t.Errorf("taints %q, want %q", got, tt.taints)
			}
			if plan.PodsNotReady != tt.podsNotRdy {
				t.Errorf("pods not ready %v", plan.PodsNotReady)
			}
			if plan.RequeueAfter != tt.requeue {
				t.Errorf("requeue after %v, want %v", plan.RequeueAfter, tt.requeue)
			}
			if tt.goUnknown {
				for _, c := range plan.Conditions {
					if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." ||
						!c.LastTransitionTime.Time.Equal(tt.now) || !c.LastHeartbeatTime.Time.Equal(t0) {
						t.Errorf("condition %+v", c)
					}
				}
				if len(plan.Events) != 1 || plan.Events[0].Reason != "NodeNotReady" || plan.Events[0].Message != "Node node-1 status is now: NodeNotReady" {
					t.Errorf("events %+v", plan.Events)
				}
			}
		})
	}
}

func TestDecideNode_taintsComeAndGo(t *testing.T) {
	n := heartbeatNode(corev1.ConditionTrue, t0)
	n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	plan := decideNode(n, testLease(t0, 8), grace, t0.Add(10*time.Second))
	if !plan.TaintsChanged {
		t.Fatal("no taints on a silent node")
	}
	n.Status.Conditions = plan.Conditions
	n.Spec.Taints = plan.Taints
	for _, tn := range n.Spec.Taints {
		if tn.Effect == corev1.TaintEffectNoExecute && (tn.TimeAdded == nil || !tn.TimeAdded.Time.Equal(t0.Add(10*time.Second))) {
			t.Fatalf("NoExecute taint without its time: %+v", tn)
		}
	}
	// Later syncs keep the taints and their time.
	if again := decideNode(n, testLease(t0, 8), grace, t0.Add(time.Minute)); again.TaintsChanged || again.Conditions != nil || len(again.Events) != 0 {
		t.Fatalf("second sync changed something: %+v", again)
	}
	// The node comes back: the managed taints go, the user's stays.
	back := heartbeatNode(corev1.ConditionTrue, t0.Add(2*time.Minute))
	back.Spec.Taints = n.Spec.Taints
	plan = decideNode(back, testLease(t0.Add(2*time.Minute), 8), grace, t0.Add(2*time.Minute))
	if got := taintNames(plan.Taints); !plan.TaintsChanged || got != "dedicated:NoSchedule " || plan.PodsNotReady {
		t.Fatalf("after recovery: taints %q changed %v pods not ready %v", got, plan.TaintsChanged, plan.PodsNotReady)
	}
}

func TestDecideNode_cordonedAndNew(t *testing.T) {
	n := heartbeatNode(corev1.ConditionTrue, t0)
	n.Spec.Unschedulable = true
	if got := taintNames(decideNode(n, nil, grace, t0).Taints); got != "node.kubernetes.io/unschedulable:NoSchedule " {
		t.Fatalf("cordoned node taints %q", got)
	}
	fresh := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new", CreationTimestamp: metav1.NewTime(t0)}}
	plan := decideNode(fresh, nil, grace, t0.Add(time.Second))
	if plan.Conditions != nil || plan.TaintsChanged || plan.PodsNotReady || plan.RequeueAfter <= 0 {
		t.Fatalf("a node that has not posted yet: %+v", plan)
	}
	plan = decideNode(fresh, nil, grace, t0.Add(10*time.Second))
	if len(plan.Conditions) != 4 || plan.Conditions[0].Reason != "NodeStatusNeverUpdated" || plan.Conditions[0].Message != "Kubelet never posted node status." {
		t.Fatalf("a node that never posted: %+v", plan.Conditions)
	}
}

func TestPodNotReadyStatus(t *testing.T) {
	p := testPod("a", "10.244.0.5", true)
	st, changed := podNotReadyStatus(p, t0)
	if !changed || st.Conditions[0].Status != corev1.ConditionFalse || !st.Conditions[0].LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("ready pod: %v %+v", changed, st.Conditions)
	}
	if p.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatal("the cached pod was changed")
	}
	if _, changed := podNotReadyStatus(testPod("b", "10.244.0.6", false), t0); changed {
		t.Fatal("a pod not ready was rewritten")
	}
}
