package controllers

import (
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubectl/pkg/util/podutils"
)

// burstReplicas caps the pods one sync creates or deletes, as Kubernetes'
// ReplicaSet controller does.
const burstReplicas = 500

// ReplicaSetPlan is what the ReplicaSet controller does for one
// ReplicaSet in one sync.
type ReplicaSetPlan struct {
	// Adopt are orphan pods matching the selector, to be given a
	// controller reference to the ReplicaSet.
	Adopt []*corev1.Pod
	// Release are owned pods that no longer match the selector, to lose
	// their controller reference.
	Release []*corev1.Pod
	// Create is the number of pods to create from the template.
	Create int
	// Delete are surplus pods, the ones to lose first first.
	Delete []*corev1.Pod
	// Status is the status the ReplicaSet has given the pods it was shown.
	Status appsv1.ReplicaSetStatus
	// RequeueAfter, when positive, asks for another sync after this long,
	// when a ready pod will have been ready for minReadySeconds.
	RequeueAfter time.Duration
}

// decideReplicaSet compares a ReplicaSet with the pods of its namespace
// and returns what to do. A ReplicaSet being deleted only gets its status.
func decideReplicaSet(rs *appsv1.ReplicaSet, pods []*corev1.Pod, now time.Time) (ReplicaSetPlan, error) {
	var plan ReplicaSetPlan
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return plan, fmt.Errorf("replicaset %s/%s selector: %w", rs.Namespace, rs.Name, err)
	}
	var mine []*corev1.Pod
	for _, p := range pods {
		if !isActivePod(p) {
			continue
		}
		switch claimOf(rs, sel, p) {
		case owned:
			mine = append(mine, p)
		case adopt:
			plan.Adopt = append(plan.Adopt, p)
			mine = append(mine, p)
		case release:
			plan.Release = append(plan.Release, p)
		}
	}
	plan.Status, plan.RequeueAfter = replicaSetStatus(rs, mine, now)
	if rs.DeletionTimestamp != nil {
		return plan, nil
	}
	want := int(replicasOf(rs.Spec.Replicas))
	switch diff := len(mine) - want; {
	case diff < 0:
		plan.Create = min(-diff, burstReplicas)
	case diff > 0:
		ranked := append([]*corev1.Pod(nil), mine...)
		sort.Sort(podutils.ActivePods(ranked))
		plan.Delete = ranked[:min(diff, burstReplicas)]
	}
	return plan, nil
}

// replicaSetStatus counts the pods of a ReplicaSet. It keeps the
// ReplicaFailure condition as it was: the loop sets it from the outcome of
// its writes (setReplicaFailure).
func replicaSetStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, now time.Time) (appsv1.ReplicaSetStatus, time.Duration) {
	st := appsv1.ReplicaSetStatus{
		Replicas:           int32(len(pods)),
		ObservedGeneration: rs.Generation,
		Conditions:         append([]appsv1.ReplicaSetCondition(nil), rs.Status.Conditions...),
	}
	tmpl := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	mrs := rs.Spec.MinReadySeconds
	var wait time.Duration
	for _, p := range pods {
		if tmpl.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if !podutils.IsPodReady(p) {
			continue
		}
		st.ReadyReplicas++
		if podutils.IsPodAvailable(p, mrs, metav1.NewTime(now)) {
			st.AvailableReplicas++
		} else if since := readySince(p); !since.IsZero() {
			left := since.Add(time.Duration(mrs) * time.Second).Sub(now)
			if wait == 0 || left < wait {
				wait = left
			}
		}
	}
	if st.ReadyReplicas > st.AvailableReplicas && wait <= 0 {
		wait = time.Second
	}
	return st, wait
}

// setReplicaFailure records the outcome of a sync's writes on its status
// as Kubernetes does: a ReplicaFailure condition while creating or
// deleting pods fails, none once it works again.
func setReplicaFailure(st *appsv1.ReplicaSetStatus, manageErr error, deleting bool, now time.Time) {
	i := -1
	for j, c := range st.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure {
			i = j
		}
	}
	switch {
	case manageErr == nil && i >= 0:
		st.Conditions = append(st.Conditions[:i:i], st.Conditions[i+1:]...)
	case manageErr != nil && i < 0:
		reason := "FailedCreate"
		if deleting {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	}
}

// newPod is a pod of rs as its template describes it.
func newPod(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    rs.Name + "-",
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{controllerRef(rs, replicaSetKind)},
		},
		Spec: t.Spec,
	}
}

// isActivePod: neither finished nor being deleted.
func isActivePod(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// readySince is when the pod last became ready, zero when unknown.
func readySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
