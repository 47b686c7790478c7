package controllers

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	deployutil "k8s.io/kubectl/pkg/util/deployment"
	"k8s.io/utils/ptr"
)

// Annotations and condition reasons kubectl reads.
const (
	revisionAnnotation        = deployutil.RevisionAnnotation
	revisionHistoryAnnotation = deployutil.RevisionHistoryAnnotation
	desiredReplicasAnnotation = deployutil.DesiredReplicasAnnotation
	maxReplicasAnnotation     = deployutil.MaxReplicasAnnotation

	reasonNewRSCreated       = "NewReplicaSetCreated"
	reasonFoundNewRS         = "FoundNewReplicaSet"
	reasonRSUpdated          = "ReplicaSetUpdated"
	reasonNewRSAvailable     = "NewReplicaSetAvailable"
	reasonTimedOut           = deployutil.TimedOutReason
	reasonPaused             = "DeploymentPaused"
	reasonResumed            = "DeploymentResumed"
	reasonMinimumAvailable   = "MinimumReplicasAvailable"
	reasonMinimumUnavailable = "MinimumReplicasUnavailable"
)

// annotationsNotCopied are the Deployment annotations a ReplicaSet does not
// inherit: the controller's own bookkeeping and kubectl's last applied
// configuration.
var annotationsNotCopied = map[string]bool{
	corev1.LastAppliedConfigAnnotation:       true,
	revisionAnnotation:                       true,
	revisionHistoryAnnotation:                true,
	desiredReplicasAnnotation:                true,
	maxReplicasAnnotation:                    true,
	"deprecated.deployment.rollback.to":      true,
	"deployment.kubernetes.io/rollback-done": true,
}

// DeploymentPlan is what the Deployment controller does for one
// Deployment in one sync.
type DeploymentPlan struct {
	// Adopt are orphan ReplicaSets matching the selector; Release are
	// owned ones that no longer match.
	Adopt, Release []*appsv1.ReplicaSet
	// Create is the new ReplicaSet to create, nil when there is none.
	Create *appsv1.ReplicaSet
	// Update are changed copies of existing ReplicaSets (replicas,
	// annotations, minReadySeconds).
	Update []*appsv1.ReplicaSet
	// Delete are old ReplicaSets beyond revisionHistoryLimit.
	Delete []*appsv1.ReplicaSet
	// Annotations, when not nil, are the Deployment's new annotations.
	Annotations map[string]string
	// Status, when not nil, is the Deployment's new status.
	Status *appsv1.DeploymentStatus
	// RequeueAfter, when positive, asks for a sync after this long: when
	// the progress deadline would pass.
	RequeueAfter time.Duration
}

// deployState is one sync's working state: copies of what it changes.
type deployState struct {
	d       *appsv1.Deployment
	now     time.Time
	newRS   *appsv1.ReplicaSet
	olds    []*appsv1.ReplicaSet // oldest first
	pods    []*corev1.Pod
	status  appsv1.DeploymentStatus // starts as d.Status, conditions edited in place
	changed map[*appsv1.ReplicaSet]bool
	plan    DeploymentPlan
}

// decideDeployment compares a Deployment with the ReplicaSets and pods of
// its namespace and returns one step of its rollout, as Kubernetes'
// Deployment controller takes one step per sync.
func decideDeployment(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, pods []*corev1.Pod, now time.Time) (DeploymentPlan, error) {
	s := &deployState{d: d, now: now, pods: pods, changed: map[*appsv1.ReplicaSet]bool{}}
	s.status = *d.Status.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return s.plan, fmt.Errorf("deployment %s/%s selector: %w", d.Namespace, d.Name, err)
	}
	if sel.Empty() {
		// Kubernetes refuses to act on a selector matching everything.
		return s.plan, fmt.Errorf("deployment %s/%s has an empty selector", d.Namespace, d.Name)
	}
	var mine []*appsv1.ReplicaSet
	for _, rs := range rss {
		switch claimOf(d, sel, rs) {
		case owned:
			mine = append(mine, rs.DeepCopy())
		case adopt:
			s.plan.Adopt = append(s.plan.Adopt, rs)
			mine = append(mine, rs.DeepCopy())
		case release:
			s.plan.Release = append(s.plan.Release, rs)
		}
	}
	sortByCreation(mine)
	for _, rs := range mine {
		if s.newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			s.newRS = rs
			continue
		}
		s.olds = append(s.olds, rs)
	}

	switch {
	case d.DeletionTimestamp != nil:
		s.finishStatus(false)
	case d.Spec.Paused:
		s.pausedConditions()
		s.syncRevision(false)
		s.scale()
		s.cleanup()
		s.finishStatus(false)
	case s.isScalingEvent():
		s.pausedConditions()
		s.syncRevision(false)
		s.scale()
		s.finishStatus(false)
	case d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType:
		s.pausedConditions()
		s.recreate()
		s.finishStatus(true)
	default:
		s.pausedConditions()
		s.rolling()
		s.finishStatus(true)
	}
	for _, rs := range append(s.olds, s.newRS) {
		if rs != nil && s.changed[rs] && rs != s.plan.Create {
			s.plan.Update = append(s.plan.Update, rs)
		}
	}
	return s.plan, nil
}

// all is every ReplicaSet of the Deployment, the new one last.
func (s *deployState) all() []*appsv1.ReplicaSet {
	out := append([]*appsv1.ReplicaSet(nil), s.olds...)
	if s.newRS != nil {
		out = append(out, s.newRS)
	}
	return out
}

func (s *deployState) replicas() int32 { return replicasOf(s.d.Spec.Replicas) }

// maxRevision is the highest revision among the old ReplicaSets.
func (s *deployState) maxOldRevision() int64 {
	var m int64
	for _, rs := range s.olds {
		if v, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64); err == nil && v > m {
			m = v
		}
	}
	return m
}

// syncRevision gives the new ReplicaSet the next revision and the
// Deployment's annotations, creating it first when create is set.
func (s *deployState) syncRevision(create bool) {
	next := strconv.FormatInt(s.maxOldRevision()+1, 10)
	if s.newRS == nil {
		if !create {
			return
		}
		s.createNewRS(next)
	} else {
		rs := s.newRS
		updated := s.copyAnnotations(rs)
		ann := rs.Annotations
		if old := ann[revisionAnnotation]; old != next {
			if old != "" {
				h := ann[revisionHistoryAnnotation]
				if h != "" {
					h += ","
				}
				ann[revisionHistoryAnnotation] = h + old
			}
			ann[revisionAnnotation] = next
			updated = true
		}
		if rs.Spec.MinReadySeconds != s.d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = s.d.Spec.MinReadySeconds
			updated = true
		}
		if updated {
			s.changed[rs] = true
		}
		if hasProgressDeadline(s.d) && getCondition(s.status, appsv1.DeploymentProgressing) == nil {
			setCondition(&s.status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
				reasonFoundNewRS, fmt.Sprintf("Found new replica set %q", rs.Name), s.now))
		}
	}
	if s.d.Annotations[revisionAnnotation] != s.newRS.Annotations[revisionAnnotation] {
		ann := make(map[string]string, len(s.d.Annotations)+1)
		for k, v := range s.d.Annotations {
			ann[k] = v
		}
		ann[revisionAnnotation] = s.newRS.Annotations[revisionAnnotation]
		s.plan.Annotations = ann
	}
}

// copyAnnotations gives rs the Deployment's annotations it inherits and
// reports whether any changed.
func (s *deployState) copyAnnotations(rs *appsv1.ReplicaSet) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range s.d.Annotations {
		if annotationsNotCopied[k] || rs.Annotations[k] == v {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

// createNewRS makes the ReplicaSet of the current template.
func (s *deployState) createNewRS(revision string) {
	d := s.d
	hash := templateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels = withLabel(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{controllerRef(d, deploymentKind)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To[int32](0),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
	s.copyAnnotations(rs)
	rs.Annotations[revisionAnnotation] = revision
	s.newRS = rs
	s.plan.Create = rs
	n := s.replicas()
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		n = s.newRSReplicas()
	}
	s.setReplicas(rs, n)
	if hasProgressDeadline(d) {
		setCondition(&s.status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue,
			reasonNewRSCreated, fmt.Sprintf("Created new replica set %q", rs.Name), s.now))
	}
}

// setReplicas scales rs, stamping the Deployment's size on it, and reports
// whether its replica count changed.
func (s *deployState) setReplicas(rs *appsv1.ReplicaSet, n int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	scaled := replicasOf(rs.Spec.Replicas) != n
	want := strconv.Itoa(int(s.replicas()))
	maxr := strconv.Itoa(int(s.replicas() + maxSurge(s.d)))
	if scaled || rs.Annotations[desiredReplicasAnnotation] != want || rs.Annotations[maxReplicasAnnotation] != maxr {
		rs.Spec.Replicas = ptr.To(n)
		rs.Annotations[desiredReplicasAnnotation] = want
		rs.Annotations[maxReplicasAnnotation] = maxr
		s.changed[rs] = true
	}
	return scaled
}

// cleanup deletes the oldest ReplicaSets beyond revisionHistoryLimit that
// have no pods left.
func (s *deployState) cleanup() {
	if s.d.Spec.RevisionHistoryLimit == nil {
		return
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range s.olds {
		if rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*s.d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return
	}
	sort.SliceStable(alive, func(i, j int) bool { return revisionOf(alive[i]) < revisionOf(alive[j]) })
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || replicasOf(rs.Spec.Replicas) != 0 || rs.Generation > rs.Status.ObservedGeneration || s.changed[rs] {
			continue
		}
		s.plan.Delete = append(s.plan.Delete, rs)
	}
}

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	v, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
	if err != nil {
		return math.MinInt64
	}
	return v
}

func sortByCreation(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		a, b := rss[i].CreationTimestamp, rss[j].CreationTimestamp
		if a.Equal(&b) {
			return rss[i].Name < rss[j].Name
		}
		return a.Before(&b)
	})
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// podsOf are the active pods controlled by one of rss.
func podsOf(pods []*corev1.Pod, rss []*appsv1.ReplicaSet) int {
	uids := map[types.UID]bool{}
	for _, rs := range rss {
		uids[rs.UID] = true
	}
	n := 0
	for _, p := range pods {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && uids[ref.UID] &&
			p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			n++
		}
	}
	return n
}
