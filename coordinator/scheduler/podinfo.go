package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
)

// podInfo is a pod with what scheduling reads of it worked out once.
type podInfo struct {
	key        string
	pod        *corev1.Pod
	node       string
	assumed    bool
	slot       int // index in its node's pods
	req        resources
	nonZeroCPU int64
	nonZeroMem int64
	ports      []hostPort
	controller types.UID // the controlling owner's UID, "" when none
	affinity   *podAffinity
}

// podAffinity is a pod's inter-pod affinity and anti-affinity terms.
type podAffinity struct {
	required      []affinityTerm
	requiredAnti  []affinityTerm
	preferred     []affinityTerm
	preferredAnti []affinityTerm
}

// affinityTerm is a pod affinity term with its selectors parsed.
type affinityTerm struct {
	selector    labels.Selector
	namespaces  map[string]bool
	nsSelector  labels.Selector // nil when the term names namespaces only
	topologyKey string
	weight      int64
}

func newPodInfo(pod *corev1.Pod, node string) *podInfo {
	p := &podInfo{key: podKey(pod), pod: pod, node: node}
	p.req, p.nonZeroCPU, p.nonZeroMem = podRequests(pod)
	p.ports = podHostPorts(pod)
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		p.controller = ref.UID
	}
	p.affinity = parsePodAffinity(pod)
	return p
}

// podHostPorts lists the host ports a pod's containers, init containers
// included, take.
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container) {
		for i := range cs {
			for _, cp := range cs[i].Ports {
				if cp.HostPort <= 0 {
					continue
				}
				hp := hostPort{protocol: cp.Protocol, ip: cp.HostIP, port: cp.HostPort}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				if hp.ip == "" || hp.ip == "::" {
					hp.ip = "0.0.0.0"
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

func parsePodAffinity(pod *corev1.Pod) *podAffinity {
	a := pod.Spec.Affinity
	if a == nil || (a.PodAffinity == nil && a.PodAntiAffinity == nil) {
		return nil
	}
	out := &podAffinity{}
	if pa := a.PodAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			out.required = append(out.required, newAffinityTerm(pod, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i], 1))
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &pa.PreferredDuringSchedulingIgnoredDuringExecution[i]
			out.preferred = append(out.preferred, newAffinityTerm(pod, &w.PodAffinityTerm, int64(w.Weight)))
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			out.requiredAnti = append(out.requiredAnti, newAffinityTerm(pod, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i], 1))
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &pa.PreferredDuringSchedulingIgnoredDuringExecution[i]
			out.preferredAnti = append(out.preferredAnti, newAffinityTerm(pod, &w.PodAffinityTerm, int64(w.Weight)))
		}
	}
	if len(out.required)+len(out.requiredAnti)+len(out.preferred)+len(out.preferredAnti) == 0 {
		return nil
	}
	return out
}

// newAffinityTerm parses a term of pod. A nil or invalid label selector
// matches no pod; matchLabelKeys and mismatchLabelKeys add the owning
// pod's values for those keys to it.
func newAffinityTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm, weight int64) affinityTerm {
	term := affinityTerm{topologyKey: t.TopologyKey, weight: weight, selector: labels.Nothing()}
	if t.LabelSelector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector); err == nil {
			term.selector = withLabelKeys(sel, pod.Labels, t.MatchLabelKeys, t.MismatchLabelKeys)
		}
	}
	if len(t.Namespaces) > 0 || t.NamespaceSelector == nil {
		term.namespaces = map[string]bool{}
		for _, ns := range t.Namespaces {
			term.namespaces[ns] = true
		}
		if len(t.Namespaces) == 0 {
			term.namespaces[pod.Namespace] = true
		}
	}
	if t.NamespaceSelector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector); err == nil {
			term.nsSelector = sel
		} else {
			term.nsSelector = labels.Nothing()
		}
	}
	return term
}

// withLabelKeys narrows sel to the owner's values of match keys and away
// from its values of mismatch keys.
func withLabelKeys(sel labels.Selector, own map[string]string, match, mismatch []string) labels.Selector {
	for _, k := range match {
		if v, ok := own[k]; ok {
			if r, err := labels.NewRequirement(k, selection.In, []string{v}); err == nil {
				sel = sel.Add(*r)
			}
		}
	}
	for _, k := range mismatch {
		if v, ok := own[k]; ok {
			if r, err := labels.NewRequirement(k, selection.NotIn, []string{v}); err == nil {
				sel = sel.Add(*r)
			}
		}
	}
	return sel
}

// matches reports whether the term selects pod.
func (t *affinityTerm) matches(pod *corev1.Pod, namespaces map[string]labels.Set) bool {
	if !t.namespaces[pod.Namespace] {
		if t.nsSelector == nil || !t.nsSelector.Matches(namespaces[pod.Namespace]) {
			return false
		}
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}
