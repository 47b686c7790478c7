package agent

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func condStatus(st corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestPodStatus_phasesAndConditions(t *testing.T) {
	readyProbe := testPod("u", corev1.RestartPolicyAlways, nil, "a")
	readyProbe.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
	crashing := admitted(testPod("u", corev1.RestartPolicyAlways, nil, "a"))
	crashing.record("a").Streak = 2
	pulling := admitted(testPod("u", corev1.RestartPolicyAlways, nil, "a"))
	pulling.record("a").Failure = &failure{Reason: "ErrImagePull", Message: "manifest unknown", At: t0}
	pulling.record("a").Streak = 1
	rejected := &podState{Pod: testPod("u", "Always", nil, "a"), Rejected: &failure{Reason: "OutOfmemory", Message: "no room"}}
	tests := []struct {
		name      string
		st        *podState
		obs       []ContainerState
		pv        probeView
		now       time.Time
		phase     corev1.PodPhase
		ready     corev1.ConditionStatus
		init      corev1.ConditionStatus
		state     string
		restarts  int32
		lastState bool
	}{
		{"no container yet", admitted(testPod("u", "Always", nil, "a")), nil, probeView{}, t0,
			corev1.PodPending, "False", "True", "ContainerCreating", 0, false},
		{"init running", admitted(testPod("u", "Always", []string{"i"}, "a")), []ContainerState{running("u", "i", 0, "c1", t0)}, probeView{}, t0,
			corev1.PodPending, "False", "False", "PodInitializing", 0, false},
		{"running and ready", admitted(testPod("u", "Always", nil, "a")), []ContainerState{running("u", "a", 0, "c1", t0)}, probeView{}, t0,
			corev1.PodRunning, "True", "True", "running", 0, false},
		{"readiness probe not passed", admitted(readyProbe), []ContainerState{running("u", "a", 0, "c1", t0)}, probeView{}, t0,
			corev1.PodRunning, "False", "True", "running", 0, false},
		{"readiness probe passed", admitted(readyProbe), []ContainerState{running("u", "a", 0, "c1", t0)}, probeView{Ready: map[string]bool{"c1": true}}, t0,
			corev1.PodRunning, "True", "True", "running", 0, false},
		{"crash loop back-off", crashing, []ContainerState{exited("u", "a", 0, "c1", 1, t0, t0), exited("u", "a", 2, "c3", 1, t0, t0)}, probeView{}, t0.Add(time.Second),
			corev1.PodRunning, "False", "True", "CrashLoopBackOff", 2, true},
		{"completed under Never", admitted(testPod("u", "Never", nil, "a")), []ContainerState{exited("u", "a", 0, "c1", 0, t0, t0)}, probeView{}, t0,
			corev1.PodSucceeded, "False", "True", "Completed", 0, false},
		{"failed under Never", admitted(testPod("u", "Never", nil, "a")), []ContainerState{exited("u", "a", 0, "c1", 3, t0, t0)}, probeView{}, t0,
			corev1.PodFailed, "False", "True", "Error", 0, false},
		{"image pull back-off", pulling, nil, probeView{}, t0.Add(time.Second),
			corev1.PodPending, "False", "True", "ImagePullBackOff", 0, false},
		{"image pull retry due", pulling, nil, probeView{}, t0.Add(time.Minute),
			corev1.PodPending, "False", "True", "ErrImagePull", 0, false},
		{"rejected", rejected, nil, probeView{}, t0, corev1.PodFailed, "", "", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := podStatus(tt.st, byPodAndName(tt.obs)["u"], tt.pv, "192.0.2.1", corev1.PodStatus{QOSClass: corev1.PodQOSBestEffort}, tt.now)
			if st.Phase != tt.phase || condStatus(st, corev1.PodReady) != tt.ready || condStatus(st, corev1.PodInitialized) != tt.init {
				t.Fatalf("phase %s ready %s initialized %s, want %s %s %s", st.Phase, condStatus(st, corev1.PodReady),
					condStatus(st, corev1.PodInitialized), tt.phase, tt.ready, tt.init)
			}
			if st.QOSClass != corev1.PodQOSBestEffort || st.HostIP != "192.0.2.1" {
				t.Fatalf("qos %q hostIP %q", st.QOSClass, st.HostIP)
			}
			if tt.st.Rejected != nil {
				if st.Reason != "OutOfmemory" {
					t.Fatalf("reason %q", st.Reason)
				}
				return
			}
			cs := st.ContainerStatuses[0]
			var state string
			switch {
			case cs.State.Running != nil:
				state = "running"
			case cs.State.Waiting != nil:
				state = cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				state = cs.State.Terminated.Reason
			}
			if state != tt.state || cs.RestartCount != tt.restarts || (cs.LastTerminationState.Terminated != nil) != tt.lastState {
				t.Fatalf("container %+v, want state %s restarts %d", cs, tt.state, tt.restarts)
			}
		})
	}
}

func TestPodStatus_keepsTransitionTimes(t *testing.T) {
	st := admitted(testPod("u", "Always", nil, "a"))
	obs := byPodAndName([]ContainerState{running("u", "a", 0, "c1", t0)})["u"]
	first := podStatus(st, obs, probeView{}, "", corev1.PodStatus{}, t0)
	later := podStatus(st, obs, probeView{}, "", first, t0.Add(time.Hour))
	for _, c := range later.Conditions {
		if !c.LastTransitionTime.Equal(&metav1.Time{Time: t0}) {
			t.Fatalf("%s moved to %v", c.Type, c.LastTransitionTime)
		}
	}
	oom := exited("u", "a", 0, "c1", 137, t0, t0)
	oom.OOMKilled = true
	never := admitted(testPod("u", "Never", nil, "a"))
	if st := podStatus(never, byPodAndName([]ContainerState{oom})["u"], probeView{}, "", first, t0); st.ContainerStatuses[0].State.Terminated.Reason != "OOMKilled" {
		t.Fatalf("OOM kill reported as %+v", st.ContainerStatuses[0].State)
	}
	crash := podStatus(st, byPodAndName([]ContainerState{exited("u", "a", 0, "c1", 1, t0, t0)})["u"], probeView{}, "", first, t0)
	if id := crash.ContainerStatuses[0].ContainerID; !strings.HasPrefix(id, "keel://") {
		t.Fatalf("container ID %q", id)
	}
}
