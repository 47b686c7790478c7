package controllers

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/kubectl/pkg/util/podutils"
)

var daemonSetKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// templateGenerationLabel records on a daemon pod the DaemonSet
// generation it was made from.
const templateGenerationLabel = "pod-template-generation"

// Taint keys of node conditions, which daemon pods tolerate.
const (
	taintNotReady           = "node.kubernetes.io/not-ready"
	taintUnreachable        = "node.kubernetes.io/unreachable"
	taintDiskPressure       = "node.kubernetes.io/disk-pressure"
	taintMemoryPressure     = "node.kubernetes.io/memory-pressure"
	taintPIDPressure        = "node.kubernetes.io/pid-pressure"
	taintUnschedulable      = "node.kubernetes.io/unschedulable"
	taintNetworkUnavailable = "node.kubernetes.io/network-unavailable"
)

// DaemonSetPlan is what the DaemonSet controller does for one DaemonSet
// in one sync.
type DaemonSetPlan struct {
	// Adopt and Release are orphans to adopt and owned pods that no longer
	// match the selector.
	Adopt, Release []*corev1.Pod
	// Revision manages the ControllerRevisions; its Current labels the
	// pods created.
	Revision RevisionPlan
	// Hash is the controller-revision-hash of the current template.
	Hash string
	// Create names the nodes to create a daemon pod for, in order.
	Create []string
	// Delete are daemon pods to delete.
	Delete []*corev1.Pod
	// Status is the DaemonSet's status as the pods it was shown give it.
	Status appsv1.DaemonSetStatus
	// RequeueAfter, when positive, asks for another sync after this long.
	RequeueAfter time.Duration
}

// DaemonSetFacts is what decideDaemonSet looks at.
type DaemonSetFacts struct {
	DaemonSet *appsv1.DaemonSet
	Nodes     []*corev1.Node
	// Pods are the pods of the DaemonSet's namespace.
	Pods []*corev1.Pod
	// Revisions are the ControllerRevisions the DaemonSet controls.
	Revisions []*appsv1.ControllerRevision
}

// decideDaemonSet decides, as Kubernetes' DaemonSet controller does,
// which nodes get a daemon pod, which pods go, and the rolling update's
// next step.
func decideDaemonSet(f DaemonSetFacts, now time.Time) (DaemonSetPlan, error) {
	ds := f.DaemonSet
	var plan DaemonSetPlan
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return plan, fmt.Errorf("daemonset %s/%s selector: %w", ds.Namespace, ds.Name, err)
	}
	plan.Hash = templateHash(&ds.Spec.Template, ds.Status.CollisionCount)
	want := newRevision(ds, daemonSetKind, revisionName(ds.Name, plan.Hash), templatePatch(&ds.Spec.Template),
		ds.Spec.Template.Labels, map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: plan.Hash})

	byNode := map[string][]*corev1.Pod{}
	used := map[string]bool{}
	for _, p := range f.Pods {
		if p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		switch claimOf(ds, sel, p) {
		case owned:
		case adopt:
			plan.Adopt = append(plan.Adopt, p)
		case release:
			plan.Release = append(plan.Release, p)
			continue
		default:
			continue
		}
		used[p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] = true
		if p.DeletionTimestamp != nil {
			continue
		}
		byNode[targetNode(p)] = append(byNode[targetNode(p)], p)
	}
	plan.Revision = planRevisions(f.Revisions, want, func(r *appsv1.ControllerRevision) bool {
		return used[r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]]
	}, ptrOr(ds.Spec.RevisionHistoryLimit, 10))
	if h := plan.Revision.Current.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
		plan.Hash = h
	}
	nodes := append([]*corev1.Node(nil), f.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	plan.Status, plan.RequeueAfter = daemonSetStatus(ds, nodes, byNode, plan.Hash, now)
	if ds.DeletionTimestamp != nil {
		return plan, nil
	}

	surge, unavailable := daemonFenceposts(ds, plan.Status.DesiredNumberScheduled)
	rolling := ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Name] = true
		run, keep := shouldRunOn(ds, n)
		pods := byNode[n.Name]
		switch {
		case run && len(pods) == 0:
			plan.Create = append(plan.Create, n.Name)
		case keep:
			plan.Delete = append(plan.Delete, surplusDaemonPods(pods, plan.Hash, rolling && surge > 0, ds.Spec.MinReadySeconds, now)...)
		default:
			plan.Delete = append(plan.Delete, pods...)
		}
	}
	// Pods meant for nodes that are gone, or for no node at all.
	var gone []string
	for name := range byNode {
		if !known[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		plan.Delete = append(plan.Delete, byNode[name]...)
	}
	if !rolling || len(plan.Create) > 0 || len(plan.Delete) > 0 {
		return plan, nil
	}
	if surge > 0 {
		plan.Delete, plan.Create = surgeStep(nodes, byNode, plan.Hash, surge, ds.Spec.MinReadySeconds, now)
	} else {
		plan.Delete = unavailableStep(nodes, byNode, plan.Hash, unavailable, ds.Spec.MinReadySeconds, now)
	}
	return plan, nil
}

// shouldRunOn tells whether a daemon pod should be started on node (it
// matches the node selector and affinity and tolerates the NoSchedule and
// NoExecute taints), and whether one already there may keep running (it
// matches and tolerates the NoExecute taints).
func shouldRunOn(ds *appsv1.DaemonSet, node *corev1.Node) (run, keep bool) {
	pod := newDaemonPod(ds, node.Name, "")
	// The template's own affinity decides, not the one naming the node.
	pod.Spec.Affinity = ds.Spec.Template.Spec.Affinity
	fits, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)
	if err != nil || !fits {
		return false, false
	}
	_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoExecute || t.Effect == corev1.TaintEffectNoSchedule
	})
	_, evicted := corev1helpers.FindMatchingUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoExecute
	})
	return !untolerated, !evicted
}

// newDaemonPod is the pod of ds for node: its template with the
// tolerations Kubernetes gives daemon pods and a required node affinity
// to that node alone, for the scheduler to bind.
func newDaemonPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	labels := map[string]string{}
	for k, v := range t.Labels {
		labels[k] = v
	}
	if hash != "" {
		labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	labels[templateGenerationLabel] = strconv.FormatInt(ds.Generation, 10)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ds.Name + "-",
			Namespace:       ds.Namespace,
			Labels:          labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{controllerRef(ds, daemonSetKind)},
		},
		Spec: t.Spec,
	}
	tolerate := func(key string, effect corev1.TaintEffect) {
		tol := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
		for _, have := range p.Spec.Tolerations {
			if have.MatchToleration(&tol) {
				return
			}
		}
		p.Spec.Tolerations = append(p.Spec.Tolerations, tol)
	}
	tolerate(taintNotReady, corev1.TaintEffectNoExecute)
	tolerate(taintUnreachable, corev1.TaintEffectNoExecute)
	tolerate(taintDiskPressure, corev1.TaintEffectNoSchedule)
	tolerate(taintMemoryPressure, corev1.TaintEffectNoSchedule)
	tolerate(taintPIDPressure, corev1.TaintEffectNoSchedule)
	tolerate(taintUnschedulable, corev1.TaintEffectNoSchedule)
	if p.Spec.HostNetwork {
		tolerate(taintNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	if p.Spec.Affinity.NodeAffinity == nil {
		p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}},
	}
	return p
}

// targetNode is the node a pod is bound to, or else the one its required
// affinity names by metadata.name.
func targetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range t.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// isUpdatedDaemonPod: the pod runs the current template.
func isUpdatedDaemonPod(p *corev1.Pod, hash string) bool {
	return p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash
}

// surplusDaemonPods are the pods on one node to delete: failed ones, and
// all but one (all but the oldest old and newest new while surging).
func surplusDaemonPods(pods []*corev1.Pod, hash string, surging bool, minReady int32, now time.Time) []*corev1.Pod {
	var del, running []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase == corev1.PodFailed {
			del = append(del, p)
		} else {
			running = append(running, p)
		}
	}
	if len(running) <= 1 {
		return del
	}
	sort.SliceStable(running, func(i, j int) bool {
		return running[i].CreationTimestamp.Before(&running[j].CreationTimestamp)
	})
	if !surging {
		return append(del, running[1:]...)
	}
	// While surging, an old pod that is available and a new one that is
	// not yet may run side by side; everything else goes.
	var oldest, newest *corev1.Pod
	for _, p := range running {
		if isUpdatedDaemonPod(p, hash) {
			newest = p
		} else if oldest == nil {
			oldest = p
		}
	}
	keep := map[*corev1.Pod]bool{}
	switch {
	case newest != nil && oldest != nil && !podutils.IsPodAvailable(newest, minReady, metav1.NewTime(now)) &&
		podutils.IsPodAvailable(oldest, minReady, metav1.NewTime(now)):
		keep[newest], keep[oldest] = true, true
	case newest != nil:
		keep[newest] = true
	default:
		keep[running[0]] = true
	}
	for _, p := range running {
		if !keep[p] {
			del = append(del, p)
		}
	}
	return del
}

// daemonFenceposts resolves maxSurge and maxUnavailable against the
// number of nodes that should run the pod, rounding up as Kubernetes
// does for DaemonSets; both zero means one unavailable.
func daemonFenceposts(ds *appsv1.DaemonSet, desired int32) (surge, unavailable int) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil {
		return 0, 1
	}
	scaled := func(v *intstr.IntOrString) int {
		if v == nil {
			return 0
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(v, int(desired), true)
		if err != nil {
			return 0
		}
		return n
	}
	surge, unavailable = scaled(ru.MaxSurge), scaled(ru.MaxUnavailable)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	if surge > 0 {
		unavailable = 0
	}
	return surge, unavailable
}

// nodePods splits the pods on a node into the one new and the one old
// pod; ok is false when there are several of either.
func nodePods(pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if isUpdatedDaemonPod(p, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// unavailableStep is a rolling update without surge: delete old pods,
// unavailable ones at once and available ones while fewer than
// maxUnavailable nodes are without an available pod.
func unavailableStep(nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, maxUnavailable int, minReady int32, now time.Time) []*corev1.Pod {
	numUnavailable := 0
	var replace, candidates []*corev1.Pod
	for _, n := range nodes {
		pods := byNode[n.Name]
		if len(pods) == 0 {
			continue
		}
		newPod, oldPod, ok := nodePods(pods, hash)
		switch {
		case !ok || (newPod == nil) == (oldPod == nil):
			numUnavailable++
		case newPod != nil:
			if !podutils.IsPodAvailable(newPod, minReady, metav1.NewTime(now)) {
				numUnavailable++
			}
		case !podutils.IsPodAvailable(oldPod, minReady, metav1.NewTime(now)):
			replace = append(replace, oldPod)
			numUnavailable++
		case numUnavailable < maxUnavailable:
			candidates = append(candidates, oldPod)
		}
	}
	left := min(max(maxUnavailable-numUnavailable, 0), len(candidates))
	return append(replace, candidates[:left]...)
}

// surgeStep is a rolling update with surge: start new pods beside
// available old ones (at most maxSurge at a time) and delete an old pod
// once its node's new pod is available.
func surgeStep(nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, maxSurge int, minReady int32, now time.Time) (del []*corev1.Pod, create []string) {
	numSurge := 0
	var allowed, candidates []string
	for _, n := range nodes {
		pods := byNode[n.Name]
		if len(pods) == 0 {
			continue
		}
		newPod, oldPod, ok := nodePods(pods, hash)
		switch {
		case !ok:
			numSurge++
		case oldPod == nil:
		case newPod == nil:
			switch {
			case !podutils.IsPodAvailable(oldPod, minReady, metav1.NewTime(now)):
				allowed = append(allowed, n.Name)
			case numSurge < maxSurge:
				candidates = append(candidates, n.Name)
			}
		case !podutils.IsPodAvailable(newPod, minReady, metav1.NewTime(now)):
			numSurge++
		default:
			del = append(del, oldPod)
		}
	}
	left := min(max(maxSurge-numSurge, 0), len(candidates))
	return del, append(allowed, candidates[:left]...)
}

// daemonSetStatus counts, per node that should run the pod, whether it
// has one, whether the oldest is ready, available and up to date.
func daemonSetStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) (appsv1.DaemonSetStatus, time.Duration) {
	st := appsv1.DaemonSetStatus{
		ObservedGeneration: ds.Generation,
		CollisionCount:     ds.Status.CollisionCount,
		Conditions:         ds.Status.Conditions,
	}
	var wait time.Duration
	for _, n := range nodes {
		run, _ := shouldRunOn(ds, n)
		pods := byNode[n.Name]
		if !run {
			if len(pods) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(pods) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		sorted := append([]*corev1.Pod(nil), pods...)
		sort.SliceStable(sorted, func(i, j int) bool {
			return sorted[i].CreationTimestamp.Before(&sorted[j].CreationTimestamp)
		})
		p := sorted[0]
		if podutils.IsPodReady(p) {
			st.NumberReady++
			if podutils.IsPodAvailable(p, ds.Spec.MinReadySeconds, metav1.NewTime(now)) {
				st.NumberAvailable++
			} else if since := readySince(p); !since.IsZero() {
				left := since.Add(time.Duration(ds.Spec.MinReadySeconds) * time.Second).Sub(now)
				if wait == 0 || left < wait {
					wait = left
				}
			}
		}
		if isUpdatedDaemonPod(p, hash) {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	if st.NumberReady > st.NumberAvailable && wait <= 0 {
		wait = time.Second
	}
	return st, wait
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}
