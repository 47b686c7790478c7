package kinds

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeUnreachableReason is the pod status reason set when the node of a
// pod being deleted cannot be reached.
const nodeUnreachableReason = "NodeLost"

// podRow renders a pod the way kubectl shows it: READY, STATUS, RESTARTS,
// AGE, then IP, NODE, NOMINATED NODE and READINESS GATES.
func podRow(obj Object, now time.Time) []any {
	p := obj.(*corev1.Pod)
	s := summarizePod(p)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, ageSince(s.lastRestart, now))
	}
	ip := p.Status.PodIP
	if len(p.Status.PodIPs) > 0 {
		ip = p.Status.PodIPs[0].IP
	}
	gates := "<none>"
	if len(p.Spec.ReadinessGates) > 0 {
		ready := 0
		for _, g := range p.Spec.ReadinessGates {
			if c := podCondition(p, g.ConditionType); c != nil && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
		gates = fmt.Sprintf("%d/%d", ready, len(p.Spec.ReadinessGates))
	}
	return []any{
		fmt.Sprintf("%d/%d", s.ready, s.total), s.reason, restarts, ageSince(p.CreationTimestamp, now),
		orNone(ip), orNone(p.Spec.NodeName), orNone(p.Status.NominatedNodeName), gates,
	}
}

// podSummary is what the pod row reports about containers.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  metav1.Time
}

// summarizePod computes the READY, STATUS and RESTARTS cells: the status is
// the phase, replaced by the pod's reason, then by the first init container
// that has not finished ("Init:1/2", "Init:CrashLoopBackOff"), then by the
// state of the app containers, and "Terminating" once deletion started.
func summarizePod(p *corev1.Pod) podSummary {
	s := podSummary{total: len(p.Spec.Containers), reason: string(p.Status.Phase)}
	if p.Status.Reason != "" {
		s.reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			s.total++
		}
	}

	var sidecarRestarts int
	var lastSidecarRestart metav1.Time
	initializing := false
	for i, c := range p.Status.InitContainerStatuses {
		s.restarts += int(c.RestartCount)
		latest(&s.lastRestart, c.LastTerminationState.Terminated)
		if sidecars[c.Name] {
			sidecarRestarts += int(c.RestartCount)
			latest(&lastSidecarRestart, c.LastTerminationState.Terminated)
		}
		t, w := c.State.Terminated, c.State.Waiting
		switch {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecars[c.Name] && c.Started != nil && *c.Started:
			if c.Ready {
				s.ready++
			}
			continue
		case t != nil:
			switch {
			case t.Reason != "":
				s.reason = "Init:" + t.Reason
			case t.Signal != 0:
				s.reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				s.reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			s.reason = "Init:" + w.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if c := podCondition(p, corev1.PodInitialized); !initializing || c != nil && c.Status == corev1.ConditionTrue {
		s.restarts, s.lastRestart = sidecarRestarts, lastSidecarRestart
		running := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := p.Status.ContainerStatuses[i]
			s.restarts += int(c.RestartCount)
			latest(&s.lastRestart, c.LastTerminationState.Terminated)
			t, w := c.State.Terminated, c.State.Waiting
			switch {
			case w != nil && w.Reason != "":
				s.reason = w.Reason
			case t != nil && t.Reason != "":
				s.reason = t.Reason
			case t != nil && t.Signal != 0:
				s.reason = fmt.Sprintf("Signal:%d", t.Signal)
			case t != nil:
				s.reason = fmt.Sprintf("ExitCode:%d", t.ExitCode)
			case c.Ready && c.State.Running != nil:
				running = true
				s.ready++
			}
		}
		if s.reason == "Completed" && running {
			s.reason = "NotReady"
			if c := podCondition(p, corev1.PodReady); c != nil && c.Status == corev1.ConditionTrue {
				s.reason = "Running"
			}
		}
	}

	terminal := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	switch {
	case p.DeletionTimestamp != nil && p.Status.Reason == nodeUnreachableReason:
		s.reason = "Unknown"
	case p.DeletionTimestamp != nil && !terminal:
		s.reason = "Terminating"
	}
	return s
}

// latest moves *at forward to t's finish time when that is later.
func latest(at *metav1.Time, t *corev1.ContainerStateTerminated) {
	if t != nil && at.Before(&t.FinishedAt) {
		*at = t.FinishedAt
	}
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
