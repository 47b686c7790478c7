package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func testStatefulSet(replicas int32) *appsv1.StatefulSet {
	labels := map[string]string{"app": "db"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", UID: "sts-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         "db",
			Selector:            &metav1.LabelSelector{MatchLabels: labels},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1"}}}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}},
			RevisionHistoryLimit: ptr.To[int32](10),
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType},
		},
	}
}

// stsWorld plays the API and the nodes for decideStatefulSet: it applies
// plans, keeps revisions and claims, and makes pods ready on demand.
type stsWorld struct {
	t      *testing.T
	set    *appsv1.StatefulSet
	pods   map[string]*corev1.Pod
	claims map[string]*corev1.PersistentVolumeClaim
	revs   map[string]*appsv1.ControllerRevision
	log    []string
}

func newWorld(t *testing.T, set *appsv1.StatefulSet) *stsWorld {
	return &stsWorld{t: t, set: set, pods: map[string]*corev1.Pod{}, claims: map[string]*corev1.PersistentVolumeClaim{},
		revs: map[string]*appsv1.ControllerRevision{}}
}

// step decides once and applies the plan, logging "+name" for created
// and "-name" for deleted pods.
func (w *stsWorld) step() StatefulSetPlan {
	w.t.Helper()
	var pods []*corev1.Pod
	for _, p := range w.pods {
		pods = append(pods, p)
	}
	var claims []*corev1.PersistentVolumeClaim
	for _, c := range w.claims {
		claims = append(claims, c)
	}
	var revs []*appsv1.ControllerRevision
	for _, r := range w.revs {
		revs = append(revs, r)
	}
	plan, err := decideStatefulSet(StatefulSetFacts{Set: w.set, Pods: pods, Claims: claims, Revisions: revs}, dsNow)
	if err != nil {
		w.t.Fatal(err)
	}
	w.revs[plan.Revision.Current.Name] = plan.Revision.Current
	for _, r := range plan.Revision.Delete {
		delete(w.revs, r.Name)
	}
	for _, c := range plan.CreateClaims {
		w.claims[c.Name] = c
	}
	for _, p := range plan.Delete {
		delete(w.pods, p.Name)
		w.log = append(w.log, "-"+p.Name)
	}
	for _, p := range plan.Create {
		p.UID = types.UID("uid-" + p.Name)
		p.Status.Phase = corev1.PodPending
		w.pods[p.Name] = p
		w.log = append(w.log, "+"+p.Name)
	}
	for _, c := range plan.DeleteClaims {
		delete(w.claims, c.Name)
	}
	w.set.Status = plan.Status
	return plan
}

func (w *stsWorld) ready(names ...string) {
	for _, n := range names {
		p := w.pods[n]
		if p == nil {
			w.t.Fatalf("no pod %s to make ready", n)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(dsNow.Add(-time.Minute))}}
	}
}

// settle steps, making every pod ready after each step, until nothing
// changes.
func (w *stsWorld) settle() {
	for range 40 {
		for n := range w.pods {
			w.ready(n)
		}
		plan := w.step()
		if len(plan.Create) == 0 && len(plan.Delete) == 0 {
			return
		}
	}
	w.t.Fatal("did not settle")
}

func (w *stsWorld) takeLog() string {
	s := strings.Join(w.log, " ")
	w.log = nil
	return s
}

func TestDecideStatefulSet_orderedReadyCreatesInOrder(t *testing.T) {
	w := newWorld(t, testStatefulSet(3))
	p := w.step()
	if w.takeLog() != "+db-0" || len(p.CreateClaims) != 1 || p.CreateClaims[0].Name != "data-db-0" {
		t.Fatalf("first step: %v claims %v", w.log, p.CreateClaims)
	}
	// db-1 waits for db-0 to be running and ready.
	w.step()
	if got := w.takeLog(); got != "" {
		t.Fatalf("created %q before db-0 was ready", got)
	}
	w.ready("db-0")
	w.step()
	if got := w.takeLog(); got != "+db-1" {
		t.Fatalf("after db-0 ready: %q", got)
	}
	w.ready("db-1")
	w.step()
	w.ready("db-2")
	w.step()
	if got := w.takeLog(); got != "+db-2" {
		t.Fatalf("after db-1 ready: %q", got)
	}
	pod := w.pods["db-2"]
	if pod.Spec.Hostname != "db-2" || pod.Spec.Subdomain != "db" || pod.Labels[appsv1.StatefulSetPodNameLabel] != "db-2" ||
		pod.Labels[appsv1.PodIndexLabel] != "2" || pod.Labels[appsv1.ControllerRevisionHashLabelKey] != w.set.Status.UpdateRevision ||
		pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-db-2" {
		t.Fatalf("pod identity: %+v %v %+v", pod.Spec, pod.Labels, pod.Spec.Volumes)
	}
	st := w.set.Status
	if st.Replicas != 3 || st.ReadyReplicas != 3 || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 ||
		st.CurrentRevision != st.UpdateRevision || !strings.HasPrefix(st.CurrentRevision, "db-") {
		t.Fatalf("status %+v", st)
	}
	if c := w.claims["data-db-0"]; c.Labels["app"] != "db" || len(c.OwnerReferences) != 0 {
		t.Fatalf("retained claim labels %v owners %v", c.Labels, c.OwnerReferences)
	}
}

func TestDecideStatefulSet_parallelCreatesAll(t *testing.T) {
	set := testStatefulSet(3)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	w := newWorld(t, set)
	w.step()
	if got := w.takeLog(); got != "+db-0 +db-1 +db-2" {
		t.Fatalf("parallel create: %q", got)
	}
	w.settle()
	w.takeLog()
	set.Spec.Replicas = ptr.To[int32](1)
	w.step()
	if got := w.takeLog(); got != "-db-2 -db-1" {
		t.Fatalf("parallel scale down: %q", got)
	}
}

func TestDecideStatefulSet_scaleDownHighestFirstOneAtATime(t *testing.T) {
	set := testStatefulSet(4)
	set.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	w := newWorld(t, set)
	w.settle()
	w.takeLog()
	set.Spec.Replicas = ptr.To[int32](1)
	w.step()
	if got := w.takeLog(); got != "-db-3" {
		t.Fatalf("first scale-down step: %q", got)
	}
	// An unhealthy pod among the kept ones blocks the scale down.
	w.pods["db-0"].Status.Conditions = nil
	w.step()
	if got := w.takeLog(); got != "" {
		t.Fatalf("scaled down past an unready pod: %q", got)
	}
	w.ready("db-0")
	w.step()
	w.step()
	if got := w.takeLog(); got != "-db-2 -db-1" {
		t.Fatalf("rest of the scale down: %q", got)
	}
	w.step()
	if _, ok := w.claims["data-db-1"]; ok || len(w.claims) != 1 {
		t.Fatalf("claims after scale down with whenScaled Delete: %v", w.claims)
	}
}

func TestDecideStatefulSet_rollingUpdateWithPartition(t *testing.T) {
	set := testStatefulSet(3)
	w := newWorld(t, set)
	w.settle()
	w.takeLog()
	oldRev := set.Status.CurrentRevision
	set.Spec.Template.Spec.Containers[0].Image = "db:2"
	set.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](1)
	set.Generation = 2
	w.step()
	if got := w.takeLog(); got != "-db-2" {
		t.Fatalf("first update step: %q", got)
	}
	w.step()
	if got := w.takeLog(); got != "+db-2" || w.pods["db-2"].Spec.Containers[0].Image != "db:2" {
		t.Fatalf("recreate: %q", got)
	}
	// Waits for the new db-2 to be ready.
	w.step()
	if got := w.takeLog(); got != "" {
		t.Fatalf("moved on before db-2 was ready: %q", got)
	}
	w.ready("db-2")
	w.step()
	if got := w.takeLog(); got != "-db-1" {
		t.Fatalf("second update step: %q", got)
	}
	w.settle()
	if got := w.takeLog(); got != "+db-1" {
		t.Fatalf("partition 1 should leave db-0 alone: %q", got)
	}
	st := set.Status
	if st.UpdatedReplicas != 2 || st.CurrentReplicas != 1 || st.CurrentRevision != oldRev || st.UpdateRevision == oldRev {
		t.Fatalf("status with partition: %+v", st)
	}
	// db-0 deleted by hand comes back at the current revision.
	delete(w.pods, "db-0")
	w.step()
	if w.pods["db-0"].Spec.Containers[0].Image != "db:1" || w.pods["db-0"].Labels[appsv1.ControllerRevisionHashLabelKey] != oldRev {
		t.Fatalf("db-0 recreated at %s", w.pods["db-0"].Spec.Containers[0].Image)
	}
	set.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0)
	w.settle()
	w.takeLog()
	st = set.Status
	if st.UpdatedReplicas != 3 || st.CurrentRevision != st.UpdateRevision || w.pods["db-0"].Spec.Containers[0].Image != "db:2" {
		t.Fatalf("status after the partition is lifted: %+v", st)
	}
}

func TestDecideStatefulSet_onDelete(t *testing.T) {
	set := testStatefulSet(2)
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	w := newWorld(t, set)
	w.settle()
	w.takeLog()
	set.Spec.Template.Spec.Containers[0].Image = "db:2"
	w.settle()
	if got := w.takeLog(); got != "" {
		t.Fatalf("OnDelete replaced pods by itself: %q", got)
	}
	delete(w.pods, "db-1")
	w.settle()
	if w.pods["db-1"].Spec.Containers[0].Image != "db:2" || w.pods["db-0"].Spec.Containers[0].Image != "db:1" {
		t.Fatal("a deleted pod should come back at the update revision, the other stay")
	}
}

func TestDecideStatefulSet_claimsOwnedWhenDeletedDelete(t *testing.T) {
	set := testStatefulSet(1)
	set.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	plan, err := decideStatefulSet(StatefulSetFacts{Set: set}, dsNow)
	if err != nil {
		t.Fatal(err)
	}
	c := plan.CreateClaims[0]
	if len(c.OwnerReferences) != 1 || c.OwnerReferences[0].UID != set.UID || c.OwnerReferences[0].Controller != nil {
		t.Fatalf("claim owners %+v", c.OwnerReferences)
	}
}

func TestOrdinalOf(t *testing.T) {
	set := testStatefulSet(1)
	for name, want := range map[string]int{"db-0": 0, "db-12": 12, "db-01": -1, "db-x": -1, "dbx-1": -1, "db--1": -1, "db-": -1} {
		n, ok := ordinalOf(set, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if got := map[bool]int{true: n, false: -1}[ok]; got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
	if got := fmt.Sprint(slices.Sorted(slices.Values([]string{claimName(set, "data", 3)}))); got != "[data-db-3]" {
		t.Errorf("claim name %s", got)
	}
}
