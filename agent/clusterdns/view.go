package clusterdns

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Options shape the records of a View.
type Options struct {
	// Domain is the cluster domain, such as "cluster.local".
	Domain string
	// TTL is the time to live of every answer, in seconds.
	TTL uint32
	// NegativeTTL is how long a resolver may cache that a cluster name
	// does not exist (the SOA's minimum field, RFC 2308), in seconds.
	NegativeTTL uint32
}

// DefaultOptions are the cluster.local domain, answers cached for 5 s and
// negative answers for 5 s: short, since a Service may appear at any time
// and pods look names up as soon as they start.
func DefaultOptions() Options {
	return Options{Domain: "cluster.local", TTL: 5, NegativeTTL: 5}
}

// View is every record the cluster's Services and EndpointSlices give, at
// one moment. It is immutable once built, so the server reads it from many
// goroutines while a new one is built.
type View struct {
	opts   Options
	zone   string // lower-case FQDN of the cluster domain
	dotted string // "." + zone
	soa    *dns.SOA
	names  map[string][]dns.RR // lower-case owner name: its records
	nodes  map[string]bool     // every name that exists, with empty non-terminals
	chases map[string]string   // ExternalName service name: its target
}

// endpoint is one ready address set of a headless service.
type endpoint struct {
	addrs    []string
	hostname string
	ports    []discoveryv1.EndpointPort
}

// NewView builds the records of services and slices in opts.Domain.
func NewView(opts Options, services []*corev1.Service, slices []*discoveryv1.EndpointSlice) *View {
	zone := dns.CanonicalName(opts.Domain)
	v := &View{opts: opts, zone: zone, dotted: "." + zone, names: make(map[string][]dns.RR, 3*len(services)+len(slices)),
		nodes: make(map[string]bool, 2*len(services)), chases: map[string]string{}}
	v.soa = &dns.SOA{
		Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: opts.NegativeTTL},
		Ns:  "ns.dns." + zone, Mbox: "hostmaster." + zone,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: opts.NegativeTTL,
	}
	v.add(v.soa)
	for _, n := range []string{"svc." + zone, "pod." + zone} {
		v.markNode(n)
	}

	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		key := s.Namespace + "/" + name
		bySvc[key] = append(bySvc[key], s)
	}
	for _, svc := range services {
		v.addService(svc, bySvc[svc.Namespace+"/"+svc.Name])
	}
	return v
}

// Domain is the view's cluster domain as a lower-case FQDN.
func (v *View) Domain() string { return v.zone }

func (v *View) addService(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) {
	name := dns.CanonicalName(svc.Name + "." + svc.Namespace + ".svc." + v.zone)
	v.markNode(name)
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		target := dns.CanonicalName(svc.Spec.ExternalName)
		if _, ok := dns.IsDomainName(target); !ok || svc.Spec.ExternalName == "" {
			return
		}
		v.add(&dns.CNAME{Hdr: v.hdr(name, dns.TypeCNAME), Target: target})
		v.chases[name] = target
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		v.addHeadless(name, svc, slices)
	default:
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, s := range ips {
			if ip, err := netip.ParseAddr(s); err == nil {
				v.addAddr(name, ip)
				v.addPTR(ip, name)
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				continue
			}
			v.add(&dns.SRV{Hdr: v.hdr(srvName(p.Name, p.Protocol, name), dns.TypeSRV),
				Priority: 0, Weight: 100, Port: uint16(p.Port), Target: name})
		}
	}
}

// addHeadless gives a headless service one address record per ready
// endpoint, a name per endpoint (its hostname, else its address with
// dashes) and SRV records per endpoint and named port.
func (v *View) addHeadless(name string, svc *corev1.Service, slices []*discoveryv1.EndpointSlice) {
	var eps []endpoint
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			h := ""
			if e.Hostname != nil {
				h = *e.Hostname
			}
			eps = append(eps, endpoint{addrs: e.Addresses, hostname: h, ports: s.Ports})
		}
	}
	sort.SliceStable(eps, func(i, j int) bool { return strings.Join(eps[i].addrs, ",") < strings.Join(eps[j].addrs, ",") })
	seen := map[string]bool{}
	for _, e := range eps {
		for _, s := range e.addrs {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			label := e.hostname
			if label == "" {
				label = dashed(ip)
			}
			host := dns.CanonicalName(label + "." + name)
			if _, ok := dns.IsDomainName(host); !ok {
				continue
			}
			if !seen[ip.String()] {
				v.addAddr(name, ip)
				seen[ip.String()] = true
			}
			v.addAddr(host, ip)
			if e.hostname != "" {
				v.addPTR(ip, host)
			}
			for _, p := range e.ports {
				if p.Name == nil || *p.Name == "" || p.Port == nil {
					continue
				}
				proto := corev1.ProtocolTCP
				if p.Protocol != nil {
					proto = *p.Protocol
				}
				v.add(&dns.SRV{Hdr: v.hdr(srvName(*p.Name, proto, name), dns.TypeSRV),
					Priority: 0, Weight: 100, Port: uint16(*p.Port), Target: host})
			}
		}
	}
}

// srvName is "_port._proto.service".
func srvName(port string, proto corev1.Protocol, service string) string {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return dns.CanonicalName("_" + port + "._" + strings.ToLower(string(proto)) + "." + service)
}

// dashed is an address as one DNS label: 10.244.0.5 is 10-244-0-5.
func dashed(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.StringExpanded(), ":", "-")
}

func (v *View) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: v.opts.TTL}
}

func (v *View) addAddr(name string, ip netip.Addr) {
	if ip.Is4() {
		v.add(&dns.A{Hdr: v.hdr(name, dns.TypeA), A: ip.AsSlice()})
		return
	}
	v.add(&dns.AAAA{Hdr: v.hdr(name, dns.TypeAAAA), AAAA: ip.AsSlice()})
}

// addPTR maps ip back to name; the first name given for an address wins.
func (v *View) addPTR(ip netip.Addr, name string) {
	rev, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return
	}
	for _, rr := range v.names[rev] {
		if rr.Header().Rrtype == dns.TypePTR {
			return
		}
	}
	v.names[rev] = append(v.names[rev], &dns.PTR{Hdr: v.hdr(rev, dns.TypePTR), Ptr: name})
}

// add stores rr under its owner, dropping an identical record.
func (v *View) add(rr dns.RR) {
	name := rr.Header().Name
	for _, old := range v.names[name] {
		if dns.IsDuplicate(old, rr) {
			return
		}
	}
	v.names[name] = append(v.names[name], rr)
	v.markNode(name)
}

// markNode records name and its ancestors up to the zone as existing, so
// an empty non-terminal ("ns.svc.cluster.local.") answers NODATA, not
// NXDOMAIN.
func (v *View) markNode(name string) {
	for n := name; n == v.zone || strings.HasSuffix(n, v.dotted); {
		if v.nodes[n] {
			return
		}
		v.nodes[n] = true
		if n == v.zone {
			return
		}
		i, end := dns.NextLabel(n, 0)
		if end {
			return
		}
		n = n[i:]
	}
}
