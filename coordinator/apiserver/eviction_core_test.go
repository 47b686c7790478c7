package apiserver

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func evictionPod(phase corev1.PodPhase, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func budget(name string, allowed, current, desired int32) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Generation: 1},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: allowed,
			CurrentHealthy: current, DesiredHealthy: desired},
	}
}

func TestDecideEviction(t *testing.T) {
	stale := budget("web", 1, 2, 1)
	stale.Generation = 2
	alwaysAllow := budget("web", 0, 0, 1)
	alwaysAllow.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	emptySel := budget("web", 0, 0, 1)
	emptySel.Spec.Selector = &metav1.LabelSelector{}
	for _, tt := range []struct {
		name      string
		pod       *corev1.Pod
		budgets   []*policyv1.PodDisruptionBudget
		decrement bool
		code      int32 // 0: allowed
	}{
		{"no budget", evictionPod(corev1.PodRunning, true), nil, false, 0},
		{"empty selector selects nothing", evictionPod(corev1.PodRunning, true), []*policyv1.PodDisruptionBudget{emptySel}, false, 0},
		{"allowed", evictionPod(corev1.PodRunning, true), []*policyv1.PodDisruptionBudget{budget("web", 1, 2, 1)}, true, 0},
		{"exhausted", evictionPod(corev1.PodRunning, true), []*policyv1.PodDisruptionBudget{budget("web", 0, 1, 1)}, false, 429},
		{"not yet observed", evictionPod(corev1.PodRunning, true), []*policyv1.PodDisruptionBudget{stale}, false, 429},
		{"two budgets", evictionPod(corev1.PodRunning, true), []*policyv1.PodDisruptionBudget{budget("a", 1, 2, 1), budget("b", 1, 2, 1)}, false, 500},
		{"pending pod ignores budgets", evictionPod(corev1.PodPending, false), []*policyv1.PodDisruptionBudget{budget("web", 0, 1, 1)}, false, 0},
		{"finished pod ignores budgets", evictionPod(corev1.PodSucceeded, false), []*policyv1.PodDisruptionBudget{budget("web", 0, 1, 1)}, false, 0},
		{"unready pod, healthy budget", evictionPod(corev1.PodRunning, false), []*policyv1.PodDisruptionBudget{budget("web", 0, 1, 1)}, false, 0},
		{"unready pod, unhealthy budget", evictionPod(corev1.PodRunning, false), []*policyv1.PodDisruptionBudget{budget("web", 0, 0, 1)}, false, 429},
		{"unready pod, AlwaysAllow", evictionPod(corev1.PodRunning, false), []*policyv1.PodDisruptionBudget{alwaysAllow}, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decideEviction(tt.pod, tt.budgets, t0)
			if tt.code != 0 {
				var code int32
				if se, ok := err.(*apierrors.StatusError); ok {
					code = se.ErrStatus.Code
				}
				if code != tt.code {
					t.Fatalf("err %v (code %d), want %d", err, code, tt.code)
				}
				if code == 429 && (err.Error() != msgViolatesBudget || len(err.(*apierrors.StatusError).ErrStatus.Details.Causes) != 1) {
					t.Fatalf("429 %+v", err.(*apierrors.StatusError).ErrStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (d.Budget != nil) != tt.decrement {
				t.Fatalf("budget %+v", d.Budget)
			}
			if d.Budget != nil && (d.Budget.Status.DisruptionsAllowed != 0 || !d.Budget.Status.DisruptedPods["web-1"].Time.Equal(t0)) {
				t.Fatalf("budget status %+v", d.Budget.Status)
			}
		})
	}
}

func FuzzReadEviction(f *testing.F) {
	for _, s := range []string{
		`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p"}}`,
		`{"apiVersion":"policy/v1beta1","kind":"Eviction","metadata":{"name":"p"},"deleteOptions":{"gracePeriodSeconds":0}}`,
		`{"apiVersion":"v1","kind":"Pod"}`, `{}`, `null`, `[`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ev, err := readEviction([]byte(body), "p")
		if err == nil && ev == nil {
			t.Fatal("no eviction and no error")
		}
		if err != nil && !apierrors.IsBadRequest(err) {
			t.Fatalf("%q: %v is not a bad request", body, err)
		}
	})
}
