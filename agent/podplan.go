package agent

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// actionKind names what the loop must do.
type actionKind string

// The actions the planner asks for.
const (
	actAdmit    actionKind = "Admit"
	actReject   actionKind = "Reject"
	actSandbox  actionKind = "CreateSandbox"
	actStart    actionKind = "Start"
	actKill     actionKind = "Kill"
	actRemove   actionKind = "RemoveContainer"
	actTeardown actionKind = "Teardown"
	// actRefresh rewrites a running pod's volumes; the loop asks for it
	// on a timer, not the planner.
	actRefresh actionKind = "RefreshVolumes"
)

// action is one step for one pod; a pod's actions run in order.
type action struct {
	Kind actionKind
	UID  string
	// Container is the container's name; Init marks an init container.
	Container string
	Init      bool
	// Attempt and Streak are the start's attempt number and back-off
	// streak.
	Attempt, Streak int
	// ID is the runtime container a kill or remove is for.
	ID    string
	Grace time.Duration
	// Reason and Message explain a kill or rejection.
	Reason, Message string
}

func (a action) String() string {
	s := string(a.Kind) + " " + a.UID
	if a.Container != "" {
		s += "/" + a.Container
	}
	if a.Kind == actStart {
		s += fmt.Sprintf("#%d", a.Attempt)
	}
	return s
}

// world is everything the planner decides from.
type world struct {
	Now    time.Time
	BootID string
	// Allocatable is the node's allocatable resources.
	Allocatable corev1.ResourceList
	// Pods are the node's pods by UID, desired and deleted.
	Pods map[string]*podState
	// Containers are what the runtime reports.
	Containers []ContainerState
	// Unhealthy are running container IDs whose liveness probe failed.
	Unhealthy map[string]string
	// Started holds the startup probe verdicts of running containers
	// that have one, by ID.
	Started map[string]bool
}

// decide is the pod lifecycle planner: from the node's pods and the
// runtime's containers at now it returns the actions that move them
// toward their specs. It does no I/O.
func decide(w world) []action {
	obs := byPodAndName(w.Containers)
	uids := make([]string, 0, len(w.Pods))
	for uid := range w.Pods {
		uids = append(uids, uid)
	}
	sort.Slice(uids, func(i, j int) bool {
		a, b := w.Pods[uids[i]].Pod, w.Pods[uids[j]].Pod
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return uids[i] < uids[j]
	})
	used := corev1.ResourceList{}
	for _, uid := range uids {
		if st := w.Pods[uid]; st.Admitted && !st.Deleted && st.Rejected == nil {
			addRequests(used, st.Pod)
		}
	}
	var out []action
	for _, uid := range uids {
		st := w.Pods[uid]
		if st.Deleted {
			out = append(out, planStop(uid, st, obs[uid])...)
			continue
		}
		if st.Rejected != nil {
			// A failed pod keeps nothing running.
			out = append(out, killAll(uid, st, obs[uid])...)
			continue
		}
		if d := st.Pod.Spec.ActiveDeadlineSeconds; d != nil && st.Admitted && !st.StartTime.IsZero() &&
			w.Now.Sub(st.StartTime) >= time.Duration(*d)*time.Second {
			out = append(out, action{Kind: actReject, UID: uid, Reason: "DeadlineExceeded",
				Message: fmt.Sprintf("Pod was active on the node longer than the specified deadline (%ds)", *d)})
			continue
		}
		if !st.Admitted {
			if r, msg := admission(st.Pod, used, w.Allocatable); r != "" {
				out = append(out, action{Kind: actReject, UID: uid, Reason: r, Message: msg})
				continue
			}
			addRequests(used, st.Pod)
			out = append(out, action{Kind: actAdmit, UID: uid})
		}
		out = append(out, planPod(uid, st, obs[uid], w)...)
	}
	for uid, m := range obs {
		if _, known := w.Pods[uid]; !known {
			out = append(out, planStop(uid, &podState{Pod: &corev1.Pod{}}, m)...)
		}
	}
	return out
}

func addRequests(used corev1.ResourceList, p *corev1.Pod) {
	for name, q := range resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}) {
		cur := used[name]
		cur.Add(q)
		used[name] = cur
	}
}

// admission checks a pod's cpu and memory requests against what the
// node's admitted pods leave; it returns the kubelet's reason and
// message when the pod does not fit.
func admission(p *corev1.Pod, used, alloc corev1.ResourceList) (string, string) {
	if alloc == nil {
		return "", ""
	}
	req := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		want, ok := req[name]
		capacity, known := alloc[name]
		if !ok || !known {
			continue
		}
		have := used[name]
		total := have.DeepCopy()
		total.Add(want)
		if total.Cmp(capacity) > 0 {
			reason := "OutOf" + string(name)
			return reason, fmt.Sprintf("Pod was rejected: Node didn't have enough resource: %s, requested: %s, used: %s, capacity: %s",
				name, amount(name, want), amount(name, have), amount(name, capacity))
		}
	}
	return "", ""
}

func amount(name corev1.ResourceName, q resource.Quantity) string {
	if name == corev1.ResourceCPU {
		return fmt.Sprint(q.MilliValue())
	}
	return fmt.Sprint(q.Value())
}

// planStop stops a deleted pod: kill what runs (gracefully), then tear the
// sandbox down and forget the pod.
func planStop(uid string, st *podState, obs map[string]history) []action {
	return append(killAll(uid, st, obs), action{Kind: actTeardown, UID: uid})
}

// killAll stops every running container of the pod, gracefully: the
// containers first, then the sidecars in reverse order.
func killAll(uid string, st *podState, obs map[string]history) []action {
	var out []action
	grace := gracePeriod(st.Pod)
	for _, n := range stopOrder(st.Pod, obs) {
		for _, c := range obs[n] {
			if c.Running {
				out = append(out, action{Kind: actKill, UID: uid, Container: n, ID: c.ID, Grace: grace, Reason: "Killing",
					Message: "Stopping container " + n})
			}
		}
	}
	return out
}

// planPod moves one admitted pod on: sandbox, init containers one at a
// time (each to completion, or a sidecar until it started), then the
// containers beside the sidecars, which are kept running until the pod
// is done.
func planPod(uid string, st *podState, obs map[string]history, w world) []action {
	if st.Sandbox.BootID != w.BootID {
		return []action{{Kind: actSandbox, UID: uid}}
	}
	var out []action
	// Drop exited attempts older than the two the status shows.
	for name, h := range obs {
		for _, c := range h[min(len(h), 2):] {
			if !c.Running {
				out = append(out, action{Kind: actRemove, UID: uid, Container: name, ID: c.ID})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	pod := st.Pod
	policy := pod.Spec.RestartPolicy
	initDone := initialized(pod, obs, w.Started)
	if podDone(pod, obs, initDone) {
		return append(out, stopSidecars(uid, st, obs)...)
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		last := obs[c.Name].latest()
		if isSidecar(c) {
			if a, ok := planContainer(uid, st, *c, true, last, corev1.RestartPolicyAlways, w); ok {
				out = append(out, a)
			}
			if !initDone && !sidecarStarted(c, last, w.Started) {
				return out
			}
			continue
		}
		if initDone || last != nil && !last.Running && last.ExitCode == 0 {
			continue
		}
		initPolicy := policy
		if initPolicy == corev1.RestartPolicyAlways {
			initPolicy = corev1.RestartPolicyOnFailure
		}
		if a, ok := planContainer(uid, st, *c, true, last, initPolicy, w); ok {
			out = append(out, a)
		}
		return out
	}
	for _, c := range pod.Spec.Containers {
		if a, ok := planContainer(uid, st, c, false, obs[c.Name].latest(), policy, w); ok {
			out = append(out, a)
		}
	}
	return out
}

// planContainer decides for one container given its latest attempt.
func planContainer(uid string, st *podState, c corev1.Container, init bool, last *ContainerState, policy corev1.RestartPolicy, w world) (action, bool) {
	name := c.Name
	rec := st.Containers[name]
	if rec == nil {
		rec = &containerRecord{}
	}
	start := action{Kind: actStart, UID: uid, Container: name, Init: init, Attempt: rec.NextAttempt}
	if last != nil && last.Attempt+1 > start.Attempt {
		start.Attempt = last.Attempt + 1
	}
	if f := rec.Failure; f != nil && (last == nil || !f.At.Before(last.FinishedAt)) {
		// A start that failed before a container existed: retry on back-off.
		if w.Now.Before(f.At.Add(backoffDelay(rec.Streak))) {
			return action{}, false
		}
		start.Streak = rec.Streak + 1
		return start, true
	}
	switch {
	case last == nil:
		return start, true
	case last.Running:
		if msg, bad := w.Unhealthy[last.ID]; bad {
			return action{Kind: actKill, UID: uid, Container: name, ID: last.ID, Grace: gracePeriod(st.Pod),
				Reason: "Unhealthy", Message: msg}, true
		}
		if rec.Image != "" && rec.Image != c.Image {
			return action{Kind: actKill, UID: uid, Container: name, ID: last.ID, Grace: gracePeriod(st.Pod),
				Reason: "Killing", Message: fmt.Sprintf("Container %s definition changed, will be restarted", name)}, true
		}
		return action{}, false
	}
	if !shouldRestart(policy, last.ExitCode) {
		return action{}, false
	}
	at, streak := restartAfter(rec.Streak, last.StartedAt, last.FinishedAt)
	if w.Now.Before(at) {
		return action{}, false
	}
	start.Streak = streak + 1
	return start, true
}

// shouldRestart applies the restart policy to an exit code.
func shouldRestart(policy corev1.RestartPolicy, code int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}
