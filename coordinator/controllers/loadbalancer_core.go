package controllers

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// LoadBalancerClass is the spec.loadBalancerClass of the services keel's
// pool serves; services without a class are served too.
const LoadBalancerClass = "keel.dev/l2"

// Reasons of the load balancer controller's events, MetalLB's words.
const (
	reasonIPAllocated      = "IPAllocated"
	reasonAllocationFailed = "AllocationFailed"
	reasonIPReleased       = "IPReleased"
)

// lbEvent is an event the loop records on a service.
type lbEvent struct {
	Type, Reason, Message string
}

// lbDecision is what a service's load balancer status should be.
type lbDecision struct {
	Service *corev1.Service
	// Ingress is the service's status.loadBalancer.ingress to be.
	Ingress []corev1.LoadBalancerIngress
	// Changed says Ingress differs from the service's status.
	Changed bool
	// Event is what to tell the user, if anything.
	Event *lbEvent
}

// managesLoadBalancer reports whether the pool serves svc.
func managesLoadBalancer(svc *corev1.Service) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.DeletionTimestamp != nil {
		return false
	}
	c := svc.Spec.LoadBalancerClass
	return c == nil || *c == LoadBalancerClass
}

// decideLoadBalancers gives every LoadBalancer service the pool serves an
// address of the pool, and takes back the addresses of services that are
// no longer of type LoadBalancer. It returns a decision for each service
// it manages or releases; services of another class are left alone.
//
// Services keep the address they hold while it is in the pool and no
// older service holds it too; then spec.loadBalancerIP is honoured when
// that address is in the pool and free; then the others get the lowest
// free address of their first IP family. Older services (by creation, then namespace
// and name) choose first, so the outcome depends only on the services
// given, and a coordinator that starts over from the stored services
// never gives an address twice.
func decideLoadBalancers(svcs []*corev1.Service, pool LoadBalancerPool) []lbDecision {
	var managed []*corev1.Service
	var out []lbDecision
	for _, s := range svcs {
		switch {
		case managesLoadBalancer(s):
			managed = append(managed, s)
		case s.Spec.Type != corev1.ServiceTypeLoadBalancer && len(s.Status.LoadBalancer.Ingress) > 0:
			out = append(out, lbDecision{Service: s, Changed: true, Event: &lbEvent{corev1.EventTypeNormal, reasonIPReleased,
				fmt.Sprintf("Released %s: the service is no longer of type LoadBalancer", ingressList(s.Status.LoadBalancer.Ingress))}})
		}
	}
	sort.Slice(managed, func(i, j int) bool { return olderService(managed[i], managed[j]) })

	used := map[netip.Addr]string{}
	held := make([]netip.Addr, len(managed))
	for i, s := range managed {
		cur, ok := heldAddr(s)
		if !ok || !pool.Contains(cur) || used[cur] != "" {
			continue
		}
		// A held address must be the requested one, or of the family.
		if req, asked := requestedAddr(s); (asked && req != cur) || (!asked && cur.BitLen() != familyBits(s)) {
			continue
		}
		held[i], used[cur] = cur, keyOf(s)
	}
	// Services asking for an address choose before those taking any.
	events := make([]*lbEvent, len(managed))
	for _, asking := range []bool{true, false} {
		for i, s := range managed {
			if held[i].IsValid() || (s.Spec.LoadBalancerIP != "") != asking {
				continue
			}
			addr, fail := allocate(s, pool, used)
			if fail != "" {
				events[i] = &lbEvent{corev1.EventTypeWarning, reasonAllocationFailed,
					fmt.Sprintf("Failed to allocate IP for %q: %s", keyOf(s), fail)}
				continue
			}
			held[i], used[addr] = addr, keyOf(s)
			events[i] = &lbEvent{corev1.EventTypeNormal, reasonIPAllocated, fmt.Sprintf("Assigned IP [%q]", addr.String())}
		}
	}
	for i, s := range managed {
		d := lbDecision{Service: s, Event: events[i]}
		if addr := held[i]; addr.IsValid() {
			vip := corev1.LoadBalancerIPModeVIP
			d.Ingress = []corev1.LoadBalancerIngress{{IP: addr.String(), IPMode: &vip}}
		}
		d.Changed = !apiequality.Semantic.DeepEqual(normalIngress(d.Ingress), normalIngress(s.Status.LoadBalancer.Ingress))
		if d.Changed || d.Event != nil {
			out = append(out, d)
		}
	}
	return out
}

// allocate picks the service's address, or says why there is none.
func allocate(s *corev1.Service, pool LoadBalancerPool, used map[netip.Addr]string) (netip.Addr, string) {
	if pool.Empty() {
		return netip.Addr{}, "no load balancer address pool is configured (coordinator flag --loadbalancer-pool)"
	}
	if s.Spec.LoadBalancerIP != "" {
		req, err := netip.ParseAddr(s.Spec.LoadBalancerIP)
		switch {
		case err != nil:
			return netip.Addr{}, fmt.Sprintf("requested IP %q is not an IP address", s.Spec.LoadBalancerIP)
		case !pool.Contains(req):
			return netip.Addr{}, fmt.Sprintf("requested IP %s is not allowed in config: the pool is %s", req, pool)
		case used[req.Unmap()] != "":
			return netip.Addr{}, fmt.Sprintf("requested IP %s is already in use by %s", req, used[req.Unmap()])
		}
		return req.Unmap(), ""
	}
	a, ok := pool.first(familyBits(s), func(a netip.Addr) bool { return used[a] != "" })
	if !ok {
		return netip.Addr{}, fmt.Sprintf("no available IPs: every %s address of the pool %s is in use", familyName(s), pool)
	}
	return a, ""
}

// heldAddr is the first ingress address the service's status holds.
func heldAddr(s *corev1.Service) (netip.Addr, bool) {
	for _, in := range s.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// requestedAddr is spec.loadBalancerIP, and whether one is asked for
// (an unparsable one is asked for and matches nothing).
func requestedAddr(s *corev1.Service) (netip.Addr, bool) {
	if s.Spec.LoadBalancerIP == "" {
		return netip.Addr{}, false
	}
	a, _ := netip.ParseAddr(s.Spec.LoadBalancerIP)
	return a.Unmap(), true
}

// familyBits is the address length of the service's first IP family.
func familyBits(s *corev1.Service) int {
	if len(s.Spec.IPFamilies) > 0 && s.Spec.IPFamilies[0] == corev1.IPv6Protocol {
		return 128
	}
	return 32
}

func familyName(s *corev1.Service) string {
	if familyBits(s) == 128 {
		return "IPv6"
	}
	return "IPv4"
}

func keyOf(s *corev1.Service) string { return s.Namespace + "/" + s.Name }

func olderService(a, b *corev1.Service) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return keyOf(a) < keyOf(b)
}

// normalIngress treats an empty list and none alike.
func normalIngress(in []corev1.LoadBalancerIngress) []corev1.LoadBalancerIngress {
	if len(in) == 0 {
		return nil
	}
	return in
}

func ingressList(in []corev1.LoadBalancerIngress) string {
	var ips []string
	for _, i := range in {
		if i.IP != "" {
			ips = append(ips, i.IP)
		} else if i.Hostname != "" {
			ips = append(ips, i.Hostname)
		}
	}
	return fmt.Sprintf("%q", ips)
}
