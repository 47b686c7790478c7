package agent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// sidecarPod is a pod whose init containers named in sidecars have
// restartPolicy Always; probed ones get a startup probe.
func sidecarPod(policy corev1.RestartPolicy, inits []string, sidecars map[string]bool, probed map[string]bool, names ...string) *corev1.Pod {
	p := testPod("u", policy, inits, names...)
	always := corev1.ContainerRestartPolicyAlways
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if sidecars[c.Name] {
			c.RestartPolicy = &always
		}
		if probed[c.Name] {
			c.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}
	}
	return p
}

func TestDecide_sidecars(t *testing.T) {
	side := map[string]bool{"s1": true, "s2": true}
	probed := map[string]bool{"s1": true}
	deleted := func(st *podState) *podState { st.Deleted = true; return st }
	streak := func(st *podState, name string, n int) *podState { st.record(name).Streak = n; return st }
	tests := []struct {
		name    string
		st      *podState
		obs     []ContainerState
		now     time.Time
		started map[string]bool
		bad     map[string]string
		want    string
	}{
		{"sidecar starts first, alone",
			admitted(sidecarPod("Always", []string{"s2", "i1"}, side, nil, "a")), nil, t0, nil, nil,
			"Start u/s2#0"},
		{"running sidecar without startup probe lets the next init container start",
			admitted(sidecarPod("Always", []string{"s2", "i1"}, side, nil, "a")),
			[]ContainerState{running("u", "s2", 0, "c1", t0)}, t0, nil, nil,
			"Start u/i1#0"},
		{"sidecar waits for its startup probe",
			admitted(sidecarPod("Always", []string{"s1", "i1"}, side, probed, "a")),
			[]ContainerState{running("u", "s1", 0, "c1", t0)}, t0, nil, nil,
			""},
		{"sidecar that passed its startup probe lets the next start",
			admitted(sidecarPod("Always", []string{"s1", "i1"}, side, probed, "a")),
			[]ContainerState{running("u", "s1", 0, "c1", t0)}, t0, map[string]bool{"c1": true}, nil,
			"Start u/i1#0"},
		{"containers start beside a running sidecar once init containers completed",
			admitted(sidecarPod("Always", []string{"s2", "i1"}, side, nil, "a", "b")),
			[]ContainerState{running("u", "s2", 0, "c1", t0), exited("u", "i1", 0, "c2", 0, t0, t0)}, t0, nil, nil,
			"Start u/a#0, Start u/b#0"},
		{"sidecars start in order",
			admitted(sidecarPod("Always", []string{"s2", "s1"}, side, nil, "a")),
			[]ContainerState{running("u", "s2", 0, "c1", t0)}, t0, nil, nil,
			"Start u/s1#0"},
		{"exited sidecar restarts even under Never",
			admitted(sidecarPod("Never", []string{"s2"}, side, nil, "a")),
			[]ContainerState{exited("u", "s2", 0, "c1", 0, t0, t0), running("u", "a", 0, "c2", t0)}, t0, nil, nil,
			"Start u/s2#1"},
		{"crashing sidecar backs off",
			streak(admitted(sidecarPod("Always", []string{"s2"}, side, nil, "a")), "s2", 1),
			[]ContainerState{exited("u", "s2", 1, "c1", 1, t0, t0.Add(time.Second)), running("u", "a", 0, "c2", t0)},
			t0.Add(5 * time.Second), nil, nil, ""},
		{"crashing sidecar restarts after back-off",
			streak(admitted(sidecarPod("Always", []string{"s2"}, side, nil, "a")), "s2", 1),
			[]ContainerState{exited("u", "s2", 1, "c1", 1, t0, t0.Add(time.Second)), running("u", "a", 0, "c2", t0)},
			t0.Add(11 * time.Second), nil, nil, "Start u/s2#2"},
		{"exited sidecar before initialization blocks later init containers",
			admitted(sidecarPod("Always", []string{"s2", "i1"}, side, nil, "a")),
			[]ContainerState{exited("u", "s2", 0, "c1", 1, t0, t0)}, t0, nil, nil,
			"Start u/s2#1"},
		{"sidecar failing liveness is killed",
			admitted(sidecarPod("Always", []string{"s2"}, side, nil, "a")),
			[]ContainerState{running("u", "s2", 0, "c1", t0), running("u", "a", 0, "c2", t0)}, t0, nil, map[string]string{"c1": "probe failed"},
			"Kill u/s2"},
		{"job completes: sidecars stop, last first",
			admitted(sidecarPod("Never", []string{"s1", "i1", "s2"}, side, nil, "a")),
			[]ContainerState{running("u", "s1", 0, "c1", t0), exited("u", "i1", 0, "c2", 0, t0, t0),
				running("u", "s2", 0, "c3", t0), exited("u", "a", 0, "c4", 0, t0, t0)}, t0, nil, nil,
			"Kill u/s2, Kill u/s1"},
		{"OnFailure job with a failed container keeps its sidecar",
			admitted(sidecarPod("OnFailure", []string{"s2"}, side, nil, "a")),
			[]ContainerState{running("u", "s2", 0, "c1", t0), exited("u", "a", 0, "c4", 1, t0, t0)}, t0, nil, nil,
			"Start u/a#1"},
		{"OnFailure job that succeeded stops its sidecar",
			admitted(sidecarPod("OnFailure", []string{"s2"}, side, nil, "a")),
			[]ContainerState{running("u", "s2", 0, "c1", t0), exited("u", "a", 0, "c4", 0, t0, t0)}, t0, nil, nil,
			"Kill u/s2"},
		{"failed init container under Never stops the sidecars",
			admitted(sidecarPod("Never", []string{"s2", "i1"}, side, nil, "a")),
			[]ContainerState{running("u", "s2", 0, "c1", t0), exited("u", "i1", 0, "c2", 1, t0, t0)}, t0, nil, nil,
			"Kill u/s2"},
		{"done job does not restart an exited sidecar",
			admitted(sidecarPod("Never", []string{"s2"}, side, nil, "a")),
			[]ContainerState{exited("u", "s2", 0, "c1", 137, t0, t0), exited("u", "a", 0, "c4", 0, t0, t0)}, t0, nil, nil,
			""},
		{"deletion stops containers first, then sidecars in reverse order",
			deleted(admitted(sidecarPod("Always", []string{"s1", "i1", "s2"}, side, nil, "zz", "a"))),
			[]ContainerState{running("u", "s1", 0, "c1", t0), exited("u", "i1", 0, "c2", 0, t0, t0),
				running("u", "s2", 0, "c3", t0), running("u", "a", 0, "c4", t0), running("u", "zz", 0, "c5", t0)}, t0, nil, nil,
			"Kill u/a, Kill u/zz, Kill u/s2, Kill u/s1, Teardown u"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(world{Now: tt.now, BootID: "b1", Pods: map[string]*podState{"u": tt.st}, Containers: tt.obs,
				Unhealthy: tt.bad, Started: tt.started})
			if s := kinds(got); s != tt.want {
				t.Fatalf("actions %q, want %q", s, tt.want)
			}
		})
	}
}

func TestPodStatus_sidecars(t *testing.T) {
	side := map[string]bool{"s1": true}
	p := sidecarPod("Always", []string{"s1"}, side, side, "a")
	p.Spec.InitContainers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	st := admitted(p)
	obs := []ContainerState{running("u", "s1", 0, "c1", t0), running("u", "a", 0, "c2", t0)}
	tests := []struct {
		name              string
		pv                probeView
		obs               []ContainerState
		started, ready    bool
		podInit, podReady corev1.ConditionStatus
	}{
		{"not started", probeView{}, obs[:1], false, false, "False", "False"},
		{"started, not ready", probeView{Started: map[string]bool{"c1": true}}, obs, true, false, "True", "False"},
		{"started and ready", probeView{Started: map[string]bool{"c1": true}, Ready: map[string]bool{"c1": true}}, obs, true, true, "True", "True"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := podStatus(st, byPodAndName(tt.obs)["u"], tt.pv, "", corev1.PodStatus{}, t0)
			ics := s.InitContainerStatuses[0]
			if ics.Started == nil || *ics.Started != tt.started || ics.Ready != tt.ready || ics.State.Running == nil {
				t.Fatalf("sidecar status %+v, want started %v ready %v running", ics, tt.started, tt.ready)
			}
			if condStatus(s, corev1.PodInitialized) != tt.podInit || condStatus(s, corev1.PodReady) != tt.podReady {
				t.Fatalf("initialized %s ready %s, want %s %s", condStatus(s, corev1.PodInitialized), condStatus(s, corev1.PodReady), tt.podInit, tt.podReady)
			}
		})
	}

	job := admitted(sidecarPod("Never", []string{"s1"}, side, nil, "a"))
	done := podStatus(job, byPodAndName([]ContainerState{running("u", "s1", 0, "c1", t0), exited("u", "a", 0, "c2", 0, t0, t0)})["u"],
		probeView{}, "", corev1.PodStatus{}, t0)
	if done.Phase != corev1.PodSucceeded {
		t.Fatalf("job with a running sidecar: phase %s, want Succeeded", done.Phase)
	}
	stopped := podStatus(job, byPodAndName([]ContainerState{exited("u", "s1", 0, "c1", 143, t0, t0), exited("u", "a", 0, "c2", 0, t0, t0)})["u"],
		probeView{}, "", corev1.PodStatus{}, t0)
	if stopped.Phase != corev1.PodSucceeded || stopped.InitContainerStatuses[0].State.Terminated == nil {
		t.Fatalf("stopped sidecar of a done job: phase %s, status %+v", stopped.Phase, stopped.InitContainerStatuses[0].State)
	}
	crash := admitted(sidecarPod("Never", []string{"s1"}, side, nil, "a"))
	crash.record("s1").Streak = 1
	cs := podStatus(crash, byPodAndName([]ContainerState{exited("u", "s1", 1, "c1", 1, t0, t0), running("u", "a", 0, "c2", t0)})["u"],
		probeView{}, "", corev1.PodStatus{}, t0.Add(time.Second))
	if w := cs.InitContainerStatuses[0].State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" || cs.Phase != corev1.PodRunning {
		t.Fatalf("crashing sidecar of a running pod: %+v, phase %s", cs.InitContainerStatuses[0].State, cs.Phase)
	}
}
