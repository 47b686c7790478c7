package agent

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// probeView is what the prober knows of running containers, by ID.
type probeView struct {
	// Ready holds readiness results of containers with a readiness probe.
	Ready map[string]bool
	// Started holds startup results of containers with a startup probe.
	Started map[string]bool
}

// podStatus is the pod's status as the node sees it at now; prev is the
// status in the API, whose condition transition times, QoS class and
// other fields the node does not own are kept.
func podStatus(st *podState, obs map[string]history, pv probeView, hostIP string, prev corev1.PodStatus, now time.Time) corev1.PodStatus {
	pod := st.Pod
	out := corev1.PodStatus{QOSClass: prev.QOSClass, NominatedNodeName: prev.NominatedNodeName}
	if hostIP != "" {
		out.HostIP = hostIP
		out.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	if !st.StartTime.IsZero() {
		t := metav1.NewTime(st.StartTime)
		out.StartTime = &t
	}
	for i, ip := range st.Sandbox.PodIPs {
		if i == 0 {
			out.PodIP = ip
		}
		out.PodIPs = append(out.PodIPs, corev1.PodIP{IP: ip})
	}
	if pod.Spec.HostNetwork && hostIP != "" {
		out.PodIP, out.PodIPs = hostIP, []corev1.PodIP{{IP: hostIP}}
	}
	if st.Rejected != nil {
		out.Phase, out.Reason, out.Message = corev1.PodFailed, st.Rejected.Reason, st.Rejected.Message
		out.Conditions = conditions(prev.Conditions, now, cond(corev1.PodScheduled, true, "", ""))
		return out
	}
	initDone := initialized(pod, obs, pv.Started)
	done := podDone(pod, obs, initDone)
	for _, c := range pod.Spec.InitContainers {
		out.InitContainerStatuses = append(out.InitContainerStatuses,
			containerStatus(st, c, true, obs[c.Name], pv, "PodInitializing", done, now))
	}
	waitReason := "ContainerCreating"
	if !initDone {
		waitReason = "PodInitializing"
	}
	for _, c := range pod.Spec.Containers {
		out.ContainerStatuses = append(out.ContainerStatuses,
			containerStatus(st, c, false, obs[c.Name], pv, waitReason, done, now))
	}
	out.Phase = podPhase(pod, out.InitContainerStatuses, out.ContainerStatuses, initDone)

	// Sidecars count as initialized once started, and their readiness
	// counts for the pod's.
	var notInit, notReady []string
	for i, s := range out.InitContainerStatuses {
		sidecar := isSidecar(&pod.Spec.InitContainers[i])
		switch {
		case sidecar && (s.Started == nil || !*s.Started):
			notInit = append(notInit, s.Name)
		case !sidecar && (s.State.Terminated == nil || s.State.Terminated.ExitCode != 0):
			notInit = append(notInit, s.Name)
		}
		if sidecar && !s.Ready {
			notReady = append(notReady, s.Name)
		}
	}
	if initDone {
		notInit = nil
	}
	for _, s := range out.ContainerStatuses {
		if !s.Ready {
			notReady = append(notReady, s.Name)
		}
	}
	terminal := out.Phase == corev1.PodSucceeded || out.Phase == corev1.PodFailed
	ready := cond(corev1.ContainersReady, len(notReady) == 0, "ContainersNotReady",
		fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " ")))
	if terminal {
		ready = cond(corev1.ContainersReady, false, "PodCompleted", "")
	}
	podReady := ready
	podReady.Type = corev1.PodReady
	out.Conditions = conditions(prev.Conditions, now,
		cond(corev1.PodInitialized, len(notInit) == 0, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " "))),
		podReady, ready, cond(corev1.PodScheduled, true, "", ""))
	return out
}

func cond(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
}

// conditions stamps cs with transition times, kept from prev when a
// condition's status did not change; conditions others own are kept.
func conditions(prev []corev1.PodCondition, now time.Time, cs ...corev1.PodCondition) []corev1.PodCondition {
	mt := metav1.NewTime(now.Truncate(time.Second))
	own := map[corev1.PodConditionType]bool{}
	for i := range cs {
		own[cs[i].Type] = true
		cs[i].LastTransitionTime = mt
		for _, p := range prev {
			if p.Type == cs[i].Type && p.Status == cs[i].Status {
				cs[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	for _, p := range prev {
		if !own[p.Type] {
			cs = append(cs, p)
		}
	}
	return cs
}

// containerStatus reports one container from its attempts, newest first;
// done marks a pod that restarts nothing any more.
func containerStatus(st *podState, c corev1.Container, init bool, h history, pv probeView, waitReason string, done bool, now time.Time) corev1.ContainerStatus {
	sidecar := init && isSidecar(&c)
	rec := st.Containers[c.Name]
	if rec == nil {
		rec = &containerRecord{}
	}
	s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: rec.ImageID}
	if rec.Image != "" {
		s.Image = rec.Image
	}
	f := false
	s.Started = &f
	last := h.latest()
	if last != nil {
		s.RestartCount = int32(last.Attempt)
		s.ContainerID = "keel://" + last.ID
	}
	failed := rec.Failure
	if failed != nil && last != nil && failed.At.Before(last.FinishedAt) {
		failed = nil
	}
	switch {
	case failed != nil:
		reason, msg := failed.Reason, failed.Message
		if now.Before(failed.At.Add(backoffDelay(rec.Streak))) {
			switch reason {
			case "ErrImagePull":
				reason, msg = "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q: %s", c.Image, failed.Message)
			case "RunContainerError", "StartError":
				reason = "CrashLoopBackOff"
			}
		}
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		if last != nil {
			s.LastTerminationState.Terminated = terminated(last)
		}
	case last == nil:
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: waitReason}
	case last.Running:
		s.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(last.StartedAt)}
		started := true
		if c.StartupProbe != nil {
			started = pv.Started[last.ID]
		}
		s.Started = &started
		s.Ready = started
		if c.ReadinessProbe != nil {
			s.Ready = started && pv.Ready[last.ID]
		}
		if init && !sidecar {
			s.Ready = false
		}
		if len(h) > 1 {
			s.LastTerminationState.Terminated = terminated(&h[1])
		}
	default:
		policy := st.Pod.Spec.RestartPolicy
		switch {
		case sidecar && done:
			policy = corev1.RestartPolicyNever
		case sidecar:
			policy = corev1.RestartPolicyAlways
		case init && policy == corev1.RestartPolicyAlways:
			policy = corev1.RestartPolicyOnFailure
		}
		at, streak := restartAfter(rec.Streak, last.StartedAt, last.FinishedAt)
		if shouldRestart(policy, last.ExitCode) && now.Before(at) {
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
					backoffDelay(streak), c.Name, st.Pod.Name, st.Pod.Namespace, st.Pod.UID)}
			s.LastTerminationState.Terminated = terminated(last)
		} else {
			s.State.Terminated = terminated(last)
			if len(h) > 1 {
				s.LastTerminationState.Terminated = terminated(&h[1])
			}
		}
		if init && !sidecar && last.ExitCode == 0 {
			s.Ready = true
		}
	}
	return s
}

func terminated(c *ContainerState) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{ExitCode: int32(c.ExitCode), Reason: c.Reason, Message: c.Message,
		StartedAt: metav1.NewTime(c.StartedAt), FinishedAt: metav1.NewTime(c.FinishedAt), ContainerID: "keel://" + c.ID}
	switch {
	case c.OOMKilled:
		t.Reason = "OOMKilled"
	case t.Reason != "":
	case c.ExitCode == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return t
}

// podPhase follows the kubelet: pending until initialized and every
// container has run once; then running while any runs or will restart;
// then succeeded or failed.
func podPhase(pod *corev1.Pod, inits, cs []corev1.ContainerStatus, initDone bool) corev1.PodPhase {
	never := pod.Spec.RestartPolicy == corev1.RestartPolicyNever
	if !initDone {
		for i, s := range inits {
			if never && !isSidecar(&pod.Spec.InitContainers[i]) && s.State.Terminated != nil && s.State.Terminated.ExitCode != 0 {
				return corev1.PodFailed
			}
		}
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, s := range cs {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.LastTerminationState.Terminated != nil:
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped == 0:
		return corev1.PodPending
	case pod.Spec.RestartPolicy == corev1.RestartPolicyAlways:
		return corev1.PodRunning
	case stopped == succeeded:
		return corev1.PodSucceeded
	case never:
		return corev1.PodFailed
	}
	return corev1.PodRunning
}
