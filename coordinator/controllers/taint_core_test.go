package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func unreachable(added time.Time) []corev1.Taint {
	at := metav1.NewTime(added)
	return []corev1.Taint{
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &at},
	}
}

func tolerating(name string, tols ...corev1.Toleration) *corev1.Pod {
	p := testPod(name, "10.244.0.5", true)
	p.Spec.Tolerations = tols
	return p
}

func tolerate(key string, seconds *int64) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
}

func TestDecideEvictions_timings(t *testing.T) {
	deleting := tolerating("deleting")
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	pods := []*corev1.Pod{
		tolerating("intolerant"),
		tolerating("other-taint", tolerate(corev1.TaintNodeNotReady, ptr.To[int64](300))),
		tolerating("five", tolerate(corev1.TaintNodeNotReady, ptr.To[int64](5)), tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](5))),
		tolerating("thirty", tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](30))),
		tolerating("shortest-wins", tolerate(corev1.TaintNodeUnreachable, nil), tolerate("", ptr.To[int64](20))),
		tolerating("forever", tolerate(corev1.TaintNodeUnreachable, nil)),
		tolerating("everything", corev1.Toleration{Operator: corev1.TolerationOpExists}),
		tolerating("negative", tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](-1))),
		deleting,
	}
	for _, tt := range []struct {
		after   time.Duration
		evict   string
		requeue time.Duration
	}{
		{0, "intolerant other-taint negative ", 5 * time.Second},
		{4 * time.Second, "intolerant other-taint negative ", time.Second},
		{5 * time.Second, "intolerant other-taint five negative ", 15 * time.Second},
		{25 * time.Second, "intolerant other-taint five shortest-wins negative ", 5 * time.Second},
		{time.Hour, "intolerant other-taint five thirty shortest-wins negative ", 0},
	} {
		plan := decideEvictions(unreachable(t0), pods, t0.Add(tt.after))
		got := ""
		for _, p := range plan.Evict {
			got += p.Name + " "
		}
		if got != tt.evict || plan.RequeueAfter != tt.requeue {
			t.Errorf("after %v: evict %q requeue %v, want %q %v", tt.after, got, plan.RequeueAfter, tt.evict, tt.requeue)
		}
	}
}

func TestDecideEvictions_noExecuteOnly(t *testing.T) {
	taints := []corev1.Taint{{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}}
	if plan := decideEvictions(taints, []*corev1.Pod{tolerating("a")}, t0); len(plan.Evict) != 0 || plan.RequeueAfter != 0 {
		t.Fatalf("NoSchedule taint evicted: %+v", plan)
	}
}
