package controllers

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var dsNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testDaemonSet() *appsv1.DaemonSet {
	labels := map[string]string{"app": "agent"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "agent:1"}}}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}},
			RevisionHistoryLimit: ptr.To[int32](10),
		},
	}
}

func testNode(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

// daemonPod is a pod of ds on node made from the template with hash,
// ready (and available) when ready is set.
func daemonPod(ds *appsv1.DaemonSet, node, hash string, ready bool, age time.Duration) *corev1.Pod {
	p := newDaemonPod(ds, node, hash)
	p.Name = fmt.Sprintf("%s-%s-%s", ds.Name, node, hash)
	p.UID = types.UID("uid-" + p.Name)
	p.CreationTimestamp = metav1.NewTime(dsNow.Add(-age))
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(dsNow.Add(-age))}}
	}
	return p
}

func TestShouldRunOn_eligibility(t *testing.T) {
	hostNet := testDaemonSet()
	hostNet.Spec.Template.Spec.HostNetwork = true
	selecting := testDaemonSet()
	selecting.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"}
	affine := testDaemonSet()
	affine.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
	tolerant := testDaemonSet()
	tolerant.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	taint := func(key string, e corev1.TaintEffect) corev1.Taint { return corev1.Taint{Key: key, Effect: e} }
	for _, tc := range []struct {
		name      string
		ds        *appsv1.DaemonSet
		node      *corev1.Node
		run, keep bool
	}{
		{"plain node", testDaemonSet(), testNode("n", nil), true, true},
		{"not ready", testDaemonSet(), testNode("n", nil, taint(taintNotReady, corev1.TaintEffectNoExecute)), true, true},
		{"unreachable", testDaemonSet(), testNode("n", nil, taint(taintUnreachable, corev1.TaintEffectNoExecute)), true, true},
		{"disk pressure", testDaemonSet(), testNode("n", nil, taint(taintDiskPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"memory pressure", testDaemonSet(), testNode("n", nil, taint(taintMemoryPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"pid pressure", testDaemonSet(), testNode("n", nil, taint(taintPIDPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"cordoned", testDaemonSet(), testNode("n", nil, taint(taintUnschedulable, corev1.TaintEffectNoSchedule)), true, true},
		{"network unavailable", testDaemonSet(), testNode("n", nil, taint(taintNetworkUnavailable, corev1.TaintEffectNoSchedule)), false, true},
		{"network unavailable, host network", hostNet, testNode("n", nil, taint(taintNetworkUnavailable, corev1.TaintEffectNoSchedule)), true, true},
		{"foreign NoSchedule", testDaemonSet(), testNode("n", nil, taint("dedicated", corev1.TaintEffectNoSchedule)), false, true},
		{"foreign NoExecute", testDaemonSet(), testNode("n", nil, taint("dedicated", corev1.TaintEffectNoExecute)), false, false},
		{"foreign PreferNoSchedule", testDaemonSet(), testNode("n", nil, taint("dedicated", corev1.TaintEffectPreferNoSchedule)), true, true},
		{"tolerated", tolerant, testNode("n", nil, corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"selector matches", selecting, testNode("n", map[string]string{"role": "edge"}), true, true},
		{"selector misses", selecting, testNode("n", map[string]string{"role": "core"}), false, false},
		{"affinity matches", affine, testNode("n", map[string]string{"zone": "a"}), true, true},
		{"affinity misses", affine, testNode("n", map[string]string{"zone": "b"}), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, keep := shouldRunOn(tc.ds, tc.node)
			if run != tc.run || keep != tc.keep {
				t.Fatalf("run %v keep %v, want %v %v", run, keep, tc.run, tc.keep)
			}
		})
	}
}

func TestNewDaemonPod_affinityAndTolerations(t *testing.T) {
	ds := testDaemonSet()
	ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}}}
	p := newDaemonPod(ds, "edge-1", "abc")
	if p.Spec.NodeName != "" || targetNode(p) != "edge-1" {
		t.Fatalf("nodeName %q target %q", p.Spec.NodeName, targetNode(p))
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 || terms[0].MatchFields[0].Key != "metadata.name" {
		t.Fatalf("affinity terms %+v", terms)
	}
	if ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields != nil {
		t.Fatal("the template was changed")
	}
	var keys []string
	for _, tol := range p.Spec.Tolerations {
		keys = append(keys, tol.Key+":"+string(tol.Effect))
	}
	want := []string{taintNotReady + ":NoExecute", taintUnreachable + ":NoExecute", taintDiskPressure + ":NoSchedule",
		taintMemoryPressure + ":NoSchedule", taintPIDPressure + ":NoSchedule", taintUnschedulable + ":NoSchedule"}
	if !slices.Equal(keys, want) {
		t.Fatalf("tolerations %v, want %v", keys, want)
	}
	if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "abc" || p.Labels[templateGenerationLabel] != "1" || p.GenerateName != "agent-" {
		t.Fatalf("labels %v name %q", p.Labels, p.GenerateName)
	}
}

func podNames(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func TestDecideDaemonSet_placement(t *testing.T) {
	ds := testDaemonSet()
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"run": "yes"}
	hash := templateHash(&ds.Spec.Template, nil)
	yes := map[string]string{"run": "yes"}
	nodes := []*corev1.Node{testNode("a", yes), testNode("b", yes), testNode("c", nil)}
	pods := []*corev1.Pod{
		daemonPod(ds, "a", hash, true, time.Hour),
		daemonPod(ds, "c", hash, true, time.Hour),    // no longer eligible
		daemonPod(ds, "gone", hash, true, time.Hour), // node deleted
	}
	dup := daemonPod(ds, "a", hash, true, time.Minute)
	dup.Name = "agent-a-dup"
	pods = append(pods, dup)
	plan, err := decideDaemonSet(DaemonSetFacts{DaemonSet: ds, Nodes: nodes, Pods: pods}, dsNow)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Create, []string{"b"}) {
		t.Errorf("create on %v, want [b]", plan.Create)
	}
	if got, want := podNames(plan.Delete), []string{"agent-a-dup", "agent-c-" + hash, "agent-gone-" + hash}; !slices.Equal(got, want) {
		t.Errorf("delete %v, want %v", got, want)
	}
	if !plan.Revision.Create || plan.Revision.Current.Revision != 1 || plan.Revision.Current.Name != "agent-"+hash {
		t.Errorf("revision plan %+v", plan.Revision)
	}
	st := plan.Status
	if st.DesiredNumberScheduled != 2 || st.CurrentNumberScheduled != 1 || st.NumberMisscheduled != 1 ||
		st.NumberReady != 1 || st.NumberAvailable != 1 || st.UpdatedNumberScheduled != 1 || st.NumberUnavailable != 1 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
}

// rollout runs a rolling update to its end the way the loop and the nodes
// would: each step's deletions and creations happen, new pods come up
// unready and get ready one step later. It returns, per step, the number
// of nodes without an available pod and with two pods.
func rollout(t *testing.T, ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod) (unavail, surged []int) {
	t.Helper()
	hash := templateHash(&ds.Spec.Template, nil)
	for step := 0; step < 50; step++ {
		for _, p := range pods {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(dsNow.Add(-time.Hour))}}
		}
		plan, err := decideDaemonSet(DaemonSetFacts{DaemonSet: ds, Nodes: nodes, Pods: pods}, dsNow)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Create) == 0 && len(plan.Delete) == 0 {
			if plan.Status.UpdatedNumberScheduled != int32(len(nodes)) || plan.Status.NumberAvailable != int32(len(nodes)) {
				t.Fatalf("rollout stalled at step %d: %+v", step, plan.Status)
			}
			return unavail, surged
		}
		gone := map[string]bool{}
		for _, p := range plan.Delete {
			gone[p.Name] = true
		}
		var next []*corev1.Pod
		for _, p := range pods {
			if !gone[p.Name] {
				next = append(next, p)
			}
		}
		for _, n := range plan.Create {
			p := daemonPod(ds, n, hash, false, 0)
			p.Name += fmt.Sprint("-", step)
			next = append(next, p)
		}
		pods = next
		per := map[string]int{}
		avail := map[string]bool{}
		for _, p := range pods {
			per[p.Spec.NodeName]++
			avail[p.Spec.NodeName] = avail[p.Spec.NodeName] || isReadyNow(p)
		}
		u, s := 0, 0
		for _, n := range nodes {
			if !avail[n.Name] {
				u++
			}
			if per[n.Name] > 1 {
				s++
			}
		}
		unavail, surged = append(unavail, u), append(surged, s)
	}
	t.Fatal("rollout did not finish in 50 steps")
	return nil, nil
}

func isReadyNow(p *corev1.Pod) bool {
	return len(p.Status.Conditions) > 0 && p.Status.Conditions[0].Status == corev1.ConditionTrue
}

func TestDecideDaemonSet_rollingUpdate(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		maxUnavailable, maxSurge intstr.IntOrString
		wantUnavail, wantSurge   int // most at any step
	}{
		{"one at a time", intstr.FromInt32(1), intstr.FromInt32(0), 1, 0},
		{"two at a time", intstr.FromInt32(2), intstr.FromInt32(0), 2, 0},
		{"half", intstr.FromString("50%"), intstr.FromInt32(0), 3, 0},
		{"surge one", intstr.FromInt32(0), intstr.FromInt32(1), 0, 1},
		{"surge all", intstr.FromInt32(0), intstr.FromString("100%"), 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := testDaemonSet()
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &tc.maxUnavailable, MaxSurge: &tc.maxSurge}
			oldHash := templateHash(&ds.Spec.Template, nil)
			var nodes []*corev1.Node
			var pods []*corev1.Pod
			for i := range 5 {
				n := testNode(fmt.Sprint("n", i), nil)
				nodes = append(nodes, n)
				pods = append(pods, daemonPod(ds, n.Name, oldHash, true, time.Hour))
			}
			ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
			ds.Generation = 2
			unavail, surged := rollout(t, ds, nodes, pods)
			if m := slices.Max(unavail); m != tc.wantUnavail {
				t.Errorf("at most %d nodes without an available pod (%v), want %d", m, unavail, tc.wantUnavail)
			}
			if m := slices.Max(surged); m != tc.wantSurge {
				t.Errorf("at most %d nodes with two pods (%v), want %d", m, surged, tc.wantSurge)
			}
		})
	}
}

func TestDecideDaemonSet_onDeleteLeavesOldPods(t *testing.T) {
	ds := testDaemonSet()
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	old := templateHash(&ds.Spec.Template, nil)
	pods := []*corev1.Pod{daemonPod(ds, "a", old, true, time.Hour)}
	ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
	plan, err := decideDaemonSet(DaemonSetFacts{DaemonSet: ds, Nodes: []*corev1.Node{testNode("a", nil), testNode("b", nil)}, Pods: pods}, dsNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Delete) != 0 || !slices.Equal(plan.Create, []string{"b"}) || plan.Status.UpdatedNumberScheduled != 0 {
		t.Fatalf("delete %v create %v status %+v", podNames(plan.Delete), plan.Create, plan.Status)
	}
}

func TestPlanRevisions(t *testing.T) {
	ds := testDaemonSet()
	mk := func(image string, rev int64) *appsv1.ControllerRevision {
		d := ds.DeepCopy()
		d.Spec.Template.Spec.Containers[0].Image = image
		h := templateHash(&d.Spec.Template, nil)
		r := newRevision(d, daemonSetKind, revisionName(d.Name, h), templatePatch(&d.Spec.Template), d.Spec.Template.Labels,
			map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: h})
		r.Revision = rev
		return r
	}
	v1, v2, v3 := mk("agent:1", 1), mk("agent:2", 2), mk("agent:3", 3)
	none := func(*appsv1.ControllerRevision) bool { return false }
	// A new template gets the next number.
	p := planRevisions([]*appsv1.ControllerRevision{v1, v2}, mk("agent:3", 0), none, 10)
	if !p.Create || p.Current.Revision != 3 || len(p.Delete) != 0 {
		t.Fatalf("new template: %+v", p)
	}
	// An older template coming back (undo) is renumbered.
	p = planRevisions([]*appsv1.ControllerRevision{v1, v2, v3}, mk("agent:1", 0), none, 10)
	if p.Create || !p.Renumber || p.Current.Name != v1.Name || p.Current.Revision != 4 {
		t.Fatalf("rollback: %+v", p)
	}
	// The current one stays as it is.
	p = planRevisions([]*appsv1.ControllerRevision{v1, v2, v3}, mk("agent:3", 0), none, 10)
	if p.Create || p.Renumber || p.Current.Revision != 3 {
		t.Fatalf("steady: %+v", p)
	}
	// History beyond the limit goes, oldest first, unless in use.
	p = planRevisions([]*appsv1.ControllerRevision{v1, v2, v3}, mk("agent:3", 0), none, 1)
	if got := len(p.Delete); got != 1 || p.Delete[0].Name != v1.Name {
		t.Fatalf("cleanup: %+v", p.Delete)
	}
	p = planRevisions([]*appsv1.ControllerRevision{v1, v2, v3}, mk("agent:3", 0), func(r *appsv1.ControllerRevision) bool { return r == v1 }, 0)
	if got := len(p.Delete); got != 1 || p.Delete[0].Name != v2.Name {
		t.Fatalf("cleanup keeping a used revision: %+v", p.Delete)
	}
}
