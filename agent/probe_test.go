package agent

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestProbeState_thresholds(t *testing.T) {
	type step struct {
		at     time.Duration
		due    bool
		pass   bool
		result bool
	}
	tests := []struct {
		name  string
		kind  probeKind
		probe corev1.Probe
		steps []step
	}{
		{"readiness waits for initial delay then needs two successes", probeReadiness,
			corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, SuccessThreshold: 2, FailureThreshold: 1},
			[]step{{at: 4 * time.Second, due: false}, {at: 5 * time.Second, due: true, pass: true, result: false},
				{at: 6 * time.Second, due: false}, {at: 7 * time.Second, due: true, pass: true, result: true},
				{at: 9 * time.Second, due: true, pass: false, result: false}}},
		{"liveness fails after three failures in a row", probeLiveness,
			corev1.Probe{PeriodSeconds: 1},
			[]step{{at: 0, due: true, pass: false, result: true}, {at: time.Second, due: true, pass: false, result: true},
				{at: 2 * time.Second, due: true, pass: true, result: true}, {at: 3 * time.Second, due: true, pass: false, result: true},
				{at: 4 * time.Second, due: true, pass: false, result: true}, {at: 5 * time.Second, due: true, pass: false, result: false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newProbeState(tt.kind, &tt.probe, t0)
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				if s.due(now) != st.due {
					t.Fatalf("step %d: due %v", i, !st.due)
				}
				if !st.due {
					continue
				}
				s.observe(st.pass, "out", now)
				if s.result != st.result {
					t.Fatalf("step %d: result %v, want %v", i, s.result, st.result)
				}
			}
		})
	}
}

func TestContainerProbes_startupGatesOthers(t *testing.T) {
	c := &corev1.Container{Name: "a",
		StartupProbe:   &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 2},
		LivenessProbe:  &corev1.Probe{PeriodSeconds: 1},
		ReadinessProbe: &corev1.Probe{PeriodSeconds: 1}}
	cp := newContainerProbes(c, t0)
	if got := cp.due(t0); !reflect.DeepEqual(got, []probeKind{probeStartup}) {
		t.Fatalf("before start: %v", got)
	}
	cp.startup.observe(true, "", t0)
	if got := cp.due(t0.Add(time.Second)); !reflect.DeepEqual(got, []probeKind{probeLiveness, probeReadiness}) {
		t.Fatalf("after start: %v", got)
	}
	if _, bad := cp.unhealthy(); bad {
		t.Fatal("healthy container reported unhealthy")
	}
	failing := newContainerProbes(c, t0)
	failing.startup.observe(false, "no", t0)
	failing.startup.observe(false, "no", t0.Add(time.Second))
	if msg, bad := failing.unhealthy(); !bad || msg == "" {
		t.Fatal("startup probe out of attempts is not unhealthy")
	}
}
