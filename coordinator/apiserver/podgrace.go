package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1 "k8s.io/api/core/v1"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// defaultPodGrace is Kubernetes' default termination grace period.
const defaultPodGrace = 30

// podGrace decides how a pod is deleted, as Kubernetes does: a pod bound
// to a node and not finished is marked (deletionTimestamp now+grace) and
// its node stops it and makes the final delete; an unbound or finished
// pod, or a grace of 0, is removed at once. It returns the grace in
// seconds and whether the deletion is graceful.
func podGrace(obj kinds.Object, opts *metav1.DeleteOptions) (int64, bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return 0, false
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	grace := int64(defaultPodGrace)
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if grace <= 0 {
		return 0, false
	}
	if cur := pod.DeletionGracePeriodSeconds; pod.DeletionTimestamp != nil && cur != nil && *cur <= grace {
		// Already being deleted at least as fast: nothing changes.
		return *cur, true
	}
	return grace, true
}
