package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// job is a binding to write (node set) or a failure to report (message
// set; gated for a pod held by its scheduling gates).
type job struct {
	pod     *corev1.Pod
	node    string
	message string
	gated   bool
}

// Kubernetes' condition for a pod its scheduling gates hold back.
const (
	reasonSchedulingGated = "SchedulingGated"
	msgSchedulingGated    = "Scheduling is blocked due to non-empty scheduling gates"
)

// work writes jobs until ctx ends.
func (s *Scheduler) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.jobs:
			if j.node != "" {
				s.bind(ctx, j.pod, j.node)
			} else {
				s.reportUnschedulable(ctx, j.pod, j.message, j.gated)
			}
		}
	}
}

// bind writes the pods/binding subresource and hands the result back to
// the owner.
func (s *Scheduler) bind(ctx context.Context, pod *corev1.Pod, node string) {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.cfg.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	s.inbox.push(event{kind: kindBound, key: podKey(pod), node: node, err: err})
	if err != nil {
		if ctx.Err() == nil && !apierrors.IsNotFound(err) {
			s.cfg.Log.Warn("bind pod", "pod", podKey(pod), "node", node, "err", err)
			s.events.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
		}
		return
	}
	s.events.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// reportUnschedulable records the FailedScheduling event and sets the
// pod's PodScheduled condition to False with reason Unschedulable, unless
// it already says so. A gated pod gets reason SchedulingGated and no
// event.
func (s *Scheduler) reportUnschedulable(ctx context.Context, pod *corev1.Pod, msg string, gated bool) {
	reason := corev1.PodReasonUnschedulable
	if gated {
		reason, msg = reasonSchedulingGated, msgSchedulingGated
	} else {
		s.events.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	}
	if hasCondition(pod, reason, msg) {
		return
	}
	pods := s.cfg.Client.CoreV1().Pods(pod.Namespace)
	cur := pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			got, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.UID != pod.UID || got.Spec.NodeName != "" || hasCondition(got, reason, msg) {
				return nil
			}
			cur = got
		}
		upd := cur.DeepCopy()
		setUnschedulable(upd, reason, msg, metav1.NewTime(s.cfg.Now().Truncate(1e9)))
		_, err := pods.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		cur = nil
		return err
	})
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		s.cfg.Log.Warn("report pod unschedulable", "pod", podKey(pod), "err", fmt.Errorf("update status: %w", err))
	}
}

func hasCondition(pod *corev1.Pod, reason, msg string) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == reason && c.Message == msg
		}
	}
	return false
}

// setUnschedulable sets the PodScheduled condition as kube-scheduler does
// for a pod no node fits or that its gates hold back.
func setUnschedulable(pod *corev1.Pod, reason, msg string, now metav1.Time) {
	c := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: reason, Message: msg, LastTransitionTime: now}
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			if pod.Status.Conditions[i].Status == corev1.ConditionFalse {
				c.LastTransitionTime = pod.Status.Conditions[i].LastTransitionTime
			}
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}
