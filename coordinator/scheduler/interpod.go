package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// topoCounts counts per topology key and value (a domain).
type topoCounts map[string]map[string]int64

func (t topoCounts) add(key, value string, n int64) {
	m := t[key]
	if m == nil {
		m = map[string]int64{}
		t[key] = m
	}
	m[value] += n
}

// at is the count of the node's domain for key.
func (t topoCounts) at(node *corev1.Node, key string) (int64, bool) {
	v, ok := node.Labels[key]
	if !ok {
		return 0, false
	}
	return t[key][v], true
}

// interPodState is what inter-pod affinity asks of one pod, counted over
// the bound pods before visiting nodes.
type interPodState struct {
	affinity *podAffinity
	// existingAnti counts the domains where a bound pod's required
	// anti-affinity term selects the pod.
	existingAnti topoCounts
	// matchingAll counts, per domain, the bound pods that every required
	// affinity term of the pod selects; matchingAnti the bound pods a
	// required anti-affinity term selects, by that term's key.
	matchingAll, matchingAnti topoCounts
	// selfMatch: every required affinity term selects the pod itself, so
	// the first pod of a group may go anywhere.
	selfMatch bool
	// preferred sums the weights of preferred terms, the pod's and those
	// of bound pods selecting it (negative for anti-affinity).
	preferred topoCounts
}

func (c *Cluster) newInterPodState(cd *candidate) *interPodState {
	a := cd.affinity
	if a == nil && len(c.affinityPods) == 0 {
		return nil
	}
	st := &interPodState{affinity: a, existingAnti: topoCounts{}, matchingAll: topoCounts{}, matchingAnti: topoCounts{}, preferred: topoCounts{}}
	pod := cd.pod
	for _, p := range c.affinityPods {
		node := c.nodes[p.node].node
		if node == nil {
			continue
		}
		for i := range p.affinity.requiredAnti {
			t := &p.affinity.requiredAnti[i]
			if v, ok := node.Labels[t.topologyKey]; ok && t.matches(pod, c.namespaces) {
				st.existingAnti.add(t.topologyKey, v, 1)
			}
		}
		// Bound pods' preferences weigh on the pods they select, and
		// their required affinity with weight 1, as in kube-scheduler.
		for _, terms := range [][]affinityTerm{p.affinity.preferred, p.affinity.required} {
			for i := range terms {
				t := &terms[i]
				if v, ok := node.Labels[t.topologyKey]; ok && t.matches(pod, c.namespaces) {
					st.preferred.add(t.topologyKey, v, t.weight)
				}
			}
		}
		for i := range p.affinity.preferredAnti {
			t := &p.affinity.preferredAnti[i]
			if v, ok := node.Labels[t.topologyKey]; ok && t.matches(pod, c.namespaces) {
				st.preferred.add(t.topologyKey, v, -t.weight)
			}
		}
	}
	if a == nil {
		return st
	}
	st.selfMatch = len(a.required) > 0
	for i := range a.required {
		if !a.required[i].matches(pod, c.namespaces) {
			st.selfMatch = false
		}
	}
	for _, n := range c.nodes {
		if n.node == nil {
			continue
		}
		for _, p := range n.pods {
			st.count(n.node, p.pod, c.namespaces)
		}
	}
	return st
}

// count adds bound pod p, on node, to the pod's terms.
func (st *interPodState) count(node *corev1.Node, p *corev1.Pod, namespaces map[string]labels.Set) {
	a := st.affinity
	if len(a.required) > 0 {
		all := true
		for i := range a.required {
			if !a.required[i].matches(p, namespaces) {
				all = false
				break
			}
		}
		if all {
			for i := range a.required {
				if v, ok := node.Labels[a.required[i].topologyKey]; ok {
					st.matchingAll.add(a.required[i].topologyKey, v, 1)
				}
			}
		}
	}
	for i := range a.requiredAnti {
		t := &a.requiredAnti[i]
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(p, namespaces) {
			st.matchingAnti.add(t.topologyKey, v, 1)
		}
	}
	for i := range a.preferred {
		t := &a.preferred[i]
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(p, namespaces) {
			st.preferred.add(t.topologyKey, v, t.weight)
		}
	}
	for i := range a.preferredAnti {
		t := &a.preferredAnti[i]
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(p, namespaces) {
			st.preferred.add(t.topologyKey, v, -t.weight)
		}
	}
}

// filter returns why the pod's or the bound pods' required terms keep it
// off n: its affinity, its anti-affinity, then the bound pods'
// anti-affinity.
func (st *interPodState) filter(n *nodeInfo) string {
	if st == nil {
		return ""
	}
	if a := st.affinity; a != nil {
		if r := st.filterOwn(a, n); r != "" {
			return r
		}
	}
	for key := range st.existingAnti {
		if count, _ := st.existingAnti.at(n.node, key); count > 0 {
			return reasonExistingAntiAffinity
		}
	}
	return ""
}

// filterOwn checks the pod's own required terms, affinity first, as
// kube-scheduler does.
func (st *interPodState) filterOwn(a *podAffinity, n *nodeInfo) string {
	if len(a.required) > 0 {
		ok := true
		for i := range a.required {
			count, has := st.matchingAll.at(n.node, a.required[i].topologyKey)
			if !has {
				return reasonAffinity
			}
			if count <= 0 {
				ok = false
			}
		}
		if !ok && !(len(st.matchingAll) == 0 && st.selfMatch) {
			return reasonAffinity
		}
	}
	for i := range a.requiredAnti {
		if count, _ := st.matchingAnti.at(n.node, a.requiredAnti[i].topologyKey); count > 0 {
			return reasonAntiAffinity
		}
	}
	return ""
}

// raw is the sum of preferred weights for n's domains.
func (st *interPodState) raw(n *nodeInfo) int64 {
	var sum int64
	for key := range st.preferred {
		v, _ := st.preferred.at(n.node, key)
		sum += v
	}
	return sum
}
