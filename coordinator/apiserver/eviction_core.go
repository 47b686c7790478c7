package apiserver

import (
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubectl/pkg/util/podutils"
)

// Eviction messages and limits, as Kubernetes'.
const (
	msgViolatesBudget = "Cannot evict pod as it would violate the pod's disruption budget."
	causeBudget       = "DisruptionBudget"
	maxDisruptedPods  = 2000
)

// evictionDecision is what an eviction does: delete the pod, after
// writing Budget's new status when it is set.
type evictionDecision struct {
	Budget *policyv1.PodDisruptionBudget
}

// decideEviction decides whether pod may be evicted under the budgets of
// its namespace, as Kubernetes' eviction subresource does. A pod already
// being deleted, finished or pending goes regardless of budgets; a pod
// that no budget selects goes; a pod with more than one budget is refused.
// A ready pod takes one of its budget's allowed disruptions (the returned
// budget has one fewer and names the pod as disrupted at now) or is
// refused with 429 when none is left; a pod that is not ready goes
// without taking one when the budget is healthy or its policy is
// AlwaysAllow.
func decideEviction(pod *corev1.Pod, budgets []*policyv1.PodDisruptionBudget, now time.Time) (evictionDecision, error) {
	if pod.DeletionTimestamp != nil {
		return evictionDecision{}, nil
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return evictionDecision{}, nil
	}
	var mine []*policyv1.PodDisruptionBudget
	for _, b := range budgets {
		if b.Namespace != pod.Namespace {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			mine = append(mine, b)
		}
	}
	switch len(mine) {
	case 0:
		return evictionDecision{}, nil
	case 1:
	default:
		return evictionDecision{}, apierrors.NewInternalError(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
	}
	b := mine[0]
	if !podutils.IsPodReady(pod) {
		if p := b.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
			return evictionDecision{}, nil
		}
		if b.Status.CurrentHealthy >= b.Status.DesiredHealthy && b.Status.DesiredHealthy > 0 {
			return evictionDecision{}, nil
		}
	}
	if b.Status.ObservedGeneration < b.Generation {
		return evictionDecision{}, tooManyRequests(fmt.Sprintf("The disruption budget %s is still being processed by the server.", b.Name))
	}
	if b.Status.DisruptionsAllowed < 0 {
		return evictionDecision{}, apierrors.NewForbidden(policyv1.Resource("poddisruptionbudget"), b.Name, fmt.Errorf("pdb disruptions allowed is negative"))
	}
	if len(b.Status.DisruptedPods) > maxDisruptedPods {
		return evictionDecision{}, apierrors.NewForbidden(policyv1.Resource("poddisruptionbudget"), b.Name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
	}
	if b.Status.DisruptionsAllowed == 0 {
		return evictionDecision{}, tooManyRequests(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently",
			b.Name, b.Status.DesiredHealthy, b.Status.CurrentHealthy))
	}
	next := b.DeepCopy()
	next.Status.DisruptionsAllowed--
	if next.Status.DisruptedPods == nil {
		next.Status.DisruptedPods = map[string]metav1.Time{}
	}
	next.Status.DisruptedPods[pod.Name] = metav1.NewTime(now.Truncate(time.Second))
	if next.Status.DisruptionsAllowed == 0 {
		for i := range next.Status.Conditions {
			c := &next.Status.Conditions[i]
			if c.Type == policyv1.DisruptionAllowedCondition && c.Status != metav1.ConditionFalse {
				c.Status, c.Reason, c.Message = metav1.ConditionFalse, policyv1.InsufficientPodsReason, ""
				c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
			}
		}
	}
	return evictionDecision{Budget: next}, nil
}

// tooManyRequests is the 429 a budget answers, with its reason as cause.
func tooManyRequests(cause string) error {
	err := apierrors.NewTooManyRequests(msgViolatesBudget, 10)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: causeBudget, Message: cause})
	err.ErrStatus.Code = http.StatusTooManyRequests
	return err
}
