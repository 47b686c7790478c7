package agent

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// loadBalancerClass is the class of the LoadBalancer services the
// coordinator's pool serves (coordinator/controllers.LoadBalancerClass);
// services without a class are served too.
const loadBalancerClass = "keel.dev/l2"

// labelExcludeFromLB keeps a node from announcing load balancer
// addresses, as in Kubernetes.
const labelExcludeFromLB = "node.kubernetes.io/exclude-from-external-load-balancers"

// LoadBalancerOwners says which node announces each load balancer address
// of the services: every agent computes it from the same objects, so the
// nodes agree without talking to each other.
//
// An address is announced by one of its eligible nodes: the Ready nodes
// (not being deleted, not labelled node.kubernetes.io/exclude-from-
// external-load-balancers) and, for a service with externalTrafficPolicy
// Local, only those of them with a ready endpoint of the service. Among
// them the node with the highest hash of the address and its name wins
// (rendezvous hashing), so an address moves only when its node stops
// being eligible, and then to the next node in its own order. Addresses
// without an eligible node are left out. When services share an address,
// the one first by namespace and name decides.
func LoadBalancerOwners(nodes []*corev1.Node, svcs []*corev1.Service, eps []*discoveryv1.EndpointSlice) map[netip.Addr]string {
	var ready []string
	for _, n := range nodes {
		if eligibleNode(n) {
			ready = append(ready, n.Name)
		}
	}
	sort.Strings(ready)
	svcs = append([]*corev1.Service(nil), svcs...)
	sort.Slice(svcs, func(i, j int) bool {
		return svcs[i].Namespace+"/"+svcs[i].Name < svcs[j].Namespace+"/"+svcs[j].Name
	})
	out := map[netip.Addr]string{}
	for _, s := range svcs {
		if !announced(s) {
			continue
		}
		candidates := ready
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			candidates = withEndpoints(ready, s, eps)
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			a, err := netip.ParseAddr(in.IP)
			if err != nil {
				continue
			}
			a = a.Unmap()
			if _, done := out[a]; done {
				continue
			}
			if owner := rendezvous(a, candidates); owner != "" {
				out[a] = owner
			}
		}
	}
	return out
}

// OwnedBy is the addresses owners gives to node, sorted.
func OwnedBy(owners map[netip.Addr]string, node string) []netip.Addr {
	var out []netip.Addr
	for a, n := range owners {
		if n == node {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// announced reports whether svc's addresses are announced by the nodes.
func announced(s *corev1.Service) bool {
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer || s.DeletionTimestamp != nil {
		return false
	}
	c := s.Spec.LoadBalancerClass
	return c == nil || *c == loadBalancerClass
}

func eligibleNode(n *corev1.Node) bool {
	if n.DeletionTimestamp != nil {
		return false
	}
	if _, excluded := n.Labels[labelExcludeFromLB]; excluded {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// withEndpoints is the nodes of ready that hold a ready endpoint of svc.
func withEndpoints(ready []string, svc *corev1.Service, eps []*discoveryv1.EndpointSlice) []string {
	has := map[string]bool{}
	for _, sl := range eps {
		if sl.Namespace != svc.Namespace || sl.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		for _, e := range sl.Endpoints {
			if e.NodeName != nil && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
				has[*e.NodeName] = true
			}
		}
	}
	var out []string
	for _, n := range ready {
		if has[n] {
			out = append(out, n)
		}
	}
	return out
}

// rendezvous is the node of nodes with the highest score for a, the
// lowest name among equals; "" when nodes is empty.
func rendezvous(a netip.Addr, nodes []string) string {
	best, bestScore := "", uint64(0)
	for _, n := range nodes {
		s := score(a, n)
		if best == "" || s > bestScore || (s == bestScore && n < best) {
			best, bestScore = n, s
		}
	}
	return best
}

func score(a netip.Addr, node string) uint64 {
	h := sha256.New()
	h.Write(a.AsSlice())
	h.Write([]byte{0})
	h.Write([]byte(node))
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])
}
