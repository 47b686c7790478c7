package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// spreadConstraint is a topology spread constraint with its selector
// parsed and the matching pods counted per domain.
type spreadConstraint struct {
	key       string
	maxSkew   int64
	selector  labels.Selector
	selfMatch int64
	counts    map[string]int64 // domain (the node label's value) to matching pods
	min       int64            // the smallest count, 0 with fewer domains than minDomains
}

// spreadState is what topologySpreadConstraints ask of one pod: hard
// constraints filter nodes, soft ones score them.
type spreadState struct {
	hard, soft []*spreadConstraint
}

// newSpreadState counts, for each constraint of the pod, the pods of its
// namespace its selector matches in each domain. Only nodes that have
// every constraint's key and match the pod's required node affinity and
// selector count (Kubernetes' default nodeAffinityPolicy Honor); with
// nodeTaintsPolicy Honor, nodes with taints the pod does not tolerate do
// not count either.
func (c *Cluster) newSpreadState(cd *candidate) *spreadState {
	pod := cd.pod
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		return nil
	}
	st := &spreadState{}
	var all []*spreadConstraint
	var honorTaints, ignoreAffinity []bool
	for i := range pod.Spec.TopologySpreadConstraints {
		tc := &pod.Spec.TopologySpreadConstraints[i]
		sc := &spreadConstraint{key: tc.TopologyKey, maxSkew: int64(tc.MaxSkew), selector: labels.Nothing(), counts: map[string]int64{}}
		if tc.LabelSelector != nil {
			if sel, err := metav1.LabelSelectorAsSelector(tc.LabelSelector); err == nil {
				sc.selector = withLabelKeys(sel, pod.Labels, tc.MatchLabelKeys, nil)
			}
		}
		if sc.selector.Matches(labels.Set(pod.Labels)) {
			sc.selfMatch = 1
		}
		if tc.WhenUnsatisfiable == corev1.ScheduleAnyway {
			st.soft = append(st.soft, sc)
		} else {
			st.hard = append(st.hard, sc)
		}
		all = append(all, sc)
		honorTaints = append(honorTaints, tc.NodeTaintsPolicy != nil && *tc.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor)
		ignoreAffinity = append(ignoreAffinity, tc.NodeAffinityPolicy != nil && *tc.NodeAffinityPolicy == corev1.NodeInclusionPolicyIgnore)
	}
	for _, n := range c.order {
		if !hasKeys(n.node, st.hard) {
			continue
		}
		var affinityOK, taintsOK *bool
		for i, sc := range all {
			value, ok := n.node.Labels[sc.key]
			if !ok {
				continue
			}
			if !ignoreAffinity[i] {
				if affinityOK == nil {
					m, err := cd.requiredNodeAffinity.Match(n.node)
					b := m && err == nil
					affinityOK = &b
				}
				if !*affinityOK {
					continue
				}
			}
			if honorTaints[i] {
				if taintsOK == nil {
					b := untoleratedTaint(pod.Spec.Tolerations, n.node.Spec.Taints, nil) == ""
					taintsOK = &b
				}
				if !*taintsOK {
					continue
				}
			}
			sc.counts[value] += countMatching(n, pod.Namespace, sc.selector)
		}
	}
	for i, sc := range all {
		sc.min = math.MaxInt64
		for _, v := range sc.counts {
			sc.min = min(sc.min, v)
		}
		tc := &pod.Spec.TopologySpreadConstraints[i]
		if sc.min == math.MaxInt64 || (tc.MinDomains != nil && int32(len(sc.counts)) < *tc.MinDomains) {
			sc.min = 0
		}
	}
	return st
}

func hasKeys(node *corev1.Node, cs []*spreadConstraint) bool {
	for _, sc := range cs {
		if _, ok := node.Labels[sc.key]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts the pods on n of namespace ns that sel matches and
// that are not being deleted.
func countMatching(n *nodeInfo, ns string, sel labels.Selector) int64 {
	var count int64
	for _, p := range n.pods {
		if p.pod.Namespace == ns && p.pod.DeletionTimestamp == nil && sel.Matches(labels.Set(p.pod.Labels)) {
			count++
		}
	}
	return count
}

// filter returns why placing the pod on n would break a hard constraint.
func (st *spreadState) filter(cd *candidate, n *nodeInfo) string {
	if st == nil {
		return ""
	}
	for _, sc := range st.hard {
		value, ok := n.node.Labels[sc.key]
		if !ok {
			return reasonSpreadMissingLabel
		}
		if sc.counts[value]+sc.selfMatch-sc.min > sc.maxSkew {
			return reasonSpread
		}
	}
	return ""
}

// raw is the number of matching pods in n's domains over the soft
// constraints; fewer is better. Nodes without a constraint's key count
// as the worst.
func (st *spreadState) raw(n *nodeInfo) (int64, bool) {
	var sum int64
	for _, sc := range st.soft {
		value, ok := n.node.Labels[sc.key]
		if !ok {
			return 0, false
		}
		sum += sc.counts[value]
	}
	return sum, true
}
