package controllers

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"
	"k8s.io/utils/ptr"
)

// Names the EndpointSlice controller uses, as Kubernetes'.
const (
	sliceManagedBy      = "endpointslice-controller.k8s.io"
	maxEndpointsOfSlice = 100
)

var serviceKind = corev1.SchemeGroupVersion.WithKind("Service")

// sliceContent is what one slice holds besides its metadata.
type sliceContent struct {
	Ports     []discoveryv1.EndpointPort
	Endpoints []discoveryv1.Endpoint
}

// desiredSliceContents computes the EndpointSlices of a selector service
// from the pods its selector matches, as Kubernetes' EndpointSlice
// controller does: every pod with an IPv4 address that has not finished,
// terminating ones included (serving and terminating), with its ready,
// serving and terminating conditions, node, zone (from zones, node name to
// its topology.kubernetes.io/zone label) and hostname. Endpoints are
// grouped by their resolved ports, sorted, and cut into slices of at most
// 100. A service without endpoints has one empty slice.
func desiredSliceContents(svc *corev1.Service, pods []*corev1.Pod, zones map[string]string) []sliceContent {
	groups := map[string]*sliceContent{}
	for _, p := range pods {
		if !podInEndpoints(p, true) {
			continue
		}
		ip := podIPv4(p)
		if ip == "" {
			continue
		}
		var ports []discoveryv1.EndpointPort
		var eps []corev1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := findPort(p, sp)
			if err != nil {
				continue
			}
			eps = append(eps, corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: protocolOf(sp.Protocol), AppProtocol: sp.AppProtocol})
		}
		if len(svc.Spec.Ports) > 0 && len(eps) == 0 {
			continue
		}
		key := portsKey(eps)
		for _, e := range eps {
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(e.Name), Port: ptr.To(e.Port), Protocol: ptr.To(e.Protocol), AppProtocol: e.AppProtocol})
		}
		g := groups[key]
		if g == nil {
			g = &sliceContent{Ports: ports}
			groups[key] = g
		}
		g.Endpoints = append(g.Endpoints, podEndpoint(p, svc, ip, zones))
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []sliceContent
	for _, k := range keys {
		g := groups[k]
		sortEndpoints(g.Endpoints)
		for i := 0; i < len(g.Endpoints); i += maxEndpointsOfSlice {
			out = append(out, sliceContent{Ports: g.Ports, Endpoints: g.Endpoints[i:min(i+maxEndpointsOfSlice, len(g.Endpoints))]})
		}
	}
	if len(out) == 0 {
		out = append(out, sliceContent{})
	}
	return out
}

// podEndpoint is the slice endpoint of one pod.
func podEndpoint(p *corev1.Pod, svc *corev1.Service, ip string, zones map[string]string) discoveryv1.Endpoint {
	serving := podutils.IsPodReady(p)
	terminating := p.DeletionTimestamp != nil
	// A terminating pod is never ready, unless the service publishes
	// not-ready addresses.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	e := discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating)},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
	if n := p.Spec.NodeName; n != "" {
		e.NodeName = ptr.To(n)
		if z := zones[n]; z != "" {
			e.Zone = ptr.To(z)
		}
	}
	if h := endpointHostname(p, svc); h != "" {
		e.Hostname = ptr.To(h)
	}
	return e
}

func sortEndpoints(eps []discoveryv1.Endpoint) {
	sort.Slice(eps, func(i, j int) bool {
		ai, _ := netip.ParseAddr(eps[i].Addresses[0])
		aj, _ := netip.ParseAddr(eps[j].Addresses[0])
		if c := ai.Compare(aj); c != 0 {
			return c < 0
		}
		return uidOf(eps[i].TargetRef) < uidOf(eps[j].TargetRef)
	})
}

// SlicePlan is what the EndpointSlice controller writes for one service.
type SlicePlan struct {
	Create []*discoveryv1.EndpointSlice
	Update []*discoveryv1.EndpointSlice
	Delete []*discoveryv1.EndpointSlice
}

// Empty reports a plan that writes nothing.
func (p SlicePlan) Empty() bool { return len(p.Create)+len(p.Update)+len(p.Delete) == 0 }

// reconcileSlices matches the wanted slice contents of svc with the
// slices the controller already wrote for it: a slice whose content and
// metadata are already right is left alone, other existing slices are
// rewritten with what is still missing, and the rest are created or
// deleted. It writes nothing when everything is as wanted.
func reconcileSlices(svc *corev1.Service, want []sliceContent, existing []*discoveryv1.EndpointSlice) SlicePlan {
	var plan SlicePlan
	meta := sliceMeta(svc)
	used := make([]bool, len(existing))
	var missing []sliceContent
	for _, w := range want {
		found := false
		for i, e := range existing {
			if !used[i] && sliceUpToDate(e, w, meta) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	for i, e := range existing {
		if used[i] {
			continue
		}
		if len(missing) == 0 {
			plan.Delete = append(plan.Delete, e)
			continue
		}
		s := e.DeepCopy()
		s.Labels, s.OwnerReferences = meta.Labels, meta.OwnerReferences
		s.Ports, s.Endpoints = missing[0].Ports, missing[0].Endpoints
		plan.Update = append(plan.Update, s)
		missing = missing[1:]
	}
	for _, m := range missing {
		s := &discoveryv1.EndpointSlice{ObjectMeta: *meta.DeepCopy(), AddressType: discoveryv1.AddressTypeIPv4,
			Ports: m.Ports, Endpoints: m.Endpoints}
		plan.Create = append(plan.Create, s)
	}
	return plan
}

// sliceMeta is the metadata of every slice of svc.
func sliceMeta(svc *corev1.Service) metav1.ObjectMeta {
	l := endpointsLabels(svc)
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = sliceManagedBy
	return metav1.ObjectMeta{
		GenerateName:    svc.Name + "-",
		Namespace:       svc.Namespace,
		Labels:          l,
		OwnerReferences: []metav1.OwnerReference{controllerRef(svc, serviceKind)},
	}
}

func sliceUpToDate(e *discoveryv1.EndpointSlice, w sliceContent, meta metav1.ObjectMeta) bool {
	return e.AddressType == discoveryv1.AddressTypeIPv4 &&
		apiequality.Semantic.DeepEqual(e.Labels, meta.Labels) &&
		apiequality.Semantic.DeepEqual(e.OwnerReferences, meta.OwnerReferences) &&
		apiequality.Semantic.DeepEqual(e.Ports, w.Ports) &&
		apiequality.Semantic.DeepEqual(e.Endpoints, w.Endpoints)
}
