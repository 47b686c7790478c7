package controllers

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The node lifecycle's reasons, messages and taints, as Kubernetes'.
const (
	reasonNodeStatusUnknown      = "NodeStatusUnknown"
	reasonNodeStatusNeverUpdated = "NodeStatusNeverUpdated"
	msgNodeStoppedPosting        = "Kubelet stopped posting node status."
	msgNodeNeverPosted           = "Kubelet never posted node status."
	reasonNodeNotReady           = "NodeNotReady"
)

// nodeConditionTypes are the conditions a node reports and that turn
// Unknown when it stops reporting.
var nodeConditionTypes = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// managedTaintKeys are the taints the node lifecycle sets and removes.
var managedTaintKeys = map[string]bool{
	corev1.TaintNodeUnreachable:   true,
	corev1.TaintNodeNotReady:      true,
	corev1.TaintNodeUnschedulable: true,
}

// nodeEvent is an event the node lifecycle records about a node.
type nodeEvent struct {
	Type, Reason, Message string
}

// NodePlan is what the node lifecycle does for one node in one sync.
type NodePlan struct {
	// Conditions, when non-nil, replace the node's status conditions.
	Conditions []corev1.NodeCondition
	// Taints, when TaintsChanged, replace the node's spec.taints.
	Taints        []corev1.Taint
	TaintsChanged bool
	// PodsNotReady asks for the node's pods to be marked not ready.
	PodsNotReady bool
	Events       []nodeEvent
	// RequeueAfter, when positive, is when the node's heartbeat expires.
	RequeueAfter time.Duration
}

// nodeGrace is how long a node may stay silent: grace, but never less
// than half the lease duration the node asked for, so that a node renewing
// slowly is not declared dead between two renewals.
func nodeGrace(lease *coordinationv1.Lease, grace time.Duration) time.Duration {
	if lease != nil && lease.Spec.LeaseDurationSeconds != nil {
		if half := time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second / 2; half > grace {
			return half
		}
	}
	return grace
}

// lastHeard is the node's last sign of life: its lease renewal, its Ready
// heartbeat, or its registration, whichever is latest.
func lastHeard(node *corev1.Node, lease *coordinationv1.Lease) time.Time {
	t := node.CreationTimestamp.Time
	if lease != nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(t) {
		t = lease.Spec.RenewTime.Time
	}
	if c := nodeCondition(node.Status.Conditions, corev1.NodeReady); c != nil && c.LastHeartbeatTime.After(t) {
		t = c.LastHeartbeatTime.Time
	}
	return t
}

// decideNode decides, as Kubernetes' node lifecycle controller does,
// what becomes of a node at now: silent for longer than its grace, its
// conditions turn Unknown; not Ready, it is tainted not-ready (Ready
// False) or unreachable (Ready Unknown), NoSchedule and NoExecute, and its
// pods are marked not ready; Ready again, those taints go. A cordoned node
// (spec.unschedulable) carries the unschedulable NoSchedule taint.
func decideNode(node *corev1.Node, lease *coordinationv1.Lease, grace time.Duration, now time.Time) NodePlan {
	var plan NodePlan
	g := nodeGrace(lease, grace)
	heard := lastHeard(node, lease)
	conds := node.Status.Conditions
	// A node that has not posted Ready yet is given its grace before it
	// counts as anything.
	ready := corev1.ConditionStatus("")
	if c := nodeCondition(conds, corev1.NodeReady); c != nil {
		ready = c.Status
	}
	if ready != corev1.ConditionUnknown {
		if silent := now.Sub(heard); silent > g {
			plan.Conditions = unknownConditions(conds, now)
			conds = plan.Conditions
			ready = corev1.ConditionUnknown
		} else {
			plan.RequeueAfter = g - silent + time.Second
		}
	}
	if ready == corev1.ConditionFalse || ready == corev1.ConditionUnknown {
		plan.PodsNotReady = true
		if plan.Conditions != nil {
			plan.Events = append(plan.Events, nodeEvent{corev1.EventTypeNormal, reasonNodeNotReady,
				"Node " + node.Name + " status is now: " + reasonNodeNotReady})
		}
	}
	plan.Taints = wantTaints(node.Spec.Taints, ready, node.Spec.Unschedulable, now)
	plan.TaintsChanged = !apiequality.Semantic.DeepEqual(plan.Taints, node.Spec.Taints)
	return plan
}

// unknownConditions returns conds with every node condition Unknown, as
// when the node stopped posting; conditions it never posted are added.
func unknownConditions(conds []corev1.NodeCondition, now time.Time) []corev1.NodeCondition {
	out := append([]corev1.NodeCondition(nil), conds...)
	t := metav1.NewTime(now.Truncate(time.Second))
	for _, typ := range nodeConditionTypes {
		i := -1
		for j := range out {
			if out[j].Type == typ {
				i = j
			}
		}
		if i < 0 {
			out = append(out, corev1.NodeCondition{Type: typ, Status: corev1.ConditionUnknown,
				Reason: reasonNodeStatusNeverUpdated, Message: msgNodeNeverPosted, LastHeartbeatTime: t, LastTransitionTime: t})
			continue
		}
		c := &out[i]
		if c.Status != corev1.ConditionUnknown {
			c.LastTransitionTime = t
		}
		c.Status, c.Reason, c.Message = corev1.ConditionUnknown, reasonNodeStatusUnknown, msgNodeStoppedPosting
	}
	return out
}

// wantTaints is cur with the managed taints set for a node whose Ready
// condition is ready: the taints that stay keep their timeAdded.
func wantTaints(cur []corev1.Taint, ready corev1.ConditionStatus, unschedulable bool, now time.Time) []corev1.Taint {
	var want []corev1.Taint
	switch ready {
	case corev1.ConditionUnknown:
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute})
	case corev1.ConditionFalse:
		want = append(want, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute})
	}
	if unschedulable {
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	var out []corev1.Taint
	for _, t := range cur {
		if !managedTaintKeys[t.Key] {
			out = append(out, t)
		}
	}
	for _, w := range want {
		kept := false
		for _, t := range cur {
			if t.Key == w.Key && t.Effect == w.Effect {
				out = append(out, t)
				kept = true
				break
			}
		}
		if kept {
			continue
		}
		if w.Effect == corev1.TaintEffectNoExecute {
			at := metav1.NewTime(now.Truncate(time.Second))
			w.TimeAdded = &at
		}
		out = append(out, w)
	}
	return out
}

func nodeCondition(conds []corev1.NodeCondition, typ corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// podNotReadyStatus returns the pod's status with Ready False, or false
// when it is not Ready True now.
func podNotReadyStatus(p *corev1.Pod, now time.Time) (corev1.PodStatus, bool) {
	st := *p.Status.DeepCopy()
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			c.Status = corev1.ConditionFalse
			c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
			return st, true
		}
	}
	return st, false
}
