package agent

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// isSidecar reports an init container with restartPolicy Always: it starts
// in order with the init containers, keeps running beside the containers
// and is restarted whenever it exits.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// sidecarStarted reports a sidecar whose latest attempt runs and has
// passed its startup probe (or has none); started holds the startup
// verdicts of running containers by ID.
func sidecarStarted(c *corev1.Container, last *ContainerState, started map[string]bool) bool {
	if last == nil || !last.Running {
		return false
	}
	return c.StartupProbe == nil || started[last.ID]
}

// initialized reports a pod whose init containers all succeeded and whose
// sidecars all started, or one whose containers already ran (so init
// containers are not rerun).
func initialized(pod *corev1.Pod, obs map[string]history, started map[string]bool) bool {
	for _, c := range pod.Spec.Containers {
		if len(obs[c.Name]) > 0 {
			return true
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		last := obs[c.Name].latest()
		if isSidecar(c) {
			if !sidecarStarted(c, last, started) {
				return false
			}
			continue
		}
		if last == nil || last.Running || last.ExitCode != 0 {
			return false
		}
	}
	return true
}

// podDone reports a pod that will run nothing more: an init container
// failed under restartPolicy Never, or every container has exited and
// the restart policy restarts none of them. Its sidecars are then
// stopped.
func podDone(pod *corev1.Pod, obs map[string]history, initDone bool) bool {
	policy := pod.Spec.RestartPolicy
	if !initDone {
		if policy != corev1.RestartPolicyNever {
			return false
		}
		for i := range pod.Spec.InitContainers {
			c := &pod.Spec.InitContainers[i]
			last := obs[c.Name].latest()
			if !isSidecar(c) && last != nil && !last.Running && last.ExitCode != 0 {
				return true
			}
		}
		return false
	}
	if policy == corev1.RestartPolicyAlways {
		return false
	}
	for _, c := range pod.Spec.Containers {
		last := obs[c.Name].latest()
		if last == nil || last.Running || shouldRestart(policy, last.ExitCode) {
			return false
		}
	}
	return true
}

// stopOrder lists the pod's observed container names in the order a
// stopping pod stops them: containers (and anything not a sidecar) by
// name first, then the sidecars in reverse order of the spec.
func stopOrder(pod *corev1.Pod, obs map[string]history) []string {
	sidecars := map[string]bool{}
	var tail []string
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := &pod.Spec.InitContainers[i]
		if isSidecar(c) {
			sidecars[c.Name] = true
			if len(obs[c.Name]) > 0 {
				tail = append(tail, c.Name)
			}
		}
	}
	var head []string
	for n := range obs {
		if !sidecars[n] {
			head = append(head, n)
		}
	}
	sort.Strings(head)
	return append(head, tail...)
}

// stopSidecars kills the running sidecars of a finished pod, last first.
func stopSidecars(uid string, st *podState, obs map[string]history) []action {
	var out []action
	for i := len(st.Pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := &st.Pod.Spec.InitContainers[i]
		if !isSidecar(c) {
			continue
		}
		for _, h := range obs[c.Name] {
			if h.Running {
				out = append(out, action{Kind: actKill, UID: uid, Container: c.Name, ID: h.ID, Grace: gracePeriod(st.Pod),
					Reason: "Killing", Message: "Stopping container " + c.Name})
			}
		}
	}
	return out
}
