package agent

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestBuildServiceTable_otherNodesOnly(t *testing.T) {
	svc := func(annotated bool) *corev1.Service {
		return svcFixture("dns", func(s *corev1.Service) {
			if annotated {
				s.Annotations = map[string]string{AnnotationOtherNodesOnly: "true"}
			}
		})
	}
	slice := sliceFixture("dns", "dns-1", map[string]int32{"http": 53},
		epFixture{addr: "10.244.0.1", node: "a"}, epFixture{addr: "10.244.1.1", node: "b"})
	alone := sliceFixture("dns", "dns-1", map[string]int32{"http": 53}, epFixture{addr: "10.244.0.1", node: "a"})
	tests := []struct {
		name  string
		svc   *corev1.Service
		slice *discoveryv1.EndpointSlice
		node  string
		want  []LBBackend
	}{
		{"without the annotation every endpoint", svc(false), slice, "a",
			[]LBBackend{localBe("10.244.0.1:53", 1), be("10.244.1.1:53", 1)}},
		{"with it, this node's endpoint is left out", svc(true), slice, "a",
			[]LBBackend{be("10.244.1.1:53", 1)}},
		{"on another node, every endpoint is elsewhere", svc(true), slice, "c",
			[]LBBackend{be("10.244.0.1:53", 1), be("10.244.1.1:53", 1)}},
		{"only this node's endpoint: none, so connections are refused at once", svc(true), alone, "a",
			[]LBBackend{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := BuildServiceTable(ServiceTableInput{Node: tt.node, Services: []*corev1.Service{tt.svc}, Slices: []*discoveryv1.EndpointSlice{tt.slice}})
			p := tab.Ports["default/dns:http/TCP"]
			if p == nil {
				t.Fatalf("no port in %v", tab.Ports)
			}
			if !reflect.DeepEqual(p.Backends, tt.want) {
				t.Errorf("backends %v, want %v", p.Backends, tt.want)
			}
		})
	}
}
