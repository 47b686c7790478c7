package controllers

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// reasonTaintEviction is the event reason of a pod the taint manager
// deletes, as Kubernetes'.
const reasonTaintEviction = "TaintManagerEviction"

// EvictionPlan is what the taint manager does for one node's pods.
type EvictionPlan struct {
	// Evict are the pods to delete now.
	Evict []*corev1.Pod
	// RequeueAfter, when positive, is when the next toleration runs out.
	RequeueAfter time.Duration
}

// decideEvictions applies a node's NoExecute taints to its pods at now,
// as Kubernetes' taint manager does: a pod that does not tolerate every
// NoExecute taint is evicted at once; a pod that tolerates them all
// forever stays; otherwise it is evicted when the shortest
// tolerationSeconds among the tolerations it uses has passed since the
// taint was added. Pods already being deleted are left alone.
func decideEvictions(taints []corev1.Taint, pods []*corev1.Pod, now time.Time) EvictionPlan {
	var plan EvictionPlan
	var noExec []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			noExec = append(noExec, t)
		}
	}
	if len(noExec) == 0 {
		return plan
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		at, ok := evictionTime(noExec, p.Spec.Tolerations, now)
		switch {
		case !ok:
		case !at.After(now):
			plan.Evict = append(plan.Evict, p)
		default:
			if wait := at.Sub(now); plan.RequeueAfter == 0 || wait < plan.RequeueAfter {
				plan.RequeueAfter = wait
			}
		}
	}
	return plan
}

// evictionTime is when a pod with tolerations must leave a node with
// taints (all NoExecute); ok is false when it may stay forever.
func evictionTime(taints []corev1.Taint, tolerations []corev1.Toleration, now time.Time) (time.Time, bool) {
	var at time.Time
	forever := true
	for i := range taints {
		t := &taints[i]
		tolerated := false
		for _, tol := range tolerations {
			if !tol.ToleratesTaint(t) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				continue
			}
			start := now
			if t.TimeAdded != nil {
				start = t.TimeAdded.Time
			}
			end := start.Add(time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second)
			if forever || end.Before(at) {
				at, forever = end, false
			}
		}
		if !tolerated {
			return now, true
		}
	}
	return at, !forever
}
