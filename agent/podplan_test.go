package agent

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testPod(uid string, policy corev1.RestartPolicy, inits []string, names ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-" + uid, Namespace: "default", UID: types.UID(uid),
		CreationTimestamp: metav1.NewTime(t0)}}
	p.Spec.RestartPolicy = policy
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: "busybox:1"})
	}
	for _, n := range names {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "busybox:1"})
	}
	return p
}

func admitted(p *corev1.Pod) *podState {
	return &podState{Pod: p, Admitted: true, Sandbox: sandboxInfo{BootID: "b1"}}
}

func running(uid, name string, attempt int, id string, since time.Time) ContainerState {
	return ContainerState{ID: id, PodUID: uid, Name: name, Attempt: attempt, Running: true, StartedAt: since}
}

func exited(uid, name string, attempt int, id string, code int, started, finished time.Time) ContainerState {
	return ContainerState{ID: id, PodUID: uid, Name: name, Attempt: attempt, ExitCode: code, StartedAt: started, FinishedAt: finished}
}

func kinds(as []action) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

func TestDecide_lifecycle(t *testing.T) {
	withStreak := func(st *podState, name string, streak int) *podState {
		st.record(name).Streak = streak
		return st
	}
	deleted := func(st *podState) *podState { st.Deleted = true; return st }
	big := testPod("big", corev1.RestartPolicyAlways, nil, "a")
	big.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")}
	failed := admitted(testPod("u", corev1.RestartPolicyAlways, nil, "a"))
	failed.record("a").Failure = &failure{Reason: "ErrImagePull", At: t0}
	failed.record("a").Streak = 1
	tests := []struct {
		name string
		pods map[string]*podState
		obs  []ContainerState
		now  time.Time
		bad  map[string]string
		want string
	}{
		{"new pod is admitted and gets a sandbox",
			map[string]*podState{"u": {Pod: testPod("u", corev1.RestartPolicyAlways, nil, "a")}}, nil, t0, nil,
			"Admit u, CreateSandbox u"},
		{"sandbox from an earlier boot is recreated",
			map[string]*podState{"u": {Pod: testPod("u", "Always", nil, "a"), Admitted: true, Sandbox: sandboxInfo{BootID: "b0"}}},
			nil, t0, nil, "CreateSandbox u"},
		{"containers start together",
			map[string]*podState{"u": admitted(testPod("u", "Always", nil, "a", "b"))}, nil, t0, nil,
			"Start u/a#0, Start u/b#0"},
		{"first init container runs alone",
			map[string]*podState{"u": admitted(testPod("u", "Always", []string{"i1", "i2"}, "a"))}, nil, t0, nil,
			"Start u/i1#0"},
		{"running init container blocks the next",
			map[string]*podState{"u": admitted(testPod("u", "Always", []string{"i1", "i2"}, "a"))},
			[]ContainerState{running("u", "i1", 0, "c1", t0)}, t0, nil, ""},
		{"succeeded init container lets the next run",
			map[string]*podState{"u": admitted(testPod("u", "Always", []string{"i1", "i2"}, "a"))},
			[]ContainerState{exited("u", "i1", 0, "c1", 0, t0, t0)}, t0, nil, "Start u/i2#0"},
		{"all init done starts containers",
			map[string]*podState{"u": admitted(testPod("u", "Always", []string{"i1"}, "a"))},
			[]ContainerState{exited("u", "i1", 0, "c1", 0, t0, t0)}, t0, nil, "Start u/a#0"},
		{"failed init container restarts under Always",
			map[string]*podState{"u": admitted(testPod("u", "Always", []string{"i1"}, "a"))},
			[]ContainerState{exited("u", "i1", 0, "c1", 1, t0, t0)}, t0, nil, "Start u/i1#1"},
		{"failed init container under Never stops the pod",
			map[string]*podState{"u": admitted(testPod("u", "Never", []string{"i1"}, "a"))},
			[]ContainerState{exited("u", "i1", 0, "c1", 1, t0, t0)}, t0, nil, ""},
		{"running container is left alone (adoption)",
			map[string]*podState{"u": admitted(testPod("u", "Always", nil, "a"))},
			[]ContainerState{running("u", "a", 3, "c9", t0)}, t0, nil, ""},
		{"first crash restarts at once",
			map[string]*podState{"u": admitted(testPod("u", "Always", nil, "a"))},
			[]ContainerState{exited("u", "a", 0, "c1", 1, t0, t0.Add(time.Second))}, t0.Add(time.Second), nil, "Start u/a#1"},
		{"second crash waits 10s",
			map[string]*podState{"u": withStreak(admitted(testPod("u", "Always", nil, "a")), "a", 1)},
			[]ContainerState{exited("u", "a", 1, "c2", 1, t0, t0.Add(time.Second))}, t0.Add(10 * time.Second), nil, ""},
		{"second crash restarts after 10s",
			map[string]*podState{"u": withStreak(admitted(testPod("u", "Always", nil, "a")), "a", 1)},
			[]ContainerState{exited("u", "a", 1, "c2", 1, t0, t0.Add(time.Second))}, t0.Add(11 * time.Second), nil, "Start u/a#2"},
		{"success is not restarted under OnFailure",
			map[string]*podState{"u": admitted(testPod("u", "OnFailure", nil, "a"))},
			[]ContainerState{exited("u", "a", 0, "c1", 0, t0, t0)}, t0, nil, ""},
		{"success is restarted under Always",
			map[string]*podState{"u": admitted(testPod("u", "Always", nil, "a"))},
			[]ContainerState{exited("u", "a", 0, "c1", 0, t0, t0)}, t0, nil, "Start u/a#1"},
		{"failure is not restarted under Never",
			map[string]*podState{"u": admitted(testPod("u", "Never", nil, "a"))},
			[]ContainerState{exited("u", "a", 0, "c1", 2, t0, t0)}, t0, nil, ""},
		{"old attempts are removed, two kept",
			map[string]*podState{"u": admitted(testPod("u", "Always", nil, "a"))},
			[]ContainerState{exited("u", "a", 0, "c1", 1, t0, t0), exited("u", "a", 1, "c2", 1, t0, t0), running("u", "a", 2, "c3", t0)},
			t0, nil, "RemoveContainer u/a"},
		{"liveness failure kills the container",
			map[string]*podState{"u": admitted(testPod("u", "Always", nil, "a"))},
			[]ContainerState{running("u", "a", 0, "c1", t0)}, t0, map[string]string{"c1": "probe failed"}, "Kill u/a"},
		{"changed image kills the container",
			map[string]*podState{"u": func() *podState {
				st := admitted(testPod("u", "Always", nil, "a"))
				st.record("a").Image = "busybox:0"
				return st
			}()},
			[]ContainerState{running("u", "a", 0, "c1", t0)}, t0, nil, "Kill u/a"},
		{"deleted pod is killed then torn down",
			map[string]*podState{"u": deleted(admitted(testPod("u", "Always", nil, "a", "b")))},
			[]ContainerState{running("u", "a", 0, "c1", t0), exited("u", "b", 0, "c2", 0, t0, t0)}, t0, nil,
			"Kill u/a, Teardown u"},
		{"unknown pod's containers are stopped",
			map[string]*podState{}, []ContainerState{running("x", "a", 0, "c1", t0)}, t0, nil, "Kill x/a, Teardown x"},
		{"pod asking for more memory than the node has is rejected",
			map[string]*podState{"big": {Pod: big}}, nil, t0, nil, "Reject big"},
		{"pod past its active deadline fails",
			map[string]*podState{"u": func() *podState {
				p := testPod("u", "Always", nil, "a")
				d := int64(60)
				p.Spec.ActiveDeadlineSeconds = &d
				st := admitted(p)
				st.StartTime = t0
				return st
			}()},
			[]ContainerState{running("u", "a", 0, "c1", t0)}, t0.Add(time.Minute), nil, "Reject u"},
		{"failed pod's containers are stopped",
			map[string]*podState{"u": func() *podState {
				st := admitted(testPod("u", "Always", nil, "a"))
				st.Rejected = &failure{Reason: "DeadlineExceeded"}
				return st
			}()},
			[]ContainerState{running("u", "a", 0, "c1", t0), exited("u", "a", 0, "c0", 1, t0, t0)}, t0, nil, "Kill u/a"},
		{"failed pull retries after back-off",
			map[string]*podState{"u": failed}, nil, t0.Add(10 * time.Second), nil, "Start u/a#0"},
		{"failed pull waits during back-off",
			map[string]*podState{"u": failed}, nil, t0.Add(9 * time.Second), nil, ""},
	}
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("4Gi")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(world{Now: tt.now, BootID: "b1", Allocatable: alloc, Pods: tt.pods, Containers: tt.obs, Unhealthy: tt.bad})
			if s := kinds(got); s != tt.want {
				t.Fatalf("actions %q, want %q", s, tt.want)
			}
		})
	}
}

func TestDecide_graceAndStreak(t *testing.T) {
	p := testPod("u", corev1.RestartPolicyAlways, nil, "a")
	g := int64(7)
	p.Spec.TerminationGracePeriodSeconds = &g
	st := admitted(p)
	st.Deleted = true
	got := decide(world{Now: t0, BootID: "b1", Pods: map[string]*podState{"u": st},
		Containers: []ContainerState{running("u", "a", 0, "c1", t0)}})
	if got[0].Grace != 7*time.Second {
		t.Fatalf("grace %v, want 7s", got[0].Grace)
	}
	d := int64(2)
	p.DeletionGracePeriodSeconds = &d
	got = decide(world{Now: t0, BootID: "b1", Pods: map[string]*podState{"u": st},
		Containers: []ContainerState{running("u", "a", 0, "c1", t0)}})
	if got[0].Grace != 2*time.Second {
		t.Fatalf("deletion grace %v, want 2s", got[0].Grace)
	}
	st2 := admitted(testPod("u", corev1.RestartPolicyAlways, nil, "a"))
	st2.record("a").Streak = 4
	got = decide(world{Now: t0.Add(time.Hour), BootID: "b1", Pods: map[string]*podState{"u": st2},
		Containers: []ContainerState{exited("u", "a", 4, "c1", 1, t0, t0.Add(time.Second))}})
	want := []action{{Kind: actStart, UID: "u", Container: "a", Attempt: 5, Streak: 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
