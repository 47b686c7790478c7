package clusterdns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Reply is what the view says about one query: a response, or that the
// name is not the cluster's and the upstream resolvers must answer it.
type Reply struct {
	// Msg is the response; nil when Forward.
	Msg *dns.Msg
	// Forward is true for names outside the cluster domain.
	Forward bool
	// Chase is the target of an ExternalName's CNAME when it lies outside
	// the cluster: the server asks the upstreams for it (same type) and
	// appends their records, as a recursive resolver does.
	Chase string
}

// maxUDPSize is the largest UDP response the server sends, whatever a
// client offers: the size DNS Flag Day 2020 settled on to avoid IP
// fragmentation.
const maxUDPSize = 1232

// Answer answers req from the view. It does no I/O.
func (v *View) Answer(req *dns.Msg) Reply {
	m := new(dns.Msg)
	if req.Response || len(req.Question) != 1 {
		return Reply{Msg: m.SetRcodeFormatError(req)}
	}
	if req.Opcode != dns.OpcodeQuery {
		return Reply{Msg: m.SetRcode(req, dns.RcodeNotImplemented)}
	}
	q := req.Question[0]
	name := strings.ToLower(dns.Fqdn(q.Name))
	if !dns.IsSubDomain(v.zone, name) {
		if q.Qtype == dns.TypePTR && q.Qclass == dns.ClassINET && len(v.names[name]) > 0 {
			m.SetReply(req)
			m.Authoritative, m.RecursionAvailable = true, true
			m.Answer = v.owned(v.names[name], dns.TypePTR, q.Name)
			return Reply{Msg: m}
		}
		return Reply{Forward: true}
	}
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return Reply{Msg: m}
	}
	rrs := v.names[name]
	if rrs == nil {
		if ip, ok := v.podAddr(name); ok {
			rrs = []dns.RR{&dns.A{Hdr: v.hdr(name, dns.TypeA), A: ip.AsSlice()}}
		} else if !v.nodes[name] {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{dns.Copy(v.soa)}
			return Reply{Msg: m}
		}
	}
	var r Reply
	if target, ok := v.chases[name]; ok && q.Qtype != dns.TypeCNAME {
		m.Answer = v.owned(rrs, dns.TypeCNAME, q.Name)
		if dns.IsSubDomain(v.zone, target) {
			m.Answer = append(m.Answer, v.owned(v.names[target], q.Qtype, target)...)
		} else {
			r.Chase = target
		}
		r.Msg = m
		return r
	}
	m.Answer = v.owned(rrs, q.Qtype, q.Name)
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{dns.Copy(v.soa)}
		return Reply{Msg: m}
	}
	for _, rr := range m.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			m.Extra = append(m.Extra, v.owned(v.names[srv.Target], dns.TypeA, srv.Target)...)
			m.Extra = append(m.Extra, v.owned(v.names[srv.Target], dns.TypeAAAA, srv.Target)...)
		}
	}
	return Reply{Msg: m}
}

// owned copies the records of type t (every type for ANY) with owner as
// their name, so the answer keeps the case the client asked in.
func (v *View) owned(rrs []dns.RR, t uint16, owner string) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if t != dns.TypeANY && rr.Header().Rrtype != t {
			continue
		}
		c := dns.Copy(rr)
		c.Header().Name = owner
		out = append(out, c)
	}
	return out
}

// podAddr reads "a-b-c-d.ns.pod.<domain>." as the address a.b.c.d. Any
// well-formed name answers, without checking that such a pod exists
// (CoreDNS's "pods insecure" mode, the one Kubernetes installs).
func (v *View) podAddr(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".pod."+v.zone)
	if !ok {
		return netip.Addr{}, false
	}
	label, ns, ok := strings.Cut(rest, ".")
	if !ok || ns == "" || strings.Contains(ns, ".") {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
	if err != nil || !ip.Is4() {
		return netip.Addr{}, false
	}
	return ip, true
}

// Finish fits resp to the transport of req: it echoes req's EDNS0 option
// (with this server's buffer size) and, over UDP, truncates to the size
// the client can take, setting TC so it asks again over TCP.
func Finish(req, resp *dns.Msg, udp bool) {
	// An upstream's OPT goes; ours replaces it when the client sent one.
	extra := resp.Extra[:0]
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	resp.Extra = extra
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		resp.SetEdns0(maxUDPSize, opt.Do())
	}
	if udp {
		resp.Truncate(min(size, maxUDPSize))
		return
	}
	resp.Truncate(dns.MaxMsgSize)
}
