package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Protocols of service frontends, as the kernel numbers them.
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// LBTableSize is the number of slots in a service port's lookup table,
// which the eBPF maps must agree with (a prime, as Maglev needs).
const LBTableSize = 1021

// Annotations of the service load balancer.
const (
	// AnnotationLBAlgorithm on a Service picks how its backends fill
	// their lookup table: "random" or "maglev".
	AnnotationLBAlgorithm = "service.keel.dev/lb-algorithm"
	// AnnotationLBWeights on an EndpointSlice weighs its endpoints:
	// "10.244.1.5=3,10.244.2.7=1"; unnamed endpoints weigh 1, 0 drains
	// one. Weights run from 0 to MaxLBWeight.
	AnnotationLBWeights = "service.keel.dev/weights"
	// AnnotationOtherNodesOnly "true" on a Service leaves this node's
	// own endpoints out of its backends, for the pods of this node: the
	// kube-dns service, which pods use when their own node's DNS (the one
	// such an endpoint would reach) does not answer.
	AnnotationOtherNodesOnly = "service.keel.dev/other-nodes-only"
)

// MaxLBWeight is the largest endpoint weight.
const MaxLBWeight = 100

// LBFrontend is an address, port and protocol a service is reached at.
type LBFrontend struct {
	Addr  netip.AddrPort
	Proto uint8
}

func (f LBFrontend) String() string {
	if f.Proto == ProtoUDP {
		return f.Addr.String() + "/UDP"
	}
	return f.Addr.String() + "/TCP"
}

// LBBackend is an endpoint a service port leads to.
type LBBackend struct {
	Addr   netip.AddrPort
	Weight uint16
	// Local is an endpoint on this node: traffic from outside reaches it
	// through the node's stack, other nodes' endpoints through a source
	// translation to this node's address.
	Local bool
}

// LBPort is one service port as the load balancer sees it: the frontends
// that lead to it, and its backends.
type LBPort struct {
	// Key names it: "NS/NAME:PORT/PROTO", PORT the port's name or number,
	// with "/local" for the frontends of internalTrafficPolicy Local and
	// "/external" for those of externalTrafficPolicy Local.
	Key       string
	Frontends []LBFrontend // sorted; balanced by the socket programs
	// External are the frontends that traffic from outside the node
	// reaches (node addresses and NodePorts, external IPs, load balancer
	// addresses), balanced by the tc programs on the uplink; sorted.
	External []LBFrontend
	// ExternalLocal is externalTrafficPolicy Local: Backends are this
	// node's only and the client's address is kept.
	ExternalLocal bool
	Backends      []LBBackend // sorted by address; empty refuses connections
	// Affinity keeps a client on its backend while it keeps connecting
	// within this time (sessionAffinity ClientIP); 0 for none.
	Affinity time.Duration
	// Maglev fills the lookup table with Maglev hashing instead of in
	// proportion only.
	Maglev bool
}

// ServiceTable is what the load balancer should route: plain data built
// from Services and EndpointSlices.
type ServiceTable struct {
	Ports map[string]*LBPort
	// Problems says what was left out, and why.
	Problems []string
}

// ServiceTableInput is what a table is built from.
type ServiceTableInput struct {
	// Node is this node's name (for internalTrafficPolicy Local).
	Node string
	// NodeAddrs are this node's addresses, where NodePorts are served
	// (127.0.0.1 is always added).
	NodeAddrs []netip.Addr
	Services  []*corev1.Service
	Slices    []*discoveryv1.EndpointSlice
	// Maglev is the algorithm of services that do not name one.
	Maglev bool
}

// BuildServiceTable computes what the load balancer routes. IPv4 only;
// SCTP, headless and ExternalName services have nothing to balance.
func BuildServiceTable(in ServiceTableInput) ServiceTable {
	t := ServiceTable{Ports: map[string]*LBPort{}}
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range in.Slices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		bySvc[s.Namespace+"/"+name] = append(bySvc[s.Namespace+"/"+name], s)
	}
	svcs := slices.Clone(in.Services)
	sort.Slice(svcs, func(i, j int) bool {
		return svcs[i].Namespace+"/"+svcs[i].Name < svcs[j].Namespace+"/"+svcs[j].Name
	})
	for _, svc := range svcs {
		t.addService(svc, bySvc[svc.Namespace+"/"+svc.Name], in)
	}
	return t
}

// BuildServicePorts is the part of the table one service makes, from its
// EndpointSlices (in.Services and in.Slices are not read).
func BuildServicePorts(svc *corev1.Service, eps []*discoveryv1.EndpointSlice, in ServiceTableInput) ServiceTable {
	t := ServiceTable{Ports: map[string]*LBPort{}}
	var own []*discoveryv1.EndpointSlice
	for _, s := range eps {
		if s.Namespace == svc.Namespace && s.Labels[discoveryv1.LabelServiceName] == svc.Name && s.AddressType == discoveryv1.AddressTypeIPv4 {
			own = append(own, s)
		}
	}
	t.addService(svc, own, in)
	return t
}

func (t *ServiceTable) problem(format string, args ...any) {
	t.Problems = append(t.Problems, fmt.Sprintf(format, args...))
}

func (t *ServiceTable) addService(svc *corev1.Service, eps []*discoveryv1.EndpointSlice, in ServiceTableInput) {
	nodeAddrs := append([]netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, in.NodeAddrs...)
	name := svc.Namespace + "/" + svc.Name
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return
	}
	maglev := in.Maglev
	switch a := svc.Annotations[AnnotationLBAlgorithm]; a {
	case "":
	case "random":
		maglev = false
	case "maglev":
		maglev = true
	default:
		t.problem("service %s: annotation %s: %q is neither random nor maglev; using the default", name, AnnotationLBAlgorithm, a)
	}
	var affinity time.Duration
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		secs := int32(corev1.DefaultClientIPServiceAffinitySeconds)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			secs = *c.ClientIP.TimeoutSeconds
		}
		affinity = time.Duration(secs) * time.Second
	}
	localOnly := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	externalLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	otherNodesOnly := svc.Annotations[AnnotationOtherNodesOnly] == "true" && in.Node != ""
	clusterIPs := svc.Spec.ClusterIPs
	if len(clusterIPs) == 0 && svc.Spec.ClusterIP != "" {
		clusterIPs = []string{svc.Spec.ClusterIP}
	}
	var lbIPs []string
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			lbIPs = append(lbIPs, ing.IP)
		}
	}
	for _, sp := range svc.Spec.Ports {
		var proto uint8
		switch sp.Protocol {
		case corev1.ProtocolTCP, "":
			proto = ProtoTCP
		case corev1.ProtocolUDP:
			proto = ProtoUDP
		default:
			t.problem("service %s port %d: protocol %s is not balanced (TCP and UDP are)", name, sp.Port, sp.Protocol)
			continue
		}
		portName := sp.Name
		if portName == "" {
			portName = strconv.Itoa(int(sp.Port))
		}
		key := fmt.Sprintf("%s:%s/%s", name, portName, protoName(proto))
		backends := t.backends(sp, eps, "", in.Node)
		if otherNodesOnly {
			backends = slices.DeleteFunc(backends, func(b LBBackend) bool { return b.Local })
		}
		internal := v4Frontends(clusterIPs, sp.Port, proto)
		external := v4Frontends(svc.Spec.ExternalIPs, sp.Port, proto)
		external = append(external, v4Frontends(lbIPs, sp.Port, proto)...)
		var outside []LBFrontend // what traffic from outside reaches
		outside = append(outside, external...)
		if sp.NodePort != 0 {
			for _, a := range nodeAddrs {
				if a.Is4() {
					f := LBFrontend{Addr: netip.AddrPortFrom(a, uint16(sp.NodePort)), Proto: proto}
					external = append(external, f)
					if !a.IsLoopback() {
						outside = append(outside, f)
					}
				}
			}
		}
		if externalLocal {
			// From outside, this node's endpoints only; from the node
			// itself, every endpoint (as kube-proxy does).
			t.add(&LBPort{Key: key + "/external", External: outside, ExternalLocal: true,
				Backends: t.backends(sp, eps, in.Node, in.Node), Affinity: affinity, Maglev: maglev})
			outside = nil
		}
		if localOnly {
			t.add(&LBPort{Key: key + "/local", Frontends: internal, Backends: t.backends(sp, eps, in.Node, in.Node), Affinity: affinity, Maglev: maglev})
			t.add(&LBPort{Key: key, Frontends: external, External: outside, Backends: backends, Affinity: affinity, Maglev: maglev})
			continue
		}
		t.add(&LBPort{Key: key, Frontends: append(internal, external...), External: outside, Backends: backends, Affinity: affinity, Maglev: maglev})
	}
}

func (t *ServiceTable) add(p *LBPort) {
	if len(p.Frontends) == 0 && len(p.External) == 0 {
		return
	}
	p.Frontends = sortFrontends(p.Frontends)
	p.External = sortFrontends(p.External)
	if len(p.Backends) > LBTableSize {
		t.problem("service port %s: %d backends, only the first %d are balanced", p.Key, len(p.Backends), LBTableSize)
		p.Backends = p.Backends[:LBTableSize]
	}
	t.Ports[p.Key] = p
}

func sortFrontends(fs []LBFrontend) []LBFrontend {
	slices.SortFunc(fs, func(a, b LBFrontend) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return int(a.Proto) - int(b.Proto)
	})
	return slices.Compact(fs)
}

func protoName(p uint8) string {
	if p == ProtoUDP {
		return "UDP"
	}
	return "TCP"
}

func v4Frontends(ips []string, port int32, proto uint8) []LBFrontend {
	var out []LBFrontend
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() || port <= 0 || port > 65535 {
			continue
		}
		out = append(out, LBFrontend{Addr: netip.AddrPortFrom(a, uint16(port)), Proto: proto})
	}
	return out
}

// backends are the endpoints of service port sp in the slices: the ready
// ones, or, when none is, the serving ones that are terminating. With
// node set, only that node's. Those of node self are marked local.
func (t *ServiceTable) backends(sp corev1.ServicePort, eps []*discoveryv1.EndpointSlice, node, self string) []LBBackend {
	ready := map[netip.AddrPort]uint16{}
	terminating := map[netip.AddrPort]uint16{}
	local := map[netip.AddrPort]bool{}
	for _, s := range eps {
		port, ok := slicePort(s, sp)
		if !ok {
			continue
		}
		weights, err := ParseLBWeights(s.Annotations[AnnotationLBWeights])
		if err != nil {
			t.problem("endpointslice %s/%s: annotation %s: %v; every endpoint weighs 1", s.Namespace, s.Name, AnnotationLBWeights, err)
			weights = nil
		}
		for _, ep := range s.Endpoints {
			if node != "" && (ep.NodeName == nil || *ep.NodeName != node) {
				continue
			}
			isReady := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			serving := isReady
			if ep.Conditions.Serving != nil {
				serving = *ep.Conditions.Serving
			}
			isTerminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					continue
				}
				w, named := weights[ip]
				if !named {
					w = 1
				}
				if w == 0 {
					continue
				}
				ap := netip.AddrPortFrom(ip, port)
				if self != "" && ep.NodeName != nil && *ep.NodeName == self {
					local[ap] = true
				}
				switch {
				case isReady && !isTerminating:
					ready[ap] = w
				case serving && isTerminating:
					terminating[ap] = w
				}
			}
		}
	}
	use := ready
	if len(use) == 0 {
		use = terminating
	}
	out := make([]LBBackend, 0, len(use))
	for a, w := range use {
		out = append(out, LBBackend{Addr: a, Weight: w, Local: local[a]})
	}
	slices.SortFunc(out, func(a, b LBBackend) int { return a.Addr.Compare(b.Addr) })
	return out
}

// slicePort is the port number a slice gives service port sp: the slice
// port of the same name and protocol.
func slicePort(s *discoveryv1.EndpointSlice, sp corev1.ServicePort) (uint16, bool) {
	want := sp.Protocol
	if want == "" {
		want = corev1.ProtocolTCP
	}
	for _, p := range s.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name != sp.Name || proto != want || p.Port == nil || *p.Port <= 0 || *p.Port > 65535 {
			continue
		}
		return uint16(*p.Port), true
	}
	return 0, false
}

// ParseLBWeights reads the weights annotation: comma-separated
// ADDRESS=WEIGHT pairs, IPv4 addresses, weights 0 to MaxLBWeight.
func ParseLBWeights(s string) (map[netip.Addr]uint16, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[netip.Addr]uint16{}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		addr, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("item %d %q: want ADDRESS=WEIGHT", i+1, part)
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(addr))
		if err != nil || !ip.Is4() {
			return nil, fmt.Errorf("item %d %q: %q is not an IPv4 address", i+1, part, addr)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(w), 10, 16)
		if err != nil || n > MaxLBWeight {
			return nil, fmt.Errorf("item %d %q: weight %q is not a whole number from 0 to %d", i+1, part, w, MaxLBWeight)
		}
		if _, dup := out[ip]; dup {
			return nil, fmt.Errorf("item %d %q: %s is weighed twice", i+1, part, ip)
		}
		out[ip] = uint16(n)
	}
	return out, nil
}
