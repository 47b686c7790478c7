package controllers

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kubectl/pkg/util/podutils"
)

// disruptedPodTimeout is how long an evicted pod that is still not being
// deleted counts as disrupted, as in Kubernetes.
const disruptedPodTimeout = 2 * time.Minute

// controllerScale is the controller that counts for a pod's own
// controller (a ReplicaSet's Deployment, say) and its desired replicas.
type controllerScale struct {
	UID      types.UID
	Replicas int32
}

// decidePDB computes a PodDisruptionBudget's status from the pods its
// selector matches, as Kubernetes' disruption controller does. scales
// maps the UID of each pod controller to its desired replica count; it is
// needed only for maxUnavailable and percentage minAvailable, which count
// the expected pods from the controllers. A budget that cannot be
// computed allows no disruption. RequeueAfter, when positive, is when an
// entry of disruptedPods expires.
func decidePDB(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scales map[types.UID]controllerScale, now time.Time) (policyv1.PodDisruptionBudgetStatus, time.Duration) {
	st := policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.Generation,
		Conditions:         append([]metav1.Condition(nil), pdb.Status.Conditions...),
	}
	var wait time.Duration
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	for name, at := range pdb.Status.DisruptedPods {
		p, ok := byName[name]
		expires := at.Add(disruptedPodTimeout)
		if !ok || p.DeletionTimestamp != nil || !expires.After(now) {
			continue
		}
		if st.DisruptedPods == nil {
			st.DisruptedPods = map[string]metav1.Time{}
		}
		st.DisruptedPods[name] = at
		if left := expires.Sub(now); wait == 0 || left < wait {
			wait = left
		}
	}
	for _, p := range pods {
		if _, disrupted := st.DisruptedPods[p.Name]; p.DeletionTimestamp == nil && !disrupted && podutils.IsPodReady(p) {
			st.CurrentHealthy++
		}
	}
	expected, desired, err := pdbExpectations(pdb, pods, scales)
	if err != nil {
		st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods, st.DisruptionsAllowed = 0, 0, 0, 0
		setPDBCondition(&st, metav1.ConditionFalse, policyv1.SyncFailedReason, err.Error(), pdb.Generation, now)
		return st, wait
	}
	st.ExpectedPods, st.DesiredHealthy = expected, desired
	st.DisruptionsAllowed = max(st.CurrentHealthy-desired, 0)
	if st.DisruptionsAllowed > 0 {
		setPDBCondition(&st, metav1.ConditionTrue, policyv1.SufficientPodsReason, "", pdb.Generation, now)
	} else {
		setPDBCondition(&st, metav1.ConditionFalse, policyv1.InsufficientPodsReason, "", pdb.Generation, now)
	}
	return st, wait
}

// pdbExpectations returns how many pods the budget expects and how many
// of them it wants healthy.
func pdbExpectations(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scales map[types.UID]controllerScale) (expected, desired int32, err error) {
	spec := pdb.Spec
	switch {
	case spec.MaxUnavailable != nil:
		if expected, err = expectedFromControllers(pods, scales); err != nil {
			return 0, 0, err
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
		}
		return expected, max(expected-int32(n), 0), nil
	case spec.MinAvailable != nil && spec.MinAvailable.Type == intstr.Int:
		return int32(len(pods)), spec.MinAvailable.IntVal, nil
	case spec.MinAvailable != nil:
		if expected, err = expectedFromControllers(pods, scales); err != nil {
			return 0, 0, err
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(spec.MinAvailable, int(expected), true)
		if err != nil {
			return 0, 0, fmt.Errorf("minAvailable: %w", err)
		}
		return expected, int32(min(n, math.MaxInt32)), nil
	}
	return int32(len(pods)), 0, nil
}

// expectedFromControllers sums the replicas of the controllers of pods.
func expectedFromControllers(pods []*corev1.Pod, scales map[types.UID]controllerScale) (int32, error) {
	seen := map[types.UID]bool{}
	var n int32
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil {
			return 0, fmt.Errorf("found no controller ref for pod %q", p.Name)
		}
		scale, ok := scales[ref.UID]
		if !ok {
			return 0, fmt.Errorf("found no controllers for pod %q", p.Name)
		}
		if seen[scale.UID] {
			continue
		}
		seen[scale.UID] = true
		n += scale.Replicas
	}
	return n, nil
}

// setPDBCondition sets the DisruptionAllowed condition, keeping its
// transition time while its status stays.
func setPDBCondition(st *policyv1.PodDisruptionBudgetStatus, status metav1.ConditionStatus, reason, msg string, gen int64, now time.Time) {
	c := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))}
	for i := range st.Conditions {
		if st.Conditions[i].Type != c.Type {
			continue
		}
		if st.Conditions[i].Status == status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

// pdbStatusChanged reports whether st differs from the stored status.
func pdbStatusChanged(pdb *policyv1.PodDisruptionBudget, st policyv1.PodDisruptionBudgetStatus) bool {
	return !apiequality.Semantic.DeepEqual(pdb.Status, st)
}
