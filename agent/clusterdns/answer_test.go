package clusterdns

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, ClusterIPs: []string{clusterIP}, Ports: ports}}
}

func slice(ns, svc string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps, Ports: ports,
	}
}

func testView() *View {
	web := service("default", "web", "10.96.0.10",
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})
	db := service("prod", "db", corev1.ClusterIPNone)
	ext := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "www.example.com"}}
	alias := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "alias"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "web.default.svc.cluster.local"}}
	dbPorts := []discoveryv1.EndpointPort{{Name: ptr("pg"), Port: ptr[int32](5432), Protocol: ptr(corev1.ProtocolTCP)}}
	dbSlice := slice("prod", "db", dbPorts,
		discoveryv1.Endpoint{Addresses: []string{"10.244.0.7"}, Hostname: ptr("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
		discoveryv1.Endpoint{Addresses: []string{"10.244.0.8"}, Hostname: ptr("db-1")},
		discoveryv1.Endpoint{Addresses: []string{"10.244.0.9"}, Hostname: ptr("db-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		discoveryv1.Endpoint{Addresses: []string{"10.244.0.11"}})
	return NewView(DefaultOptions(), []*corev1.Service{web, db, ext, alias}, []*discoveryv1.EndpointSlice{dbSlice})
}

func query(name string, t uint16) *dns.Msg {
	m := new(dns.Msg).SetQuestion(name, t)
	m.Id = 7
	return m
}

// rrs renders records without TTLs, sorted, for comparison.
func rrs(in []dns.RR) []string {
	var out []string
	for _, rr := range in {
		f := strings.Fields(rr.String())
		out = append(out, strings.Join(append([]string{f[0]}, f[3:]...), " "))
	}
	sort.Strings(out)
	return out
}

func TestView_answer(t *testing.T) {
	v := testView()
	tests := []struct {
		name   string
		q      string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
		soa    bool
		chase  string
	}{
		{name: "cluster IP", q: "web.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "case kept", q: "Web.Default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"Web.Default.svc.cluster.local. A 10.96.0.10"}},
		{name: "no AAAA for a v4 service", q: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA, soa: true},
		{name: "SRV of a named port", q: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "SRV over udp", q: "_dns._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_dns._udp.web.default.svc.cluster.local. SRV 0 100 53 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "headless: ready endpoints", q: "db.prod.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"db.prod.svc.cluster.local. A 10.244.0.11", "db.prod.svc.cluster.local. A 10.244.0.7", "db.prod.svc.cluster.local. A 10.244.0.8"}},
		{name: "headless: pod by hostname", q: "db-0.db.prod.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"db-0.db.prod.svc.cluster.local. A 10.244.0.7"}},
		{name: "headless: endpoint without hostname", q: "10-244-0-11.db.prod.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-244-0-11.db.prod.svc.cluster.local. A 10.244.0.11"}},
		{name: "headless: not ready is absent", q: "db-2.db.prod.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "headless SRV per endpoint", q: "_pg._tcp.db.prod.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"_pg._tcp.db.prod.svc.cluster.local. SRV 0 100 5432 10-244-0-11.db.prod.svc.cluster.local.",
				"_pg._tcp.db.prod.svc.cluster.local. SRV 0 100 5432 db-0.db.prod.svc.cluster.local.",
				"_pg._tcp.db.prod.svc.cluster.local. SRV 0 100 5432 db-1.db.prod.svc.cluster.local."},
			extra: []string{"10-244-0-11.db.prod.svc.cluster.local. A 10.244.0.11", "db-0.db.prod.svc.cluster.local. A 10.244.0.7", "db-1.db.prod.svc.cluster.local. A 10.244.0.8"}},
		{name: "ExternalName outside", q: "ext.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"ext.default.svc.cluster.local. CNAME www.example.com."}, chase: "www.example.com."},
		{name: "ExternalName asked for its CNAME", q: "ext.default.svc.cluster.local.", qtype: dns.TypeCNAME,
			answer: []string{"ext.default.svc.cluster.local. CNAME www.example.com."}},
		{name: "ExternalName inside", q: "alias.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.", "web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "pod by address", q: "10-244-0-5.default.pod.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-244-0-5.default.pod.cluster.local. A 10.244.0.5"}},
		{name: "pod name not an address", q: "10-244-0.default.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "unknown service", q: "nope.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "namespace is an empty non-terminal", q: "default.svc.cluster.local.", qtype: dns.TypeA, soa: true},
		{name: "search path miss", q: "www.example.com.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "zone SOA", q: "cluster.local.", qtype: dns.TypeSOA,
			answer: []string{"cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}},
		{name: "PTR of a cluster IP", q: "10.0.96.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"10.0.96.10.in-addr.arpa. PTR web.default.svc.cluster.local."}},
		{name: "PTR of a headless endpoint", q: "7.0.244.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"7.0.244.10.in-addr.arpa. PTR db-0.db.prod.svc.cluster.local."}},
		{name: "ANY", q: "web.default.svc.cluster.local.", qtype: dns.TypeANY,
			answer: []string{"web.default.svc.cluster.local. A 10.96.0.10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.Answer(query(tt.q, tt.qtype))
			if r.Forward || r.Msg == nil {
				t.Fatalf("forwarded a cluster name")
			}
			m := r.Msg
			if m.Id != 7 || !m.Response || !m.Authoritative {
				t.Errorf("header = %+v; want a response to id 7, authoritative", m.MsgHdr)
			}
			if m.Rcode != tt.rcode {
				t.Errorf("rcode = %s; want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := rrs(m.Answer); !slices.Equal(got, tt.answer) {
				t.Errorf("answer = %q; want %q", got, tt.answer)
			}
			if got := rrs(m.Extra); !slices.Equal(got, tt.extra) {
				t.Errorf("extra = %q; want %q", got, tt.extra)
			}
			if hasSOA := len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA; hasSOA != tt.soa {
				t.Errorf("authority = %v; want SOA %v", m.Ns, tt.soa)
			}
			if tt.soa && m.Ns[0].(*dns.SOA).Minttl != 5 {
				t.Errorf("negative TTL = %d; want 5", m.Ns[0].(*dns.SOA).Minttl)
			}
			if r.Chase != tt.chase {
				t.Errorf("chase = %q; want %q", r.Chase, tt.chase)
			}
		})
	}
}

func TestView_forwardsOutside(t *testing.T) {
	v := testView()
	for _, q := range []*dns.Msg{
		query("www.example.com.", dns.TypeA),
		query("local.", dns.TypeA),
		query("1.1.168.192.in-addr.arpa.", dns.TypePTR),
		query("10.0.96.10.in-addr.arpa.", dns.TypeA),
	} {
		if r := v.Answer(q); !r.Forward || r.Msg != nil {
			t.Errorf("%s: reply %+v; want forwarded", q.Question[0].Name, r)
		}
	}
}

func TestView_badQueries(t *testing.T) {
	v := testView()
	two := query("web.default.svc.cluster.local.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	notify := query("cluster.local.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	chaos := query("web.default.svc.cluster.local.", dns.TypeA)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	none := new(dns.Msg)
	for _, tt := range []struct {
		name  string
		q     *dns.Msg
		rcode int
	}{
		{"two questions", two, dns.RcodeFormatError},
		{"no question", none, dns.RcodeFormatError},
		{"notify", notify, dns.RcodeNotImplemented},
		{"chaos class", chaos, dns.RcodeRefused},
	} {
		r := v.Answer(tt.q)
		if r.Msg == nil || r.Msg.Rcode != tt.rcode {
			t.Errorf("%s: reply %+v; want rcode %s", tt.name, r, dns.RcodeToString[tt.rcode])
		}
	}
}

func TestView_otherDomain(t *testing.T) {
	v := NewView(Options{Domain: "edge.example", TTL: 30, NegativeTTL: 60}, []*corev1.Service{service("a", "b", "10.96.0.2")}, nil)
	r := v.Answer(query("b.a.svc.edge.example.", dns.TypeA))
	if got := rrs(r.Msg.Answer); !slices.Equal(got, []string{"b.a.svc.edge.example. A 10.96.0.2"}) || r.Msg.Answer[0].Header().Ttl != 30 {
		t.Fatalf("answer = %v", r.Msg.Answer)
	}
	if r := v.Answer(query("b.a.svc.cluster.local.", dns.TypeA)); !r.Forward {
		t.Fatalf("cluster.local answered by a view of edge.example")
	}
	r = v.Answer(query("c.a.svc.edge.example.", dns.TypeA))
	if r.Msg.Rcode != dns.RcodeNameError || r.Msg.Ns[0].(*dns.SOA).Minttl != 60 {
		t.Fatalf("negative answer = %v", r.Msg)
	}
}

func TestFinish_truncatesOverUDP(t *testing.T) {
	var svcs []*corev1.Service
	var eps []discoveryv1.Endpoint
	for i := 0; i < 100; i++ {
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{"10.244." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1)}})
	}
	svcs = append(svcs, service("default", "big", corev1.ClusterIPNone))
	v := NewView(DefaultOptions(), svcs, []*discoveryv1.EndpointSlice{slice("default", "big", nil, eps...)})
	for _, tt := range []struct {
		name      string
		edns      uint16
		udp       bool
		truncated bool
		max       int
	}{
		{"udp 512", 0, true, true, 512},
		{"udp edns 1232", 1232, true, true, 1232},
		{"udp edns 4096 capped", 4096, true, true, 1232},
		{"tcp", 0, false, false, 65535},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := query("big.default.svc.cluster.local.", dns.TypeA)
			if tt.edns > 0 {
				q.SetEdns0(tt.edns, false)
			}
			m := v.Answer(q).Msg
			Finish(q, m, tt.udp)
			wire, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if m.Truncated != tt.truncated || len(wire) > tt.max {
				t.Fatalf("truncated %v, %d bytes, %d answers; want truncated %v, at most %d bytes", m.Truncated, len(wire), len(m.Answer), tt.truncated, tt.max)
			}
			if (tt.edns > 0) != (m.IsEdns0() != nil) {
				t.Fatalf("OPT in reply = %v; want it only when asked with one", m.IsEdns0())
			}
			if !tt.truncated && len(m.Answer) != 100 {
				t.Fatalf("%d answers; want 100", len(m.Answer))
			}
		})
	}
}

// FuzzAnswer feeds arbitrary bytes as a query through the handler path:
// unpack, answer, fit to UDP, pack. It must never panic, and a packed
// reply must fit the client's size.
func FuzzAnswer(f *testing.F) {
	v := testView()
	for _, q := range []*dns.Msg{
		query("web.default.svc.cluster.local.", dns.TypeA),
		query("_pg._tcp.db.prod.svc.cluster.local.", dns.TypeSRV),
		query("ext.default.svc.cluster.local.", dns.TypeANY),
		query("10-1-2-3.x.pod.cluster.local.", dns.TypeA),
		query("7.0.244.10.in-addr.arpa.", dns.TypePTR),
		query("www.example.com.", dns.TypeA),
	} {
		wire, _ := q.Pack()
		f.Add(wire)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return
		}
		r := v.Answer(req)
		if r.Forward {
			return
		}
		Finish(req, r.Msg, true)
		wire, err := r.Msg.Pack()
		if err != nil {
			t.Fatalf("pack reply: %v", err)
		}
		if len(wire) > maxUDPSize {
			t.Fatalf("reply of %d bytes over UDP", len(wire))
		}
	})
}
