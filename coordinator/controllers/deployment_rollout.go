package controllers

import (
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	deployutil "k8s.io/kubectl/pkg/util/deployment"
)

func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType
}

// fenceposts resolves maxSurge and maxUnavailable against the replica
// count, rounding surge up and unavailability down as Kubernetes does.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	if !isRolling(d) || d.Spec.Strategy.RollingUpdate == nil {
		return 0, 0
	}
	ru := d.Spec.Strategy.RollingUpdate
	surge, unavailable, err := deployutil.ResolveFenceposts(ru.MaxSurge, ru.MaxUnavailable, replicasOf(d.Spec.Replicas))
	if err != nil {
		// Validation accepts only integers and percentages.
		return 0, 1
	}
	return surge, unavailable
}

func maxSurge(d *appsv1.Deployment) int32 {
	s, _ := fenceposts(d)
	return s
}

func maxUnavailable(d *appsv1.Deployment) int32 {
	n := replicasOf(d.Spec.Replicas)
	if !isRolling(d) || n == 0 {
		return 0
	}
	_, u := fenceposts(d)
	return min(u, n)
}

func specSum(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += replicasOf(rs.Spec.Replicas)
	}
	return n
}

// availableSum counts the available pods of rss, never more than a
// ReplicaSet asks for: a scaled-down ReplicaSet's status lags behind its
// spec, and counting pods on their way out would let a rollout take away
// more than maxUnavailable allows.
func availableSum(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += min(rs.Status.AvailableReplicas, replicasOf(rs.Spec.Replicas))
	}
	return n
}

func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && replicasOf(rs.Spec.Replicas) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// newRSReplicas is the size the new ReplicaSet may grow to in this step
// of a rolling update.
func (s *deployState) newRSReplicas() int32 {
	want := s.replicas()
	cur := replicasOf(s.newRS.Spec.Replicas)
	total := specSum(s.all())
	room := want + maxSurge(s.d) - total
	if room <= 0 {
		return cur
	}
	return cur + min(room, max(want-cur, 0))
}

// rolling is one step of a RollingUpdate: grow the new ReplicaSet within
// maxSurge, else shrink old ones within maxUnavailable, else clean up.
func (s *deployState) rolling() {
	s.syncRevision(true)
	if s.plan.Create == nil {
		want := s.replicas()
		cur := replicasOf(s.newRS.Spec.Replicas)
		n := cur
		switch {
		case cur > want:
			n = want
		case cur < want:
			n = s.newRSReplicas()
		}
		if s.setReplicas(s.newRS, n) {
			return
		}
	}
	if s.shrinkOld() {
		return
	}
	if complete(s.d, s.d.Status) {
		s.cleanup()
	}
}

// shrinkOld scales old ReplicaSets down: first their unavailable pods,
// then available ones while the Deployment keeps replicas-maxUnavailable
// available. It reports whether it scaled anything.
func (s *deployState) shrinkOld() bool {
	olds := active(s.olds)
	if specSum(olds) == 0 {
		return false
	}
	minAvailable := s.replicas() - maxUnavailable(s.d)
	newUnavailable := replicasOf(s.newRS.Spec.Replicas) - min(s.newRS.Status.AvailableReplicas, replicasOf(s.newRS.Spec.Replicas))
	if s.plan.Create != nil {
		newUnavailable = replicasOf(s.newRS.Spec.Replicas)
	}
	budget := specSum(s.all()) - minAvailable - newUnavailable
	if budget <= 0 {
		return false
	}
	scaled := false
	// Unhealthy pods of old ReplicaSets go first: they serve nothing.
	for _, rs := range olds {
		if budget <= 0 {
			break
		}
		spec := replicasOf(rs.Spec.Replicas)
		bad := spec - min(rs.Status.AvailableReplicas, spec)
		if bad <= 0 {
			continue
		}
		n := min(bad, budget)
		s.setReplicas(rs, spec-n)
		budget -= n
		scaled = true
	}
	avail := availableSum(s.all())
	if s.plan.Create != nil {
		avail = availableSum(s.olds)
	}
	excess := avail - minAvailable
	for _, rs := range olds {
		if excess <= 0 {
			break
		}
		spec := replicasOf(rs.Spec.Replicas)
		if spec == 0 {
			continue
		}
		n := min(spec, excess)
		s.setReplicas(rs, spec-n)
		excess -= n
		scaled = true
	}
	return scaled
}

// recreate is one step of a Recreate rollout: every old pod goes before
// the new ReplicaSet gets any.
func (s *deployState) recreate() {
	s.syncRevision(false)
	scaled := false
	for _, rs := range active(s.olds) {
		if s.setReplicas(rs, 0) {
			scaled = true
		}
	}
	if scaled {
		return
	}
	var oldActual int32
	for _, rs := range s.olds {
		oldActual += rs.Status.Replicas
	}
	if oldActual > 0 || podsOf(s.pods, s.olds) > 0 {
		return
	}
	if s.newRS == nil {
		s.syncRevision(true)
		return
	}
	s.setReplicas(s.newRS, s.replicas())
	if complete(s.d, s.d.Status) {
		s.cleanup()
	}
}

// isScalingEvent: some active ReplicaSet was sized for another replica
// count than the Deployment's.
func (s *deployState) isScalingEvent() bool {
	want := strconv.Itoa(int(s.replicas()))
	for _, rs := range active(s.all()) {
		if v, ok := rs.Annotations[desiredReplicasAnnotation]; ok && v != want {
			return true
		}
	}
	return false
}

// scale resizes the ReplicaSets to the Deployment's replica count without
// moving the rollout on: the one active ReplicaSet takes the whole count;
// several share a change in proportion to their sizes.
func (s *deployState) scale() {
	want := s.replicas()
	act := active(s.all())
	switch {
	case len(act) == 0:
		if rs := s.latest(); rs != nil {
			s.setReplicas(rs, want)
		}
		return
	case len(act) == 1:
		s.setReplicas(act[0], want)
		return
	}
	if n := s.newRS; n != nil && replicasOf(n.Spec.Replicas) == want && n.Status.AvailableReplicas == want {
		for _, rs := range active(s.olds) {
			s.setReplicas(rs, 0)
		}
		return
	}
	allowed := want
	if isRolling(s.d) && want > 0 {
		allowed += maxSurge(s.d)
	}
	total := specSum(act)
	delta := allowed - total
	if delta == 0 {
		for _, rs := range act {
			s.setReplicas(rs, replicasOf(rs.Spec.Replicas))
		}
		return
	}
	// Largest first; on ties the newer when growing, the older when shrinking.
	sort.SliceStable(act, func(i, j int) bool {
		a, b := replicasOf(act[i].Spec.Replicas), replicasOf(act[j].Spec.Replicas)
		if a != b {
			return a > b
		}
		ti, tj := act[i].CreationTimestamp, act[j].CreationTimestamp
		if delta > 0 {
			return tj.Before(&ti)
		}
		return ti.Before(&tj)
	})
	sizes := make([]int32, len(act))
	left := delta
	for i, rs := range act {
		cur := replicasOf(rs.Spec.Replicas)
		share := int32(int64(delta) * int64(cur) / int64(total))
		sizes[i] = cur + share
		left -= share
	}
	sizes[0] += left
	for i, rs := range act {
		s.setReplicas(rs, max(sizes[i], 0))
	}
}

// latest is the new ReplicaSet, or else the newest old one.
func (s *deployState) latest() *appsv1.ReplicaSet {
	if s.newRS != nil {
		return s.newRS
	}
	if len(s.olds) > 0 {
		return s.olds[len(s.olds)-1]
	}
	return nil
}
