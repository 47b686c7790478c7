package scheduler

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzSchedule feeds pods decoded from arbitrary JSON to the core, both
// to schedule and as bound pods other pods are scheduled against: any
// pod must get a node or a message, never a panic.
func FuzzSchedule(f *testing.F) {
	for _, p := range []*corev1.Pod{
		pod("plain", requests("cpu", "1")),
		pod("ports", hostPortOf(80, "", ""), tolerating("x", "")),
		pod("affine", podLabels("app", "web"), requiredAntiAffinity(podAffinityTerm("zone", selectorOf("app", "web"))),
			preferredAffinity(10, podAffinityTerm(corev1.LabelHostname, selectorOf("app", "db"))), spread("zone", 1, corev1.DoNotSchedule, selectorOf("app", "web")),
			nodeAffinity(expr("gen", corev1.NodeSelectorOpGt, "2")), claimVolume("data")),
	} {
		b, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchExpressions":[{"key":"a","operator":"Bogus"}]},"topologyKey":""}]}}}}`))
	f.Add([]byte(`{"spec":{"topologySpreadConstraints":[{"maxSkew":0,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","minDomains":-1}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p corev1.Pod
		if err := json.Unmarshal(data, &p); err != nil {
			return
		}
		if p.Name == "" {
			p.Name = "fuzzed"
		}
		p.Spec.NodeName = ""
		nodes := three(map[string][]nodeOpt{
			"n1": {withLabels("zone", "a", "gen", "3")}, "n2": {withLabels("zone", "b"), withTaint("x", "y", corev1.TaintEffectNoSchedule)},
		})
		c := cluster(nodes, pod("w", on("n1"), podLabels("app", "web")))
		bound := p.DeepCopy()
		bound.Name += "-bound"
		bound.Spec.NodeName = "n3"
		c.SetPod(bound)
		d := c.Schedule(&p)
		if d.Node == "" && d.Message == "" {
			t.Fatal("no node and no message")
		}
		if d.Node != "" {
			c.Assume(&p, d.Node)
			c.Forget(podKey(&p))
		}
		c.RemovePod(podKey(bound))
		if len(c.pods) != 1 {
			t.Fatalf("%d pods left, want 1", len(c.pods))
		}
	})
}
