package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func testPDB(min, maxUnavail *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 2},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: min, MaxUnavailable: maxUnavail,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

// ownedPods are n pods of the ReplicaSet rs-1, the first ready of them ready.
func ownedPods(n, ready int) []*corev1.Pod {
	var pods []*corev1.Pod
	for i := range n {
		p := testPod(fmt.Sprintf("web-%d", i), fmt.Sprintf("10.244.0.%d", i+2), i < ready)
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs-1", UID: "rs-1", Controller: ptr.To(true)}}
		pods = append(pods, p)
	}
	return pods
}

func TestDecidePDB_math(t *testing.T) {
	scales := map[types.UID]controllerScale{"rs-1": {UID: "deploy-1", Replicas: 4}}
	i, pct := intstr.FromInt32, intstr.FromString
	for _, tt := range []struct {
		name                                string
		min, maxU                           *intstr.IntOrString
		pods                                []*corev1.Pod
		healthy, desired, expected, allowed int32
		reason                              string
	}{
		{"minAvailable 2 of 3 ready", ptr.To(i(2)), nil, ownedPods(3, 3), 3, 2, 3, 1, "SufficientPods"},
		{"minAvailable 2 of 2 ready", ptr.To(i(2)), nil, ownedPods(3, 2), 2, 2, 3, 0, "InsufficientPods"},
		{"minAvailable 50% of 4 replicas", ptr.To(pct("50%")), nil, ownedPods(3, 3), 3, 2, 4, 1, "SufficientPods"},
		{"maxUnavailable 1 of 4 replicas", nil, ptr.To(i(1)), ownedPods(4, 4), 4, 3, 4, 1, "SufficientPods"},
		{"maxUnavailable 25% rounds up", nil, ptr.To(pct("30%")), ownedPods(4, 3), 3, 2, 4, 1, "SufficientPods"},
		{"maxUnavailable 0", nil, ptr.To(i(0)), ownedPods(4, 4), 4, 4, 4, 0, "InsufficientPods"},
		{"no pods", ptr.To(i(1)), nil, nil, 0, 1, 0, 0, "InsufficientPods"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := decidePDB(testPDB(tt.min, tt.maxU), tt.pods, scales, t0)
			if st.CurrentHealthy != tt.healthy || st.DesiredHealthy != tt.desired || st.ExpectedPods != tt.expected ||
				st.DisruptionsAllowed != tt.allowed || st.ObservedGeneration != 2 {
				t.Fatalf("status %+v", st)
			}
			if len(st.Conditions) != 1 || st.Conditions[0].Type != "DisruptionAllowed" || st.Conditions[0].Reason != tt.reason {
				t.Fatalf("conditions %+v", st.Conditions)
			}
		})
	}
}

func TestDecidePDB_deploymentCountedOnce(t *testing.T) {
	pods := ownedPods(4, 4)
	pods[3].OwnerReferences[0].UID = "rs-2"
	scales := map[types.UID]controllerScale{"rs-1": {UID: "deploy-1", Replicas: 4}, "rs-2": {UID: "deploy-1", Replicas: 4}}
	st, _ := decidePDB(testPDB(nil, ptr.To(intstr.FromInt32(1))), pods, scales, t0)
	if st.ExpectedPods != 4 || st.DisruptionsAllowed != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestDecidePDB_failsSafe(t *testing.T) {
	bare := []*corev1.Pod{testPod("bare", "10.244.0.5", true)}
	st, _ := decidePDB(testPDB(nil, ptr.To(intstr.FromInt32(1))), bare, nil, t0)
	if st.DisruptionsAllowed != 0 || st.Conditions[0].Reason != "SyncFailed" || st.Conditions[0].Message != `found no controller ref for pod "bare"` {
		t.Fatalf("pod without controller: %+v", st)
	}
	st, _ = decidePDB(testPDB(nil, ptr.To(intstr.FromInt32(1))), ownedPods(2, 2), nil, t0)
	if st.DisruptionsAllowed != 0 || st.Conditions[0].Message != `found no controllers for pod "web-0"` {
		t.Fatalf("controller not found: %+v", st)
	}
}

func TestDecidePDB_disruptedPods(t *testing.T) {
	pdb := testPDB(ptr.To(intstr.FromInt32(1)), nil)
	pods := ownedPods(3, 3)
	gone := pods[2].DeepCopy()
	gone.Name = "web-gone"
	pods[1].DeletionTimestamp = &metav1.Time{Time: t0}
	pdb.Status.DisruptedPods = map[string]metav1.Time{
		"web-0":    metav1.NewTime(t0.Add(-time.Minute)),     // evicted, not yet deleting: not healthy
		"web-1":    metav1.NewTime(t0.Add(-time.Minute)),     // deleting now: dropped from the map
		"web-gone": metav1.NewTime(t0.Add(-time.Minute)),     // gone: dropped
		"web-2":    metav1.NewTime(t0.Add(-3 * time.Minute)), // expired: dropped, healthy again
	}
	st, wait := decidePDB(pdb, pods, nil, t0)
	if len(st.DisruptedPods) != 1 || st.DisruptedPods["web-0"].Time.IsZero() {
		t.Fatalf("disrupted pods %v", st.DisruptedPods)
	}
	if st.CurrentHealthy != 1 || st.DisruptionsAllowed != 0 || wait != time.Minute {
		t.Fatalf("status %+v, wait %v", st, wait)
	}
}
