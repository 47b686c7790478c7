package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	return corev1helpers.TolerationsTolerateTaint(tolerations, taint)
}

func blocksScheduling(t *corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

// untoleratedTaint returns kube-scheduler's reason for the first
// NoSchedule or NoExecute taint of the node the pod does not tolerate,
// the node's not-ready taint (from its Ready condition) included, and ""
// when it tolerates them all.
func untoleratedTaint(tolerations []corev1.Toleration, taints []corev1.Taint, notReady *corev1.Taint) string {
	if len(taints) > 0 {
		if t, ok := corev1helpers.FindMatchingUntoleratedTaint(taints, tolerations, blocksScheduling); ok {
			return taintReason(&t)
		}
	}
	if notReady != nil && !tolerates(tolerations, notReady) {
		// The node lifecycle may already have put the same taint there,
		// with NoExecute; tolerating that one is tolerating this.
		for i := range taints {
			if taints[i].Key == notReady.Key && blocksScheduling(&taints[i]) {
				return ""
			}
		}
		return taintReason(notReady)
	}
	return ""
}

func taintReason(t *corev1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}

// preferNoScheduleCount is how many PreferNoSchedule taints of the node
// the pod does not tolerate.
func preferNoScheduleCount(tolerations []corev1.Toleration, taints []corev1.Taint) int64 {
	var n int64
	for i := range taints {
		if taints[i].Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(tolerations, &taints[i]) {
			n++
		}
	}
	return n
}
