package controllers

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func testDeployment(replicas int32, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	l := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: l},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}},
			RevisionHistoryLimit: ptr.To[int32](10), ProgressDeadlineSeconds: ptr.To[int32](600),
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1"}}}},
		},
	}
}

// sim is a Deployment, its ReplicaSets and a ReplicaSet controller plus
// kubelet in one: each tick, pods that existed at the last tick become
// available and the pod count follows spec.replicas.
type sim struct {
	t    *testing.T
	d    *appsv1.Deployment
	rss  []*appsv1.ReplicaSet
	now  time.Time
	uids int
}

func (s *sim) step() DeploymentPlan {
	s.t.Helper()
	plan, err := decideDeployment(s.d.DeepCopy(), s.rss, nil, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	if rs := plan.Create; rs != nil {
		s.uids++
		rs = rs.DeepCopy()
		rs.UID = types.UID("rs-" + strconv.Itoa(s.uids))
		rs.Generation = 1
		rs.CreationTimestamp = metav1.NewTime(s.now.Add(time.Duration(s.uids) * time.Second))
		s.rss = append(s.rss, rs)
	}
	for _, u := range plan.Update {
		for i, rs := range s.rss {
			if rs.UID == u.UID {
				u = u.DeepCopy()
				if replicasOf(u.Spec.Replicas) != replicasOf(rs.Spec.Replicas) {
					u.Generation++
				}
				s.rss[i] = u
			}
		}
	}
	for _, del := range plan.Delete {
		for i, rs := range s.rss {
			if rs.UID == del.UID {
				s.rss = append(s.rss[:i], s.rss[i+1:]...)
				break
			}
		}
	}
	if plan.Annotations != nil {
		s.d.Annotations = plan.Annotations
	}
	if plan.Status != nil {
		s.d.Status = *plan.Status
	}
	s.now = s.now.Add(time.Second)
	return plan
}

// tick runs the ReplicaSet controller and the kubelet once.
func (s *sim) tick() {
	for _, rs := range s.rss {
		spec := replicasOf(rs.Spec.Replicas)
		avail := min(rs.Status.Replicas, spec)
		rs.Status = appsv1.ReplicaSetStatus{Replicas: spec, ReadyReplicas: avail, AvailableReplicas: avail, ObservedGeneration: rs.Generation}
	}
}

func (s *sim) totals() (spec, avail int32) {
	for _, rs := range s.rss {
		spec += replicasOf(rs.Spec.Replicas)
		avail += rs.Status.AvailableReplicas
	}
	return
}

// settle runs steps and ticks until the plan is empty, checking the
// rollout bounds after each.
func (s *sim) settle(minAvail, maxTotal int32) int {
	s.t.Helper()
	quiet := 0
	for n := 0; n < 200; n++ {
		plan := s.step()
		if spec, _ := s.totals(); spec > maxTotal {
			s.t.Fatalf("step %d: %d replicas asked for, more than %d", n, spec, maxTotal)
		}
		s.tick()
		if _, avail := s.totals(); avail < minAvail {
			s.t.Fatalf("step %d: %d available, fewer than %d", n, avail, minAvail)
		}
		if plan.Create == nil && len(plan.Update) == 0 && len(plan.Delete) == 0 && plan.Annotations == nil && plan.Status == nil {
			quiet++
		} else {
			quiet = 0
		}
		if quiet == 2 { // nothing to do, even after the pods caught up
			return n
		}
	}
	s.t.Fatal("did not settle in 200 steps")
	return 0
}

func (s *sim) newRS() *appsv1.ReplicaSet {
	for _, rs := range s.rss {
		if equalIgnoreHash(&rs.Spec.Template, &s.d.Spec.Template) {
			return rs
		}
	}
	return nil
}

func progressReason(d *appsv1.Deployment) string {
	if c := getCondition(d.Status, appsv1.DeploymentProgressing); c != nil {
		return c.Reason
	}
	return ""
}

func TestDecideDeployment_rollingUpdateBounds(t *testing.T) {
	tests := []struct {
		replicas           int32
		surge, unavailable intstr.IntOrString
		minAvail, maxTotal int32
	}{
		{3, intstr.FromInt32(1), intstr.FromInt32(0), 3, 4},
		{3, intstr.FromInt32(0), intstr.FromInt32(1), 2, 3},
		{4, intstr.FromString("25%"), intstr.FromString("25%"), 3, 5},
		{5, intstr.FromInt32(2), intstr.FromInt32(1), 4, 7},
		{10, intstr.FromString("30%"), intstr.FromString("0%"), 10, 13},
		{1, intstr.FromInt32(0), intstr.FromString("10%"), 0, 1}, // both resolve to 0: unavailable becomes 1
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/surge=%s/unavailable=%s", tt.replicas, tt.surge.String(), tt.unavailable.String()), func(t *testing.T) {
			s := &sim{t: t, d: testDeployment(tt.replicas, tt.surge, tt.unavailable), now: t0}
			s.settle(0, tt.replicas+tt.replicas)
			if !complete(s.d, s.d.Status) || progressReason(s.d) != reasonNewRSAvailable || s.d.Annotations[revisionAnnotation] != "1" {
				t.Fatalf("first rollout: status %+v annotations %v", s.d.Status, s.d.Annotations)
			}
			s.d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
			s.d.Generation++
			s.settle(tt.minAvail, tt.maxTotal)
			nrs := s.newRS()
			if nrs == nil || replicasOf(nrs.Spec.Replicas) != tt.replicas || nrs.Annotations[revisionAnnotation] != "2" {
				t.Fatalf("new replicaset %+v", nrs)
			}
			for _, rs := range s.rss {
				if rs != nrs && replicasOf(rs.Spec.Replicas) != 0 {
					t.Fatalf("old replicaset %s still has %d", rs.Name, replicasOf(rs.Spec.Replicas))
				}
			}
			st := s.d.Status
			if !complete(s.d, st) || st.UnavailableReplicas != 0 || progressReason(s.d) != reasonNewRSAvailable || s.d.Annotations[revisionAnnotation] != "2" {
				t.Fatalf("after rollout: %+v", st)
			}
		})
	}
}

func TestDecideDeployment_rollingUpdateFirstSteps(t *testing.T) {
	// 3 replicas, surge 1, unavailable 0: grow the new one by one, then
	// take one old away only once the new one is available.
	s := &sim{t: t, d: testDeployment(3, intstr.FromInt32(1), intstr.FromInt32(0)), now: t0}
	s.settle(0, 6)
	s.d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	s.d.Generation++
	plan := s.step()
	if plan.Create == nil || replicasOf(plan.Create.Spec.Replicas) != 1 || len(plan.Update) != 0 {
		t.Fatalf("first step: create %v, update %d", plan.Create, len(plan.Update))
	}
	if progressReason(s.d) != reasonNewRSCreated {
		t.Fatalf("progressing reason %q", progressReason(s.d))
	}
	plan = s.step() // the new pod is not available yet: nothing may go
	if len(plan.Update) != 0 {
		t.Fatalf("scaled before the new pod was available: %+v", plan.Update)
	}
	s.tick()
	s.tick()
	plan = s.step()
	if len(plan.Update) != 1 || replicasOf(plan.Update[0].Spec.Replicas) != 2 || plan.Update[0].Annotations[revisionAnnotation] != "1" {
		t.Fatalf("second step should take the old one to 2: %+v", plan.Update)
	}
}

func TestDecideDeployment_recreate(t *testing.T) {
	d := testDeployment(2, intstr.FromInt32(0), intstr.FromInt32(0))
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	s := &sim{t: t, d: d, now: t0}
	s.settle(0, 2)
	s.d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	s.d.Generation++
	plan := s.step()
	if plan.Create != nil || len(plan.Update) != 1 || replicasOf(plan.Update[0].Spec.Replicas) != 0 {
		t.Fatalf("recreate must first scale the old replicaset to 0: %+v", plan)
	}
	// Old pods still exist: no new ReplicaSet yet.
	oldPod := mkPod("old", ownedBy(s.rss[0].UID), phase(corev1.PodRunning))
	s.rss[0].Status.Replicas = 0
	if plan, _ := decideDeployment(s.d, s.rss, []*corev1.Pod{oldPod}, s.now); plan.Create != nil {
		t.Fatal("new replicaset created while an old pod runs")
	}
	s.tick()
	plan = s.step()
	if plan.Create == nil || replicasOf(plan.Create.Spec.Replicas) != 2 {
		t.Fatalf("then the new replicaset at full size: %+v", plan.Create)
	}
	s.settle(0, 2)
	if !complete(s.d, s.d.Status) {
		t.Fatalf("status %+v", s.d.Status)
	}
}

func TestDecideDeployment_pausedScalesButDoesNotRoll(t *testing.T) {
	s := &sim{t: t, d: testDeployment(2, intstr.FromInt32(1), intstr.FromInt32(0)), now: t0}
	s.settle(0, 3)
	s.d.Spec.Paused = true
	s.d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	s.d.Spec.Replicas = ptr.To[int32](4)
	s.d.Generation++
	s.settle(2, 4)
	if len(s.rss) != 1 || replicasOf(s.rss[0].Spec.Replicas) != 4 {
		t.Fatalf("paused: %d replicasets, first at %d", len(s.rss), replicasOf(s.rss[0].Spec.Replicas))
	}
	if c := getCondition(s.d.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != reasonPaused || c.Status != corev1.ConditionUnknown {
		t.Fatalf("progressing while paused: %+v", c)
	}
	s.d.Spec.Paused = false
	s.settle(4, 5)
	if nrs := s.newRS(); nrs == nil || replicasOf(nrs.Spec.Replicas) != 4 || len(s.rss) != 2 {
		t.Fatalf("resumed rollout: %+v", nrs)
	}
}

func TestDecideDeployment_scaleMidRolloutIsProportional(t *testing.T) {
	s := &sim{t: t, d: testDeployment(10, intstr.FromInt32(2), intstr.FromInt32(0)), now: t0}
	s.settle(0, 20)
	s.d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	s.d.Generation++
	s.step() // new at 2, old at 10
	s.tick()
	s.d.Spec.Replicas = ptr.To[int32](20)
	plan := s.step()
	got := map[string]int32{}
	for _, rs := range plan.Update {
		got[rs.Annotations[revisionAnnotation]] = replicasOf(rs.Spec.Replicas)
	}
	// 12 of 12 allowed grow to 22: 10/12 and 2/12 of the 10 added.
	if got["1"]+got["2"] != 22 || got["1"] < 18 || got["2"] < 3 {
		t.Fatalf("proportional scale: %v", got)
	}
}

func TestDecideDeployment_historyCleanup(t *testing.T) {
	d := testDeployment(1, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.RevisionHistoryLimit = ptr.To[int32](2)
	s := &sim{t: t, d: d, now: t0}
	for i := 1; i <= 5; i++ {
		s.d.Spec.Template.Spec.Containers[0].Image = "nginx:" + strconv.Itoa(i)
		s.d.Generation++
		s.settle(min(int32(i-1), 1), 2)
	}
	var revs []string
	for _, rs := range s.rss {
		revs = append(revs, rs.Annotations[revisionAnnotation])
	}
	if fmt.Sprint(revs) != "[3 4 5]" {
		t.Fatalf("revisions kept %v, want the new one and the 2 before it", revs)
	}
}

func TestDecideDeployment_rollbackReusesReplicaSet(t *testing.T) {
	s := &sim{t: t, d: testDeployment(2, intstr.FromInt32(1), intstr.FromInt32(0)), now: t0}
	s.settle(0, 4)
	first := s.rss[0].UID
	s.d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	s.d.Generation++
	s.settle(2, 3)
	// kubectl rollout undo copies the old template back, hash label removed.
	tmpl := s.rss[0].Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	s.d.Spec.Template = *tmpl
	s.d.Generation++
	s.settle(2, 3)
	if len(s.rss) != 2 || s.newRS().UID != first {
		t.Fatalf("rollback made a new replicaset")
	}
	nrs := s.newRS()
	if nrs.Annotations[revisionAnnotation] != "3" || nrs.Annotations[revisionHistoryAnnotation] != "1" || s.d.Annotations[revisionAnnotation] != "3" {
		t.Fatalf("annotations rs %v deployment %v", nrs.Annotations, s.d.Annotations)
	}
}

func TestDecideDeployment_progressConditions(t *testing.T) {
	d := testDeployment(2, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
	s := &sim{t: t, d: d, now: t0}
	plan := s.step()
	if plan.RequeueAfter <= 0 || plan.RequeueAfter > 60*time.Second {
		t.Fatalf("requeue after %v, want within the deadline", plan.RequeueAfter)
	}
	// No pod ever becomes available: past the deadline the rollout fails.
	s.now = s.now.Add(2 * time.Minute)
	s.step()
	c := getCondition(s.d.Status, appsv1.DeploymentProgressing)
	if c == nil || c.Reason != reasonTimedOut || c.Status != corev1.ConditionFalse {
		t.Fatalf("progressing %+v", c)
	}
	if a := getCondition(s.d.Status, appsv1.DeploymentAvailable); a == nil || a.Status != corev1.ConditionFalse || a.Reason != reasonMinimumUnavailable {
		t.Fatalf("available %+v", a)
	}
	// Pods becoming available clear it.
	s.tick()
	s.tick()
	s.settle(0, 3)
	if progressReason(s.d) != reasonNewRSAvailable {
		t.Fatalf("after recovery: %q", progressReason(s.d))
	}
}

func TestDecideDeployment_claimsReplicaSets(t *testing.T) {
	d := testDeployment(1, intstr.FromInt32(1), intstr.FromInt32(0))
	orphan := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orphan", UID: "o", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Template: d.Spec.Template}}
	moved := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "moved", UID: "m", Labels: map[string]string{"app": "x"},
		OwnerReferences: []metav1.OwnerReference{controllerRef(d, deploymentKind)}}}
	theirs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "theirs", UID: "t", Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "other", UID: "other", Controller: ptr.To(true)}}}}
	plan, err := decideDeployment(d, []*appsv1.ReplicaSet{orphan, moved, theirs}, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Adopt) != 1 || plan.Adopt[0].Name != "orphan" || len(plan.Release) != 1 || plan.Release[0].Name != "moved" {
		t.Fatalf("adopt %v release %v", plan.Adopt, plan.Release)
	}
	// The adopted ReplicaSet has the template: it is the new one, no other is made.
	if plan.Create != nil {
		t.Fatalf("created %s although the adopted replicaset matches", plan.Create.Name)
	}
}

func TestDecideDeployment_emptySelectorRefused(t *testing.T) {
	d := testDeployment(1, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.Selector = &metav1.LabelSelector{}
	if _, err := decideDeployment(d, nil, nil, t0); err == nil {
		t.Fatal("an empty selector was accepted")
	}
}

func TestTemplateHash_stable(t *testing.T) {
	d := testDeployment(1, intstr.FromInt32(1), intstr.FromInt32(0))
	a := templateHash(&d.Spec.Template, nil)
	if a != templateHash(d.Spec.Template.DeepCopy(), nil) {
		t.Fatal("hash differs for the same template")
	}
	if a == templateHash(&d.Spec.Template, ptr.To[int32](1)) {
		t.Fatal("collision count does not change the hash")
	}
	d.Spec.Template.Spec.Containers[0].Image = "other"
	if a == templateHash(&d.Spec.Template, nil) {
		t.Fatal("template change does not change the hash")
	}
}
