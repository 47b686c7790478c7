package agent

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func svcFixture(name string, mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.0.10",
			ClusterIPs: []string{"10.96.0.10"},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	if mut != nil {
		mut(s)
	}
	return s
}

type epFixture struct {
	addr                        string
	node                        string
	ready, serving, terminating *bool
}

func sliceFixture(svc, name string, ports map[string]int32, eps ...epFixture) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for n, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(n), Port: ptr.To(p), Protocol: ptr.To(corev1.ProtocolTCP)})
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{Addresses: []string{e.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating}}
		if e.node != "" {
			ep.NodeName = ptr.To(e.node)
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

func fe(s string, proto uint8) LBFrontend {
	return LBFrontend{Addr: netip.MustParseAddrPort(s), Proto: proto}
}

func be(s string, w uint16) LBBackend { return LBBackend{Addr: netip.MustParseAddrPort(s), Weight: w} }

// localBe is an endpoint on this node.
func localBe(s string, w uint16) LBBackend {
	return LBBackend{Addr: netip.MustParseAddrPort(s), Weight: w, Local: true}
}

func TestBuildServiceTable_ports(t *testing.T) {
	yes, no := ptr.To(true), ptr.To(false)
	node1 := netip.MustParseAddr("192.168.1.10")
	tests := []struct {
		name     string
		svcs     []*corev1.Service
		slices   []*discoveryv1.EndpointSlice
		maglev   bool
		want     map[string]*LBPort
		problems []string
	}{{
		name: "cluster IP with ready endpoints, target port by name",
		svcs: []*corev1.Service{svcFixture("web", nil)},
		slices: []*discoveryv1.EndpointSlice{sliceFixture("web", "web-1", map[string]int32{"http": 8080},
			epFixture{addr: "10.244.0.5"}, epFixture{addr: "10.244.0.6", ready: yes}, epFixture{addr: "10.244.0.7", ready: no})},
		want: map[string]*LBPort{"default/web:http/TCP": {Key: "default/web:http/TCP",
			Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP)},
			Backends:  []LBBackend{be("10.244.0.5:8080", 1), be("10.244.0.6:8080", 1)}}},
	}, {
		name: "terminating serving endpoints only when none is ready",
		svcs: []*corev1.Service{svcFixture("web", nil)},
		slices: []*discoveryv1.EndpointSlice{sliceFixture("web", "web-1", map[string]int32{"http": 8080},
			epFixture{addr: "10.244.0.5", ready: no, serving: yes, terminating: yes},
			epFixture{addr: "10.244.0.6", ready: no, serving: no, terminating: yes})},
		want: map[string]*LBPort{"default/web:http/TCP": {Key: "default/web:http/TCP",
			Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP)},
			Backends:  []LBBackend{be("10.244.0.5:8080", 1)}}},
	}, {
		name: "no endpoints: a port that refuses",
		svcs: []*corev1.Service{svcFixture("web", nil)},
		want: map[string]*LBPort{"default/web:http/TCP": {Key: "default/web:http/TCP",
			Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP)}, Backends: []LBBackend{}}},
	}, {
		name: "node port, external IPs, load balancer IPs, affinity, maglev by annotation",
		svcs: []*corev1.Service{svcFixture("web", func(s *corev1.Service) {
			s.Annotations = map[string]string{AnnotationLBAlgorithm: "maglev"}
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.ExternalIPs = []string{"203.0.113.7"}
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.1"}}
		})},
		slices: []*discoveryv1.EndpointSlice{sliceFixture("web", "web-1", map[string]int32{"http": 8080}, epFixture{addr: "10.244.0.5"})},
		want: map[string]*LBPort{"default/web:http/TCP": {Key: "default/web:http/TCP",
			Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP), fe("127.0.0.1:30080", ProtoTCP),
				fe("192.168.1.10:30080", ProtoTCP), fe("198.51.100.1:80", ProtoTCP), fe("203.0.113.7:80", ProtoTCP)},
			External: []LBFrontend{fe("192.168.1.10:30080", ProtoTCP), fe("198.51.100.1:80", ProtoTCP), fe("203.0.113.7:80", ProtoTCP)},
			Backends: []LBBackend{be("10.244.0.5:8080", 1)}, Affinity: 3 * time.Hour, Maglev: true}},
	}, {
		name: "external traffic policy Local: from outside, this node's endpoints only",
		svcs: []*corev1.Service{svcFixture("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.Ports[0].NodePort = 30080
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.1"}}
		})},
		slices: []*discoveryv1.EndpointSlice{sliceFixture("web", "web-1", map[string]int32{"http": 8080},
			epFixture{addr: "10.244.0.5", node: "node-1"}, epFixture{addr: "10.244.1.5", node: "node-2"},
			epFixture{addr: "10.244.0.6", node: "node-1", ready: no})},
		want: map[string]*LBPort{
			"default/web:http/TCP": {Key: "default/web:http/TCP",
				Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP), fe("127.0.0.1:30080", ProtoTCP),
					fe("192.168.1.10:30080", ProtoTCP), fe("198.51.100.1:80", ProtoTCP)},
				Backends: []LBBackend{localBe("10.244.0.5:8080", 1), be("10.244.1.5:8080", 1)}},
			"default/web:http/TCP/external": {Key: "default/web:http/TCP/external",
				External:      []LBFrontend{fe("192.168.1.10:30080", ProtoTCP), fe("198.51.100.1:80", ProtoTCP)},
				ExternalLocal: true,
				Backends:      []LBBackend{localBe("10.244.0.5:8080", 1)}},
		},
	}, {
		name: "external traffic policy Local with no endpoint on this node: a port that drops",
		svcs: []*corev1.Service{svcFixture("web", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.Ports[0].NodePort = 30080
		})},
		slices: []*discoveryv1.EndpointSlice{sliceFixture("web", "web-1", map[string]int32{"http": 8080},
			epFixture{addr: "10.244.1.5", node: "node-2"})},
		want: map[string]*LBPort{
			"default/web:http/TCP": {Key: "default/web:http/TCP",
				Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP), fe("127.0.0.1:30080", ProtoTCP), fe("192.168.1.10:30080", ProtoTCP)},
				Backends:  []LBBackend{be("10.244.1.5:8080", 1)}},
			"default/web:http/TCP/external": {Key: "default/web:http/TCP/external",
				External: []LBFrontend{fe("192.168.1.10:30080", ProtoTCP)}, ExternalLocal: true, Backends: []LBBackend{}},
		},
	}, {
		name: "internal traffic policy Local: cluster IP to this node's endpoints only",
		svcs: []*corev1.Service{svcFixture("web", func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
		})},
		slices: []*discoveryv1.EndpointSlice{sliceFixture("web", "web-1", map[string]int32{"http": 8080},
			epFixture{addr: "10.244.0.5", node: "node-1"}, epFixture{addr: "10.244.1.5", node: "node-2"})},
		maglev: true,
		want: map[string]*LBPort{
			"default/web:http/TCP/local": {Key: "default/web:http/TCP/local",
				Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP)},
				Backends:  []LBBackend{localBe("10.244.0.5:8080", 1)}, Affinity: time.Minute, Maglev: true},
			"default/web:http/TCP": {Key: "default/web:http/TCP",
				Frontends: []LBFrontend{fe("127.0.0.1:30080", ProtoTCP), fe("192.168.1.10:30080", ProtoTCP)},
				External:  []LBFrontend{fe("192.168.1.10:30080", ProtoTCP)},
				Backends:  []LBBackend{localBe("10.244.0.5:8080", 1), be("10.244.1.5:8080", 1)}, Affinity: time.Minute, Maglev: true},
		},
	}, {
		name: "UDP and unnamed ports, weights, slices of two services",
		svcs: []*corev1.Service{svcFixture("dns", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}
		})},
		slices: []*discoveryv1.EndpointSlice{
			func() *discoveryv1.EndpointSlice {
				s := sliceFixture("dns", "dns-1", nil, epFixture{addr: "10.244.0.5"}, epFixture{addr: "10.244.0.6"}, epFixture{addr: "10.244.0.7"})
				s.Ports = []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)}}
				s.Annotations = map[string]string{AnnotationLBWeights: "10.244.0.5=3, 10.244.0.7=0"}
				return s
			}(),
			sliceFixture("other", "other-1", map[string]int32{"": 9999}, epFixture{addr: "10.244.9.9"}),
		},
		want: map[string]*LBPort{"default/dns:53/UDP": {Key: "default/dns:53/UDP",
			Frontends: []LBFrontend{fe("10.96.0.10:53", ProtoUDP)},
			Backends:  []LBBackend{be("10.244.0.5:5353", 3), be("10.244.0.6:5353", 1)}}},
	}, {
		name: "headless, ExternalName and SCTP have nothing to balance",
		svcs: []*corev1.Service{
			svcFixture("headless", func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = []string{"None"} }),
			svcFixture("ext", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeExternalName
				s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
			}),
			svcFixture("sctp", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolSCTP }),
		},
		want:     map[string]*LBPort{},
		problems: []string{"service default/sctp port 80: protocol SCTP is not balanced (TCP and UDP are)"},
	}, {
		name: "bad annotations are reported and defaulted",
		svcs: []*corev1.Service{svcFixture("web", func(s *corev1.Service) {
			s.Annotations = map[string]string{AnnotationLBAlgorithm: "round-robin"}
		})},
		slices: []*discoveryv1.EndpointSlice{func() *discoveryv1.EndpointSlice {
			s := sliceFixture("web", "web-1", map[string]int32{"http": 8080}, epFixture{addr: "10.244.0.5"})
			s.Annotations = map[string]string{AnnotationLBWeights: "10.244.0.5=500"}
			return s
		}()},
		maglev: true,
		want: map[string]*LBPort{"default/web:http/TCP": {Key: "default/web:http/TCP",
			Frontends: []LBFrontend{fe("10.96.0.10:80", ProtoTCP)},
			Backends:  []LBBackend{be("10.244.0.5:8080", 1)}, Maglev: true}},
		problems: []string{
			`service default/web: annotation service.keel.dev/lb-algorithm: "round-robin" is neither random nor maglev; using the default`,
			`endpointslice default/web-1: annotation service.keel.dev/weights: item 1 "10.244.0.5=500": weight "500" is not a whole number from 0 to 100; every endpoint weighs 1`,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BuildServiceTable(ServiceTableInput{Node: "node-1", NodeAddrs: []netip.Addr{node1},
				Services: tc.svcs, Slices: tc.slices, Maglev: tc.maglev})
			if !reflect.DeepEqual(got.Ports, tc.want) {
				for k, p := range got.Ports {
					t.Logf("got %s: %+v", k, *p)
				}
				t.Errorf("ports differ from %v", tc.want)
			}
			if strings.Join(got.Problems, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got.Problems, "\n"), strings.Join(tc.problems, "\n"))
			}
		})
	}
}

func TestParseLBWeights_errors(t *testing.T) {
	for _, s := range []string{"10.0.0.1", "10.0.0.1=x", "::1=2", "10.0.0.1=101", "10.0.0.1=1,10.0.0.1=2", "=1"} {
		if _, err := ParseLBWeights(s); err == nil {
			t.Errorf("ParseLBWeights(%q) took it", s)
		}
	}
	got, err := ParseLBWeights(" 10.0.0.1=0 ,10.0.0.2=100")
	if err != nil || got[netip.MustParseAddr("10.0.0.1")] != 0 || got[netip.MustParseAddr("10.0.0.2")] != 100 || len(got) != 2 {
		t.Errorf("ParseLBWeights: %v, %v", got, err)
	}
}

func FuzzParseLBWeights(f *testing.F) {
	f.Add("10.0.0.1=3,10.0.0.2=1")
	f.Add("10.0.0.1=0")
	f.Add(" , =")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseLBWeights(s)
		if err != nil {
			return
		}
		for a, n := range w {
			if !a.Is4() || n > MaxLBWeight {
				t.Fatalf("%q gave %s=%d", s, a, n)
			}
		}
	})
}
