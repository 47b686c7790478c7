package controllers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"
	"k8s.io/utils/ptr"
)

var statefulSetKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// revisionHashLabel labels a StatefulSet's ControllerRevisions with the
// hash their name ends in.
const revisionHashLabel = "controller.kubernetes.io/hash"

// StatefulSetFacts is what decideStatefulSet looks at.
type StatefulSetFacts struct {
	Set *appsv1.StatefulSet
	// Pods and Claims are those of the set's namespace.
	Pods   []*corev1.Pod
	Claims []*corev1.PersistentVolumeClaim
	// Revisions are the ControllerRevisions the set controls.
	Revisions []*appsv1.ControllerRevision
}

// StatefulSetPlan is what the StatefulSet controller does for one set in
// one sync, in this order: claims, revisions, claim pods, delete pods,
// create pods, delete claims, status.
type StatefulSetPlan struct {
	Adopt, Release []*corev1.Pod
	Revision       RevisionPlan
	// CreateClaims are the missing claims of the pods to create or keep.
	CreateClaims []*corev1.PersistentVolumeClaim
	Create       []*corev1.Pod
	Delete       []*corev1.Pod
	// DeleteClaims are claims of ordinals scaled away, with the
	// whenScaled: Delete retention policy, whose pod is gone.
	DeleteClaims []*corev1.PersistentVolumeClaim
	Status       appsv1.StatefulSetStatus
	RequeueAfter time.Duration
}

// decideStatefulSet decides, as Kubernetes' StatefulSet controller does,
// which ordinals to create, which pods to delete for scale down and
// rolling update, and the set's status.
func decideStatefulSet(f StatefulSetFacts, now time.Time) (StatefulSetPlan, error) {
	set := f.Set
	var plan StatefulSetPlan
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return plan, fmt.Errorf("statefulset %s/%s selector: %w", set.Namespace, set.Name, err)
	}
	data := templatePatch(&set.Spec.Template)
	hash := dataHash(data, set.Status.CollisionCount)
	want := newRevision(set, statefulSetKind, revisionName(set.Name, hash), data, set.Spec.Template.Labels,
		map[string]string{revisionHashLabel: hash})

	start := 0
	if set.Spec.Ordinals != nil {
		start = int(set.Spec.Ordinals.Start)
	}
	replicas := int(replicasOf(set.Spec.Replicas))
	byOrdinal := map[int]*corev1.Pod{}
	var all []*corev1.Pod
	for _, p := range f.Pods {
		ord, member := ordinalOf(set, p)
		if !member {
			continue
		}
		switch claimOf(set, sel, p) {
		case owned:
		case adopt:
			plan.Adopt = append(plan.Adopt, p)
		case release:
			plan.Release = append(plan.Release, p)
			continue
		default:
			continue
		}
		byOrdinal[ord] = p
		all = append(all, p)
	}
	plan.Revision = planRevisions(f.Revisions, want, func(r *appsv1.ControllerRevision) bool {
		if r.Name == set.Status.CurrentRevision || r.Name == set.Status.UpdateRevision {
			return true
		}
		for _, p := range all {
			if p.Labels[appsv1.ControllerRevisionHashLabelKey] == r.Name {
				return true
			}
		}
		return false
	}, ptrOr(set.Spec.RevisionHistoryLimit, 10))
	update := plan.Revision.Current
	current := update
	for _, r := range f.Revisions {
		if r.Name == set.Status.CurrentRevision {
			current = r
		}
	}
	plan.Status, plan.RequeueAfter = statefulSetStatus(set, all, current.Name, update.Name, now)
	if set.DeletionTimestamp != nil {
		return plan, nil
	}
	currentTemplate, err := revisionTemplate(current)
	if err != nil {
		return plan, err
	}

	claims := map[string]*corev1.PersistentVolumeClaim{}
	for _, c := range f.Claims {
		claims[c.Name] = c
	}
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	minReady := set.Spec.MinReadySeconds
	healthy := func(p *corev1.Pod) bool {
		return p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podutils.IsPodAvailable(p, minReady, metav1.NewTime(now))
	}
	blocked := false
	for ord := start; ord < start+replicas && !blocked; ord++ {
		p := byOrdinal[ord]
		switch {
		case p == nil:
			tmpl, rev := &set.Spec.Template, update.Name
			if partitioned(set, ord) {
				tmpl, rev = currentTemplate, current.Name
			}
			plan.CreateClaims = append(plan.CreateClaims, missingClaims(set, ord, claims)...)
			plan.Create = append(plan.Create, newStatefulPod(set, tmpl, rev, ord))
			blocked = ordered
		case p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded:
			if p.DeletionTimestamp == nil {
				plan.Delete = append(plan.Delete, p)
			}
			blocked = ordered
		case !healthy(p):
			plan.CreateClaims = append(plan.CreateClaims, missingClaims(set, ord, claims)...)
			blocked = ordered
		default:
			plan.CreateClaims = append(plan.CreateClaims, missingClaims(set, ord, claims)...)
		}
	}
	if blocked {
		return plan, nil
	}
	// Scale down: the highest ordinals first, one at a time and only
	// while every other pod is healthy when ordered.
	var condemned []int
	for ord := range byOrdinal {
		if ord < start || ord >= start+replicas {
			condemned = append(condemned, ord)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(condemned)))
	for _, ord := range condemned {
		p := byOrdinal[ord]
		if p.DeletionTimestamp != nil {
			if ordered {
				return plan, nil
			}
			continue
		}
		if ordered && !healthy(p) && firstUnhealthy(byOrdinal, condemned, start, replicas, healthy) != ord {
			return plan, nil
		}
		plan.Delete = append(plan.Delete, p)
		if ordered {
			return plan, nil
		}
	}
	if len(condemned) == 0 {
		plan.DeleteClaims = scaledAwayClaims(set, start, replicas, byOrdinal, f.Claims)
	}
	if len(plan.Create) > 0 || len(plan.Delete) > 0 || set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return plan, nil
	}
	// Rolling update: replace the highest ordinal not at the update
	// revision, waiting for each replacement to be healthy.
	for ord := start + replicas - 1; ord >= start && !partitioned(set, ord); ord-- {
		p := byOrdinal[ord]
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] != update.Name && p.DeletionTimestamp == nil {
			plan.Delete = append(plan.Delete, p)
			return plan, nil
		}
		if !healthy(p) {
			return plan, nil
		}
	}
	return plan, nil
}

// partitioned: the ordinal is below the rolling update's partition, so it
// keeps the current revision.
func partitioned(set *appsv1.StatefulSet, ord int) bool {
	us := set.Spec.UpdateStrategy
	if us.Type != appsv1.RollingUpdateStatefulSetStrategyType || us.RollingUpdate == nil {
		return false
	}
	start := 0
	if set.Spec.Ordinals != nil {
		start = int(set.Spec.Ordinals.Start)
	}
	return ord-start < int(ptr.Deref(us.RollingUpdate.Partition, 0))
}

// firstUnhealthy is the ordinal of the first unhealthy pod: among the
// kept pods in order, else among the condemned from the highest.
func firstUnhealthy(byOrdinal map[int]*corev1.Pod, condemned []int, start, replicas int, healthy func(*corev1.Pod) bool) int {
	for ord := start; ord < start+replicas; ord++ {
		if p := byOrdinal[ord]; p != nil && !healthy(p) {
			return ord
		}
	}
	for _, ord := range condemned {
		if !healthy(byOrdinal[ord]) {
			return ord
		}
	}
	return -1
}

// ordinalOf parses the ordinal from a pod named <set>-<ordinal>.
func ordinalOf(set *appsv1.StatefulSet, p *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(p.Name, set.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// claimName is the name of the claim from template for ordinal.
func claimName(set *appsv1.StatefulSet, template string, ord int) string {
	return fmt.Sprintf("%s-%s-%d", template, set.Name, ord)
}

// missingClaims are the claims of ordinal's volume claim templates that
// do not exist yet. With the whenDeleted: Delete retention policy they
// are owned by the set.
func missingClaims(set *appsv1.StatefulSet, ord int, have map[string]*corev1.PersistentVolumeClaim) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for _, t := range set.Spec.VolumeClaimTemplates {
		name := claimName(set, t.Name, ord)
		if _, ok := have[name]; ok {
			continue
		}
		c := t.DeepCopy()
		c.Name, c.Namespace = name, set.Namespace
		c.ResourceVersion, c.UID = "", ""
		c.Status = corev1.PersistentVolumeClaimStatus{}
		labels := map[string]string{}
		for k, v := range t.Labels {
			labels[k] = v
		}
		if set.Spec.Selector != nil {
			for k, v := range set.Spec.Selector.MatchLabels {
				labels[k] = v
			}
		}
		c.Labels = labels
		if pol := set.Spec.PersistentVolumeClaimRetentionPolicy; pol != nil && pol.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			c.OwnerReferences = []metav1.OwnerReference{{APIVersion: statefulSetKind.GroupVersion().String(), Kind: statefulSetKind.Kind,
				Name: set.Name, UID: set.UID, BlockOwnerDeletion: ptr.To(true)}}
		}
		out = append(out, c)
	}
	return out
}

// scaledAwayClaims are, under the whenScaled: Delete policy, the claims
// of the set's templates for ordinals beyond its replicas whose pod is
// gone.
func scaledAwayClaims(set *appsv1.StatefulSet, start, replicas int, byOrdinal map[int]*corev1.Pod, claims []*corev1.PersistentVolumeClaim) []*corev1.PersistentVolumeClaim {
	pol := set.Spec.PersistentVolumeClaimRetentionPolicy
	if pol == nil || pol.WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		return nil
	}
	var out []*corev1.PersistentVolumeClaim
	for _, c := range claims {
		for _, t := range set.Spec.VolumeClaimTemplates {
			rest, ok := strings.CutPrefix(c.Name, t.Name+"-"+set.Name+"-")
			if !ok {
				continue
			}
			n, err := strconv.Atoi(rest)
			if err != nil || strconv.Itoa(n) != rest || (n >= start && n < start+replicas) || byOrdinal[n] != nil || c.DeletionTimestamp != nil {
				continue
			}
			out = append(out, c)
			break
		}
	}
	return out
}

// newStatefulPod is ordinal's pod from template at revision: a stable
// name, hostname and subdomain, the identity labels, and the claims of
// the volume claim templates as its volumes.
func newStatefulPod(set *appsv1.StatefulSet, template *corev1.PodTemplateSpec, revision string, ord int) *corev1.Pod {
	t := template.DeepCopy()
	name := fmt.Sprintf("%s-%d", set.Name, ord)
	labels := map[string]string{}
	for k, v := range t.Labels {
		labels[k] = v
	}
	labels[appsv1.StatefulSetPodNameLabel] = name
	labels[appsv1.PodIndexLabel] = strconv.Itoa(ord)
	labels[appsv1.ControllerRevisionHashLabelKey] = revision
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       set.Namespace,
			Labels:          labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{controllerRef(set, statefulSetKind)},
		},
		Spec: t.Spec,
	}
	p.Spec.Hostname = name
	p.Spec.Subdomain = set.Spec.ServiceName
	var vols []corev1.Volume
	fromClaims := map[string]bool{}
	for _, ct := range set.Spec.VolumeClaimTemplates {
		fromClaims[ct.Name] = true
		vols = append(vols, corev1.Volume{Name: ct.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(set, ct.Name, ord)}}})
	}
	for _, v := range p.Spec.Volumes {
		if !fromClaims[v.Name] {
			vols = append(vols, v)
		}
	}
	p.Spec.Volumes = vols
	return p
}

// revisionTemplate reads the pod template back from a revision's data.
func revisionTemplate(r *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(r.Data.Raw, &patch); err != nil {
		return nil, fmt.Errorf("controller revision %s/%s: %w", r.Namespace, r.Name, err)
	}
	return &patch.Spec.Template, nil
}

// statefulSetStatus counts the set's pods; a rolling update whose pods
// are all updated and ready makes the update revision current.
func statefulSetStatus(set *appsv1.StatefulSet, pods []*corev1.Pod, current, update string, now time.Time) (appsv1.StatefulSetStatus, time.Duration) {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    current,
		UpdateRevision:     update,
		CollisionCount:     set.Status.CollisionCount,
		Conditions:         set.Status.Conditions,
	}
	var wait time.Duration
	for _, p := range pods {
		if p.Status.Phase == "" {
			continue
		}
		st.Replicas++
		if p.Status.Phase == corev1.PodRunning && podutils.IsPodReady(p) && p.DeletionTimestamp == nil {
			st.ReadyReplicas++
			if podutils.IsPodAvailable(p, set.Spec.MinReadySeconds, metav1.NewTime(now)) {
				st.AvailableReplicas++
			} else if since := readySince(p); !since.IsZero() {
				left := since.Add(time.Duration(set.Spec.MinReadySeconds) * time.Second).Sub(now)
				if wait == 0 || left < wait {
					wait = left
				}
			}
		}
		if p.DeletionTimestamp != nil {
			continue
		}
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] == current {
			st.CurrentReplicas++
		}
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] == update {
			st.UpdatedReplicas++
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas && st.Replicas == replicasOf(set.Spec.Replicas) {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = update
	}
	if st.ReadyReplicas > st.AvailableReplicas && wait <= 0 {
		wait = time.Second
	}
	return st, wait
}
