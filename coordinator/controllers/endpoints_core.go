package controllers

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kubectl/pkg/util/podutils"
)

// Labels the endpoints controllers put on what they write, as Kubernetes'.
const (
	labelHeadless = "service.kubernetes.io/headless"
	// labelSkipMirror tells a mirroring controller that the Endpoints of a
	// selector service already have slices of their own.
	labelSkipMirror = "endpointslice.kubernetes.io/skip-mirror"
)

// managesEndpoints reports whether the endpoints controllers write the
// Endpoints and EndpointSlices of svc: only for services with a selector
// that are not ExternalName. Services without a selector (the kubernetes
// service among them) keep the endpoints others write for them.
func managesEndpoints(svc *corev1.Service) bool {
	return len(svc.Spec.Selector) > 0 && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// selectedPods returns the pods of pods that svc's selector matches.
func selectedPods(svc *corev1.Service, pods []*corev1.Pod) []*corev1.Pod {
	sel := labels.SelectorFromValidatedSet(svc.Spec.Selector)
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Namespace == svc.Namespace && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// podInEndpoints reports whether a pod belongs in endpoints at all: it
// has an IP and has not finished; a terminating pod only when
// includeTerminating.
func podInEndpoints(p *corev1.Pod, includeTerminating bool) bool {
	if p.Status.PodIP == "" {
		return false
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	return includeTerminating || p.DeletionTimestamp == nil
}

// podIPv4 is the pod's IPv4 address, or "" when it has none.
func podIPv4(p *corev1.Pod) string {
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a.String()
		}
	}
	return ""
}

// endpointHostname is the hostname an endpoint carries: a headless
// service's pods that name the service as their subdomain are reachable
// by hostname.
func endpointHostname(p *corev1.Pod, svc *corev1.Service) string {
	if svc.Spec.ClusterIP == corev1.ClusterIPNone && p.Spec.Hostname != "" &&
		p.Spec.Subdomain == svc.Name && p.Namespace == svc.Namespace {
		return p.Spec.Hostname
	}
	return ""
}

// findPort resolves a service port's targetPort on a pod: a number as it
// is, a name through the pod's container ports of the same protocol.
func findPort(p *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal && protocolOf(cp.Protocol) == protocolOf(sp.Protocol) {
					return cp.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("pod %s/%s has no container port named %q", p.Namespace, p.Name, tp.StrVal)
	case tp.Type == intstr.Int && tp.IntVal != 0:
		return tp.IntVal, nil
	}
	return sp.Port, nil
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// desiredSubsets computes the subsets of a selector service's Endpoints
// from the pods its selector matches, as Kubernetes' endpoints controller
// does: ready pods (every pod with publishNotReadyAddresses) as
// addresses, the others as notReadyAddresses, terminating pods left out
// unless publishNotReadyAddresses, pods without an IPv4 address skipped,
// and subsets grouped by their resolved ports.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	tolerateUnready := svc.Spec.PublishNotReadyAddresses
	type group struct {
		ports           []corev1.EndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	add := func(ports []corev1.EndpointPort, a corev1.EndpointAddress, ready bool) {
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
		}
		if ready {
			g.ready = append(g.ready, a)
		} else {
			g.notReady = append(g.notReady, a)
		}
	}
	for _, p := range pods {
		if !podInEndpoints(p, tolerateUnready) {
			continue
		}
		ip := podIPv4(p)
		if ip == "" {
			continue
		}
		a := corev1.EndpointAddress{
			IP:        ip,
			Hostname:  endpointHostname(p, svc),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		}
		if p.Spec.NodeName != "" {
			node := p.Spec.NodeName
			a.NodeName = &node
		}
		ready := tolerateUnready || podutils.IsPodReady(p)
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				add(nil, a, ready)
			}
			continue
		}
		var ports []corev1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := findPort(p, sp)
			if err != nil {
				continue
			}
			ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: protocolOf(sp.Protocol), AppProtocol: sp.AppProtocol})
		}
		if len(ports) == 0 {
			continue
		}
		add(ports, a, ready)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []corev1.EndpointSubset
	for _, k := range keys {
		g := groups[k]
		sortAddresses(g.ready)
		sortAddresses(g.notReady)
		out = append(out, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	return out
}

// portsKey names a set of ports independently of their order.
func portsKey(ports []corev1.EndpointPort) string {
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Name != ports[j].Name {
			return ports[i].Name < ports[j].Name
		}
		if ports[i].Port != ports[j].Port {
			return ports[i].Port < ports[j].Port
		}
		return ports[i].Protocol < ports[j].Protocol
	})
	var b bytes.Buffer
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%d/%s,", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}

// sortAddresses orders addresses by IP, then by pod UID.
func sortAddresses(as []corev1.EndpointAddress) {
	sort.Slice(as, func(i, j int) bool {
		ai, _ := netip.ParseAddr(as[i].IP)
		aj, _ := netip.ParseAddr(as[j].IP)
		if c := ai.Compare(aj); c != 0 {
			return c < 0
		}
		return uidOf(as[i].TargetRef) < uidOf(as[j].TargetRef)
	})
}

func uidOf(r *corev1.ObjectReference) string {
	if r == nil {
		return ""
	}
	return string(r.UID)
}

// endpointsLabels are the labels of a service's Endpoints and slices: the
// service's own, and the headless marker for a headless service.
func endpointsLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		out[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[labelHeadless] = ""
	}
	return out
}
