package scheduler

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Decision is where a pod goes, or why it goes nowhere.
type Decision struct {
	// Node is the chosen node, "" when no node fits.
	Node string
	// Message says why no node fits, in kube-scheduler's words:
	// "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were
	// unschedulable."
	Message string
	// Evaluated and Feasible count the nodes filtered and the nodes that
	// passed every filter.
	Evaluated, Feasible int
}

// Reasons kube-scheduler gives for a node that does not fit.
const (
	reasonUnschedulable        = "node(s) were unschedulable"
	reasonNodeAffinity         = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts                = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods          = "Too many pods"
	reasonVolumeNodeAffinity   = "node(s) had volume node affinity conflict"
	reasonVolumeMissing        = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
	reasonSpread               = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissingLabel   = reasonSpread + " (missing required label)"
	reasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonAffinity             = "node(s) didn't match pod affinity rules"
	reasonAntiAffinity         = "node(s) didn't match pod anti-affinity rules"
	msgNoNodes                 = "no nodes available to schedule pods"
)

// Below this many nodes Schedule always filters every node, as
// kube-scheduler does.
const minFeasibleNodesToFind = 100

// candidate is what one Schedule call works out about its pod before
// visiting nodes.
type candidate struct {
	*podInfo
	requiredNodeAffinity  nodeaffinity.RequiredNodeAffinity
	preferredNodeAffinity *nodeaffinity.PreferredSchedulingTerms
	volumes               *volumeCheck
	spread                *spreadState
	interPod              *interPodState
}

// Schedule picks a node for pod. It changes nothing in the cluster but
// where the next call starts visiting nodes: the caller assumes the pod on
// the chosen node when it binds it there.
func (c *Cluster) Schedule(pod *corev1.Pod) Decision {
	n := len(c.order)
	if n == 0 {
		return Decision{Message: msgNoNodes}
	}
	cd, msg := c.newCandidate(pod)
	if msg != "" {
		return Decision{Message: fmt.Sprintf("0/%d nodes are available: %s.", n, msg)}
	}
	want := c.numFeasibleNodesToFind(n)
	feasible := c.scratch.feasible[:0]
	defer func() { clear(feasible); c.scratch.feasible = feasible[:0] }()
	var reasons map[string]int
	buf := c.scratch.reasons[:0]
	defer func() { c.scratch.reasons = buf[:0] }()
	evaluated := 0
	for ; evaluated < n && len(feasible) < want; evaluated++ {
		ni := c.order[(c.start+evaluated)%n]
		buf = c.filter(cd, ni, buf[:0])
		if len(buf) == 0 {
			feasible = append(feasible, ni)
			continue
		}
		if reasons == nil {
			reasons = map[string]int{}
		}
		for _, r := range buf {
			reasons[r]++
		}
	}
	c.start = (c.start + evaluated) % n
	d := Decision{Evaluated: evaluated, Feasible: len(feasible)}
	switch len(feasible) {
	case 0:
		d.Message = fitError(n, reasons)
	case 1:
		d.Node = feasible[0].name
	default:
		d.Node = c.pick(cd, feasible)
	}
	return d
}

// newCandidate works out what filtering and scoring ask of pod, or why
// no node can take it.
func (c *Cluster) newCandidate(pod *corev1.Pod) (*candidate, string) {
	cd := &candidate{podInfo: newPodInfo(pod, "")}
	cd.requiredNodeAffinity = nodeaffinity.GetRequiredNodeAffinity(pod)
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		if terms, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution); err == nil {
			cd.preferredNodeAffinity = terms
		}
	}
	vc, msg := c.checkVolumes(pod)
	if msg != "" {
		return nil, msg
	}
	cd.volumes = vc
	cd.spread = c.newSpreadState(cd)
	cd.interPod = c.newInterPodState(cd)
	return cd, ""
}

// numFeasibleNodesToFind is how many feasible nodes end the search.
func (c *Cluster) numFeasibleNodesToFind(n int) int {
	if n < minFeasibleNodesToFind || c.PercentageOfNodesToScore >= 100 {
		return n
	}
	pct := int(c.PercentageOfNodesToScore)
	if pct <= 0 {
		pct = max(50-n/125, 5)
	}
	return max(n*pct/100, minFeasibleNodesToFind)
}

// filter appends to out why node cannot take the pod, nothing when it
// can. Filters run in kube-scheduler's order and the first that fails
// gives the reasons.
func (c *Cluster) filter(cd *candidate, n *nodeInfo, out []string) []string {
	node := n.node
	if node.Spec.Unschedulable && !tolerates(cd.pod.Spec.Tolerations, &corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return append(out, reasonUnschedulable)
	}
	if r := untoleratedTaint(cd.pod.Spec.Tolerations, node.Spec.Taints, n.notReady); r != "" {
		return append(out, r)
	}
	if ok, err := cd.requiredNodeAffinity.Match(node); !ok || err != nil {
		return append(out, reasonNodeAffinity)
	}
	for _, hp := range cd.ports {
		if !n.portFree(hp) {
			return append(out, reasonPorts)
		}
	}
	if int64(len(n.pods))+1 > n.allowedPods {
		out = append(out, reasonTooManyPods)
	}
	if out = insufficient(&cd.req, &n.alloc, &n.requested, out); len(out) > 0 {
		return out
	}
	if r := cd.volumes.filter(node); r != "" {
		return append(out, r)
	}
	if r := cd.spread.filter(cd, n); r != "" {
		return append(out, r)
	}
	if r := cd.interPod.filter(n); r != "" {
		return append(out, r)
	}
	return out
}

// fitError is kube-scheduler's message for a pod no node fits: each
// reason with the number of nodes it applies to, sorted.
func fitError(n int, reasons map[string]int) string {
	parts := make([]string, 0, len(reasons))
	for r, count := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", count, r))
	}
	sort.Strings(parts)
	msg := fmt.Sprintf("0/%d nodes are available", n)
	if len(parts) == 0 {
		return msg + "."
	}
	return msg + ": " + strings.Join(parts, ", ") + "."
}

// pick scores the feasible nodes and returns the best. Nodes with the
// best score are told apart by a hash of the pod's UID (or name), so that
// equal nodes share the work without randomness.
func (c *Cluster) pick(cd *candidate, feasible []*nodeInfo) string {
	scores := c.score(cd, feasible)
	best := int64(-1 << 62)
	var ties []int
	for i, s := range scores {
		switch {
		case s > best:
			best = s
			ties = append(ties[:0], i)
		case s == best:
			ties = append(ties, i)
		}
	}
	if len(ties) == 1 {
		return feasible[ties[0]].name
	}
	h := fnv.New32a()
	if cd.pod.UID != "" {
		h.Write([]byte(cd.pod.UID))
	} else {
		h.Write([]byte(cd.key))
	}
	return feasible[ties[int(h.Sum32()%uint32(len(ties)))]].name
}
