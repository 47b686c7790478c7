package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestSchedule_scores(t *testing.T) {
	zones := three(map[string][]nodeOpt{
		"n1": {withLabels("zone", "a")}, "n2": {withLabels("zone", "a")}, "n3": {withLabels("zone", "b")},
	})
	web := selectorOf("app", "web")
	cases := []struct {
		name  string
		nodes []*corev1.Node
		bound []*corev1.Pod
		pod   *corev1.Pod
		want  string
	}{
		{
			name:  "least allocated",
			nodes: zones, bound: []*corev1.Pod{pod("a", on("n1"), requests("cpu", "1", "memory", "1Gi")), pod("b", on("n3"), requests("cpu", "500m", "memory", "1Gi"))},
			pod: pod("p"), want: "n2",
		},
		{
			name:  "least allocated counts pods without requests",
			nodes: zones, bound: []*corev1.Pod{pod("a", on("n1")), pod("b", on("n1")), pod("c", on("n3"))},
			pod: pod("p"), want: "n2",
		},
		{
			name: "preferred node affinity by weight", nodes: zones,
			pod: pod("p", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
					{Weight: 10, Preference: expr("zone", corev1.NodeSelectorOpIn, "a")},
					{Weight: 50, Preference: expr(corev1.LabelHostname, corev1.NodeSelectorOpIn, "n3")},
				}}}
			}),
			want: "n3",
		},
		{
			name: "PreferNoSchedule taints are avoided",
			nodes: three(map[string][]nodeOpt{
				"n1": {withTaint("soft", "", corev1.TaintEffectPreferNoSchedule)},
				"n2": {withTaint("soft", "", corev1.TaintEffectPreferNoSchedule)},
			}),
			pod: pod("p"), want: "n3",
		},
		{
			name: "tolerated PreferNoSchedule taints are not",
			nodes: three(map[string][]nodeOpt{
				"n1": {withTaint("soft", "", corev1.TaintEffectPreferNoSchedule)},
				"n2": {withTaint("other", "", corev1.TaintEffectPreferNoSchedule)},
				"n3": {withTaint("other", "", corev1.TaintEffectPreferNoSchedule)},
			}),
			pod: pod("p", tolerating("soft", corev1.TaintEffectPreferNoSchedule)), want: "n1",
		},
		{
			name: "preferred pod affinity", nodes: zones, bound: []*corev1.Pod{pod("cache", on("n3"), podLabels("app", "cache"))},
			pod:  pod("p", preferredAffinity(100, podAffinityTerm("zone", selectorOf("app", "cache")))),
			want: "n3",
		},
		{
			name: "preferred pod anti-affinity", nodes: zones, bound: []*corev1.Pod{pod("w1", on("n1"), podLabels("app", "web"))},
			pod:  pod("p", preferredAntiAffinity(100, podAffinityTerm("zone", web))),
			want: "n3",
		},
		{
			name: "bound pods' preferred anti-affinity", nodes: zones,
			bound: []*corev1.Pod{pod("shy", on("n1"), preferredAntiAffinity(100, podAffinityTerm("zone", web)))},
			pod:   pod("p", podLabels("app", "web")),
			want:  "n3",
		},
		{
			name: "ScheduleAnyway spreading", nodes: zones,
			bound: []*corev1.Pod{pod("w1", on("n1"), podLabels("app", "web")), pod("w2", on("n2"), podLabels("app", "web"), requests("cpu", "0"))},
			pod:   pod("p", podLabels("app", "web"), spread("zone", 1, corev1.ScheduleAnyway, web)),
			want:  "n3",
		},
		{
			name: "a controller's pods spread", nodes: zones,
			bound: []*corev1.Pod{pod("r1", on("n1"), ownedBy("rs-1")), pod("r2", on("n3"), ownedBy("rs-1")), pod("other", on("n2")), pod("other2", on("n2"))},
			pod:   pod("p", ownedBy("rs-1")),
			want:  "n2",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster(tc.nodes, tc.bound...)
			if d := c.Schedule(tc.pod); d.Node != tc.want {
				t.Fatalf("scheduled on %q (%s), want %s", d.Node, d.Message, tc.want)
			}
		})
	}
}

// Schedule one pod after another, assuming each where it was placed.
func scheduleAll(t *testing.T, c *Cluster, pods ...*corev1.Pod) map[string]int {
	t.Helper()
	per := map[string]int{}
	for _, p := range pods {
		d := c.Schedule(p)
		if d.Node == "" {
			t.Fatalf("%s: %s", p.Name, d.Message)
		}
		c.Assume(p, d.Node)
		per[d.Node]++
	}
	return per
}

func TestSchedule_replicasSpreadEvenly(t *testing.T) {
	c := cluster(three())
	var pods []*corev1.Pod
	for i := range 6 {
		pods = append(pods, pod(fmt.Sprintf("web-%d", i), ownedBy("rs-web"), requests("cpu", "100m", "memory", "64Mi")))
	}
	got := scheduleAll(t, c, pods...)
	if want := map[string]int{"n1": 2, "n2": 2, "n3": 2}; !maps.Equal(got, want) {
		t.Fatalf("placement %v, want %v", got, want)
	}
}

func TestSchedule_antiAffinityReplicasOnePerNode(t *testing.T) {
	c := cluster(three())
	mk := func(i int) *corev1.Pod {
		return pod(fmt.Sprintf("db-%d", i), podLabels("app", "db"), requiredAntiAffinity(podAffinityTerm(corev1.LabelHostname, selectorOf("app", "db"))))
	}
	got := scheduleAll(t, c, mk(0), mk(1), mk(2))
	if want := map[string]int{"n1": 1, "n2": 1, "n3": 1}; !maps.Equal(got, want) {
		t.Fatalf("placement %v, want %v", got, want)
	}
	d := c.Schedule(mk(3))
	if want := "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."; d.Message != want {
		t.Fatalf("fourth replica: %+v, want %q", d, want)
	}
}

func TestSchedule_tiesAreSpreadDeterministically(t *testing.T) {
	c := cluster(three())
	seen := map[string]bool{}
	for i := range 30 {
		p := pod(fmt.Sprintf("p-%d", i))
		first := c.Schedule(p).Node
		if again := c.Schedule(p).Node; again != first {
			t.Fatalf("%s: %s then %s", p.Name, first, again)
		}
		seen[first] = true
	}
	if len(seen) != 3 {
		t.Fatalf("equal nodes chosen: %v, want all three", slices.Sorted(maps.Keys(seen)))
	}
}

func TestSchedule_samplesLargeClusters(t *testing.T) {
	var nodes []*corev1.Node
	for i := range 1000 {
		nodes = append(nodes, node(fmt.Sprintf("n%04d", i), "4", "8Gi"))
	}
	c := cluster(nodes)
	cases := []struct {
		pct  int32
		want int
	}{{0, 420}, {10, 100}, {30, 300}, {100, 1000}}
	for _, tc := range cases {
		c.PercentageOfNodesToScore = tc.pct
		d := c.Schedule(pod("p"))
		if d.Evaluated != tc.want || d.Feasible != tc.want {
			t.Errorf("percentage %d: evaluated %d, feasible %d, want %d", tc.pct, d.Evaluated, d.Feasible, tc.want)
		}
	}
	// A pod that fits nowhere is checked against every node.
	c.PercentageOfNodesToScore = 0
	d := c.Schedule(pod("big", requests("cpu", "8")))
	if d.Evaluated != 1000 || d.Message != "0/1000 nodes are available: 1000 Insufficient cpu." {
		t.Fatalf("got %+v", d)
	}
	// Visits start where the last pod stopped.
	c.PercentageOfNodesToScore = 10
	c.start = 0
	first := c.Schedule(pod("a")).Node
	second := c.Schedule(pod("a")).Node
	if first == second {
		t.Fatalf("consecutive pods both went to %s", first)
	}
}
