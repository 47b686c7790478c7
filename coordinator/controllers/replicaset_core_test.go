package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testRS(replicas int32) *appsv1.ReplicaSet {
	l := map[string]string{"app": "web"}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rs-uid", Generation: 3},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}},
	}
}

// pod options
type podOpt func(*corev1.Pod)

func ownedBy(uid types.UID) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "x", UID: uid, Controller: ptr.To(true)}}
	}
}
func ready(since time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)}}
	}
}
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func onNode(n string) podOpt          { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func created(at time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(at) }
}
func labelled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
func deleting() podOpt {
	return func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }
}
func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
		Labels: map[string]string{"app": "web"}, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestDecideReplicaSet_manage(t *testing.T) {
	mine := ownedBy("rs-uid")
	node := onNode("n1")
	tests := []struct {
		name                    string
		replicas                int32
		pods                    []*corev1.Pod
		create                  int
		del, adopt, release     []string
		replicasSeen, readySeen int32
	}{
		{name: "scale up from nothing", replicas: 3, create: 3},
		{name: "steady", replicas: 2, pods: []*corev1.Pod{mkPod("a", mine, node, ready(t0)), mkPod("b", mine, node, ready(t0))}, replicasSeen: 2, readySeen: 2},
		{name: "scale down prefers unscheduled, then pending, then not ready",
			replicas: 1,
			pods: []*corev1.Pod{
				mkPod("ready", mine, node, ready(t0.Add(-time.Hour))),
				mkPod("unscheduled", mine),
				mkPod("pending", mine, node),
				mkPod("running-not-ready", mine, node, phase(corev1.PodRunning)),
			},
			del: []string{"unscheduled", "pending", "running-not-ready"}, replicasSeen: 4, readySeen: 1},
		{name: "scale down prefers the newest ready",
			replicas: 1,
			pods: []*corev1.Pod{
				mkPod("old", mine, node, ready(t0.Add(-2*time.Hour))),
				mkPod("new", mine, node, ready(t0.Add(-time.Minute))),
			},
			del: []string{"new"}, replicasSeen: 2, readySeen: 2},
		{name: "orphan matching is adopted and counted", replicas: 2,
			pods: []*corev1.Pod{mkPod("orphan", node, ready(t0))}, adopt: []string{"orphan"}, create: 1, replicasSeen: 1, readySeen: 1},
		{name: "owned pod no longer matching is released and replaced", replicas: 1,
			pods: []*corev1.Pod{mkPod("moved", mine, labelled(map[string]string{"app": "other"}))}, release: []string{"moved"}, create: 1},
		{name: "another controller's pod is left alone", replicas: 1,
			pods: []*corev1.Pod{mkPod("theirs", ownedBy("other-uid"))}, create: 1},
		{name: "finished and deleting pods do not count", replicas: 2,
			pods:   []*corev1.Pod{mkPod("done", mine, phase(corev1.PodSucceeded)), mkPod("failed", mine, phase(corev1.PodFailed)), mkPod("going", mine, deleting())},
			create: 2},
		{name: "orphan being deleted is not adopted", replicas: 1, pods: []*corev1.Pod{mkPod("going", deleting())}, create: 1},
		{name: "burst is capped", replicas: 900, create: burstReplicas},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := decideReplicaSet(testRS(tt.replicas), tt.pods, t0)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Create != tt.create {
				t.Errorf("create %d, want %d", plan.Create, tt.create)
			}
			check := func(what string, got []*corev1.Pod, want []string) {
				if fmt.Sprint(names(got)) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("%s %v, want %v", what, names(got), want)
				}
			}
			check("delete", plan.Delete, tt.del)
			check("adopt", plan.Adopt, tt.adopt)
			check("release", plan.Release, tt.release)
			if plan.Status.Replicas != tt.replicasSeen || plan.Status.ReadyReplicas != tt.readySeen || plan.Status.ObservedGeneration != 3 {
				t.Errorf("status %+v", plan.Status)
			}
		})
	}
}

func TestDecideReplicaSet_deletingOnlyReportsStatus(t *testing.T) {
	rs := testRS(3)
	rs.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	plan, err := decideReplicaSet(rs, []*corev1.Pod{mkPod("a", ownedBy("rs-uid"))}, t0)
	if err != nil || plan.Create != 0 || len(plan.Delete) != 0 || plan.Status.Replicas != 1 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
}

func TestReplicaSetStatus_minReadySeconds(t *testing.T) {
	rs := testRS(3)
	rs.Spec.MinReadySeconds = 10
	rs.Spec.Template.Labels = map[string]string{"app": "web", "tier": "front"}
	mine := ownedBy("rs-uid")
	pods := []*corev1.Pod{
		mkPod("long", mine, ready(t0.Add(-time.Minute)), labelled(map[string]string{"app": "web", "tier": "front"})),
		mkPod("fresh", mine, ready(t0.Add(-4*time.Second))),
		mkPod("starting", mine),
	}
	st, wait := replicaSetStatus(rs, pods, t0)
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 3}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("status %+v, want %+v", st, want)
	}
	if wait != 6*time.Second {
		t.Fatalf("requeue after %v, want 6s when the fresh pod becomes available", wait)
	}
}

func TestSetReplicaFailure_setAndClear(t *testing.T) {
	var st appsv1.ReplicaSetStatus
	setReplicaFailure(&st, errors.New("pods \"web-\" is forbidden: quota"), false, t0)
	if len(st.Conditions) != 1 || st.Conditions[0].Reason != "FailedCreate" || st.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("conditions %+v", st.Conditions)
	}
	setReplicaFailure(&st, errors.New("again"), false, t0.Add(time.Minute))
	if len(st.Conditions) != 1 || !st.Conditions[0].LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("a persisting failure keeps its condition: %+v", st.Conditions)
	}
	setReplicaFailure(&st, nil, false, t0)
	if len(st.Conditions) != 0 {
		t.Fatalf("conditions after success %+v", st.Conditions)
	}
	setReplicaFailure(&st, errors.New("x"), true, t0)
	if st.Conditions[0].Reason != "FailedDelete" {
		t.Fatalf("delete failure reason %q", st.Conditions[0].Reason)
	}
}

func TestNewPod_fromTemplate(t *testing.T) {
	rs := testRS(1)
	rs.Spec.Template.Annotations = map[string]string{"a": "b"}
	p := newPod(rs)
	if p.GenerateName != "web-" || p.Labels["app"] != "web" || p.Annotations["a"] != "b" || !metav1.IsControlledBy(p, rs) ||
		p.Spec.Containers[0].Image != "nginx" {
		t.Fatalf("pod %+v", p)
	}
	p.Labels["app"] = "changed"
	if rs.Spec.Template.Labels["app"] != "web" {
		t.Fatal("the pod shares maps with the template")
	}
}
