package scheduler

// Weights of the scores, as in kube-scheduler's default profile; the
// spreading of a controller's pods over nodes weighs as the default
// topology spreading does.
const (
	maxNodeScore           = 100
	weightLeastAllocated   = 1
	weightBalanced         = 1
	weightNodeAffinity     = 2
	weightTaintToleration  = 3
	weightInterPodAffinity = 2
	weightTopologySpread   = 2
	weightControllerSpread = 2
)

// score returns the weighted score of each feasible node, higher better.
// Every score is normalized to 0..100 over the feasible nodes before
// weighing.
func (c *Cluster) score(cd *candidate, feasible []*nodeInfo) []int64 {
	sc := &c.scratch
	sc.total = grow(sc.total, len(feasible))
	sc.raw = grow(sc.raw, len(feasible))
	sc.ok = grow(sc.ok, len(feasible))
	total, raw, ok := sc.total, sc.raw, sc.ok
	clear(total)
	for i, n := range feasible {
		total[i] = weightLeastAllocated*leastAllocated(cd, n) + weightBalanced*balanced(cd, n)
	}
	if p := cd.preferredNodeAffinity; p != nil {
		for i, n := range feasible {
			raw[i] = p.Score(n.node)
		}
		addScaled(total, raw, weightNodeAffinity, false)
	}
	anyTaint := false
	for i, n := range feasible {
		raw[i] = preferNoScheduleCount(cd.pod.Spec.Tolerations, n.node.Spec.Taints)
		anyTaint = anyTaint || raw[i] > 0
	}
	if anyTaint {
		addScaled(total, raw, weightTaintToleration, true)
	}
	if st := cd.interPod; st != nil && len(st.preferred) > 0 {
		lo, hi := int64(1<<62), int64(-1<<62)
		for i, n := range feasible {
			raw[i] = st.raw(n)
			lo, hi = min(lo, raw[i]), max(hi, raw[i])
		}
		if hi > lo {
			for i := range feasible {
				total[i] += weightInterPodAffinity * maxNodeScore * (raw[i] - lo) / (hi - lo)
			}
		}
	}
	if st := cd.spread; st != nil && len(st.soft) > 0 {
		hi := int64(0)
		for i, n := range feasible {
			raw[i], ok[i] = st.raw(n)
			if ok[i] {
				hi = max(hi, raw[i])
			}
		}
		for i := range feasible {
			if !ok[i] {
				continue
			}
			s := int64(maxNodeScore)
			if hi > 0 {
				s = maxNodeScore * (hi - raw[i]) / hi
			}
			total[i] += weightTopologySpread * s
		}
	}
	if m := c.controllers[cd.controller]; cd.controller != "" {
		for i, n := range feasible {
			raw[i] = m[n]
		}
		addScaled(total, raw, weightControllerSpread, true)
	}
	return total
}

// addScaled adds raw scaled to 0..100 by its largest value (reversed:
// the largest scores 0) and weighed.
func addScaled(total, raw []int64, weight int64, reverse bool) {
	hi := int64(0)
	for _, r := range raw {
		hi = max(hi, r)
	}
	for i, r := range raw {
		s := int64(maxNodeScore)
		if hi > 0 {
			s = maxNodeScore * r / hi
			if reverse {
				s = maxNodeScore - s
			}
		} else if !reverse {
			s = 0
		}
		total[i] += weight * s
	}
}

// leastAllocated favors nodes with more cpu and memory free once the pod
// is placed, cpu and memory weighing the same.
func leastAllocated(cd *candidate, n *nodeInfo) int64 {
	free := func(alloc, used int64) int64 {
		if alloc <= 0 || used > alloc {
			return 0
		}
		return (alloc - used) * maxNodeScore / alloc
	}
	return (free(n.alloc.MilliCPU, n.nonZeroCPU+cd.nonZeroCPU) + free(n.alloc.Memory, n.nonZeroMem+cd.nonZeroMem)) / 2
}

// balanced favors nodes whose cpu and memory would be used in the same
// proportion.
func balanced(cd *candidate, n *nodeInfo) int64 {
	frac := func(alloc, used int64) float64 {
		if alloc <= 0 {
			return 1
		}
		return min(float64(used)/float64(alloc), 1)
	}
	cpu := frac(n.alloc.MilliCPU, n.nonZeroCPU+cd.nonZeroCPU)
	mem := frac(n.alloc.Memory, n.nonZeroMem+cd.nonZeroMem)
	d := cpu - mem
	if d < 0 {
		d = -d
	}
	return int64((1 - d/2) * maxNodeScore)
}

// grow returns s with length n, reusing its array when large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
