package controllers

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The cluster DNS service and the names of its EndpointSlices.
const (
	// KubeDNSNamespace and KubeDNSName name the Service pods reach the
	// cluster DNS of other nodes through.
	KubeDNSNamespace = metav1.NamespaceSystem
	KubeDNSName      = "kube-dns"
	// kubeDNSManagedBy marks the slices this controller writes, so the
	// EndpointSlice controller and this one never touch each other's.
	kubeDNSManagedBy = "kube-dns-controller.keel.dev"
	// noPodsTaintKey is the taint of a node whose agent runs no pods (and
	// so has no pod bridge and no DNS on it); the agent sets it.
	noPodsTaintKey = "node.keel.dev/no-pods"
)

// KubeDNSPorts are the ports of the kube-dns Service and of its slices:
// DNS over UDP and TCP.
func KubeDNSPorts() []corev1.ServicePort {
	return []corev1.ServicePort{
		{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
		{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
	}
}

// KubeDNSAnnotations are the annotations of the kube-dns Service. Each
// node's load balancer leaves the node's own endpoint out of it
// ("service.keel.dev/other-nodes-only", read by the agent): pods ask their
// own node's DNS directly, and reach the service only when that DNS does
// not answer, when the node's own endpoint would not answer either.
func KubeDNSAnnotations() map[string]string {
	return map[string]string{"service.keel.dev/other-nodes-only": "true"}
}

// KubeDNSLabels are the labels of the kube-dns Service.
func KubeDNSLabels() map[string]string { return map[string]string{"k8s-app": "kube-dns"} }

// kubeDNSEndpoints are the endpoints of the cluster DNS: one per node
// with an IPv4 pod CIDR that runs pods, at the first address of that
// CIDR (the pod bridge's, where the node's agent answers DNS), ready while
// the node is Ready. Nodes being deleted are left out. Sorted by address.
func kubeDNSEndpoints(nodes []*corev1.Node) []discoveryv1.Endpoint {
	var out []discoveryv1.Endpoint
	for _, n := range nodes {
		if n.DeletionTimestamp != nil || runsNoPods(n) {
			continue
		}
		gw, ok := podGateway(n)
		if !ok {
			continue
		}
		ready := nodeReady(n)
		e := discoveryv1.Endpoint{
			Addresses:  []string{gw.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false)},
			NodeName:   ptr.To(n.Name),
			TargetRef:  &corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID},
		}
		if z := n.Labels[corev1.LabelTopologyZone]; z != "" {
			e.Zone = ptr.To(z)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := netip.ParseAddr(out[i].Addresses[0])
		b, _ := netip.ParseAddr(out[j].Addresses[0])
		return a.Less(b)
	})
	return out
}

// podGateway is the first address of the node's IPv4 pod CIDR.
func podGateway(n *corev1.Node) (netip.Addr, bool) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
			continue
		}
		return p.Masked().Addr().Next(), true
	}
	return netip.Addr{}, false
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func runsNoPods(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == noPodsTaintKey {
			return true
		}
	}
	return false
}

// kubeDNSSliceName is the name of the i-th slice of the kube-dns Service.
func kubeDNSSliceName(i int) string { return fmt.Sprintf("%s-keel-%d", KubeDNSName, i) }

// desiredKubeDNSSlices are the slices of the kube-dns Service svc for the
// nodes: the endpoints cut into slices of at most 100, named
// kube-dns-keel-0, -1..., owned by svc. With no endpoints there is one
// empty slice, so the service shows it has none.
func desiredKubeDNSSlices(svc *corev1.Service, nodes []*corev1.Node) []*discoveryv1.EndpointSlice {
	eps := kubeDNSEndpoints(nodes)
	var ports []discoveryv1.EndpointPort
	for _, p := range KubeDNSPorts() {
		ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(p.Port), Protocol: ptr.To(p.Protocol)})
	}
	var out []*discoveryv1.EndpointSlice
	for i := 0; i == 0 || i*maxEndpointsOfSlice < len(eps); i++ {
		chunk := eps[min(i*maxEndpointsOfSlice, len(eps)):min((i+1)*maxEndpointsOfSlice, len(eps))]
		out = append(out, &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name: kubeDNSSliceName(i), Namespace: svc.Namespace,
				Labels: map[string]string{
					discoveryv1.LabelServiceName: svc.Name,
					discoveryv1.LabelManagedBy:   kubeDNSManagedBy,
				},
				OwnerReferences: []metav1.OwnerReference{controllerRef(svc, serviceKind)},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   chunk,
			Ports:       ports,
		})
	}
	return out
}

// planKubeDNSSlices compares the wanted slices with the ones that exist
// (this controller's, by name) and says what to write: missing ones are
// created, differing ones updated, surplus ones deleted.
func planKubeDNSSlices(want, existing []*discoveryv1.EndpointSlice) SlicePlan {
	var plan SlicePlan
	have := map[string]*discoveryv1.EndpointSlice{}
	for _, e := range existing {
		have[e.Name] = e
	}
	for _, w := range want {
		e, ok := have[w.Name]
		delete(have, w.Name)
		if !ok {
			plan.Create = append(plan.Create, w)
			continue
		}
		if e.AddressType == w.AddressType &&
			apiequality.Semantic.DeepEqual(e.Labels, w.Labels) &&
			apiequality.Semantic.DeepEqual(e.OwnerReferences, w.OwnerReferences) &&
			apiequality.Semantic.DeepEqual(e.Ports, w.Ports) &&
			apiequality.Semantic.DeepEqual(e.Endpoints, w.Endpoints) {
			continue
		}
		upd := e.DeepCopy()
		upd.Labels, upd.OwnerReferences = w.Labels, w.OwnerReferences
		upd.AddressType, upd.Ports, upd.Endpoints = w.AddressType, w.Ports, w.Endpoints
		plan.Update = append(plan.Update, upd)
	}
	var rest []string
	for name := range have {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		plan.Delete = append(plan.Delete, have[name])
	}
	return plan
}
