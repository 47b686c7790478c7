package controllers

import (
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

func getCondition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func newCondition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now.Truncate(time.Second))
	return appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: ts, LastTransitionTime: ts}
}

// setCondition sets c unless one of its type already has its status and
// reason; a condition keeping its status keeps its transition time.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := getCondition(*st, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}

// complete: every replica is updated and available, and the spec has been
// observed.
func complete(d *appsv1.Deployment, st appsv1.DeploymentStatus) bool {
	n := replicasOf(d.Spec.Replicas)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n && st.ObservedGeneration >= d.Generation
}

// progressing: the new status moved the rollout on from the old one.
func progressing(old, st appsv1.DeploymentStatus) bool {
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

func timedOut(d *appsv1.Deployment, st appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(st, appsv1.DeploymentProgressing)
	if c == nil || c.Reason == reasonNewRSAvailable {
		return false
	}
	if c.Reason == reasonTimedOut {
		return true
	}
	deadline := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return deadline.Before(now)
}

// pausedConditions marks a Deployment paused or resumed in its
// Progressing condition, unless it already timed out.
func (s *deployState) pausedConditions() {
	if !hasProgressDeadline(s.d) {
		return
	}
	c := getCondition(s.status, appsv1.DeploymentProgressing)
	if c != nil && c.Reason == reasonTimedOut {
		return
	}
	isPaused := c != nil && c.Reason == reasonPaused
	switch {
	case s.d.Spec.Paused && !isPaused:
		setCondition(&s.status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", s.now))
	case !s.d.Spec.Paused && isPaused:
		setCondition(&s.status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", s.now))
	}
}

// counts fills the replica counts of st from the ReplicaSets' statuses,
// and the Available condition from them.
func (s *deployState) counts(st *appsv1.DeploymentStatus) {
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas, st.UpdatedReplicas = 0, 0, 0, 0
	for _, rs := range s.all() {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
	}
	if s.newRS != nil {
		st.UpdatedReplicas = s.newRS.Status.Replicas
	}
	st.UnavailableReplicas = max(st.Replicas-st.AvailableReplicas, 0)
	st.ObservedGeneration = s.d.Generation
	if st.AvailableReplicas >= s.replicas()-maxUnavailable(s.d) {
		setCondition(st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable, "Deployment has minimum availability.", s.now))
	} else {
		setCondition(st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinimumUnavailable, "Deployment does not have minimum availability.", s.now))
	}
}

// finishStatus computes the status the plan writes. With progress set, it
// also moves the Progressing condition on as a rollout does: complete,
// progressing, or past its deadline.
func (s *deployState) finishStatus(progress bool) {
	st := s.status
	st.Conditions = append([]appsv1.DeploymentCondition(nil), st.Conditions...)
	s.counts(&st)
	if progress {
		s.progress(&st)
	}
	s.replicaFailure(&st)
	if !apiequality.Semantic.DeepEqual(st, s.d.Status) {
		s.plan.Status = &st
	}
}

func (s *deployState) progress(st *appsv1.DeploymentStatus) {
	d := s.d
	if !hasProgressDeadline(d) {
		removeCondition(st, appsv1.DeploymentProgressing)
		return
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	if st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == reasonNewRSAvailable {
		return
	}
	subject := fmt.Sprintf("Deployment %q", d.Name)
	if s.newRS != nil {
		subject = fmt.Sprintf("ReplicaSet %q", s.newRS.Name)
	}
	switch {
	case complete(d, *st):
		setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable, subject+" has successfully progressed.", s.now))
	case progressing(d.Status, *st):
		c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated, subject+" is progressing.", s.now)
		if now := getCondition(*st, appsv1.DeploymentProgressing); now != nil && now.Status == corev1.ConditionTrue {
			c.LastTransitionTime = now.LastTransitionTime
		}
		removeCondition(st, appsv1.DeploymentProgressing)
		st.Conditions = append(st.Conditions, c)
	case timedOut(d, *st, s.now):
		setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut, subject+" has timed out progressing.", s.now))
	}
	// Wake up when the deadline passes if nothing else happens.
	if c := getCondition(*st, appsv1.DeploymentProgressing); c != nil && c.Reason != reasonNewRSAvailable && c.Reason != reasonTimedOut {
		left := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(s.now)
		s.plan.RequeueAfter = max(left, time.Second)
	}
}

// replicaFailure reports the first ReplicaFailure of the new or old
// ReplicaSets on the Deployment, and removes it once none has one.
func (s *deployState) replicaFailure(st *appsv1.DeploymentStatus) {
	for _, rs := range append([]*appsv1.ReplicaSet{s.newRS}, s.olds...) {
		if rs == nil {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				setCondition(st, appsv1.DeploymentCondition{
					Type: appsv1.DeploymentReplicaFailure, Status: c.Status, Reason: c.Reason, Message: c.Message,
					LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime,
				})
				return
			}
		}
	}
	removeCondition(st, appsv1.DeploymentReplicaFailure)
}
