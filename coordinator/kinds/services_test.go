package kinds

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func validService() *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 443, TargetPort: intstr.FromString("tls")}},
		},
	}
	defaultService(s)
	return s
}

func TestDefaultService_fields(t *testing.T) {
	s := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	defaultService(s)
	want := corev1.ServiceSpec{
		Ports:                 []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}},
		Type:                  corev1.ServiceTypeClusterIP,
		SessionAffinity:       corev1.ServiceAffinityNone,
		IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
		IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
		InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
	}
	if !apiequality.Semantic.DeepEqual(s.Spec, want) {
		t.Errorf("got %+v\nwant %+v", s.Spec, want)
	}

	np := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "fd00::10",
		SessionAffinity: corev1.ServiceAffinityClientIP}}
	defaultService(np)
	switch {
	case np.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster:
		t.Error("externalTrafficPolicy not defaulted")
	case np.Spec.AllocateLoadBalancerNodePorts == nil || !*np.Spec.AllocateLoadBalancerNodePorts:
		t.Error("allocateLoadBalancerNodePorts not defaulted")
	case np.Spec.IPFamilies[0] != corev1.IPv6Protocol || np.Spec.ClusterIPs[0] != "fd00::10":
		t.Errorf("families %v, clusterIPs %v", np.Spec.IPFamilies, np.Spec.ClusterIPs)
	case *np.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800:
		t.Error("affinity timeout not defaulted")
	}

	ext := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}}
	defaultService(ext)
	if ext.Spec.IPFamilyPolicy != nil || ext.Spec.InternalTrafficPolicy != nil {
		t.Error("ExternalName service got IP defaults")
	}
	checkErrs(t, validateService(ext), []string{"metadata.name: Required value", "metadata.namespace: Required value"})
}

func TestValidateService_rules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *corev1.Service)
		want   []string
	}{
		{"valid", func(s *corev1.Service) {}, nil},
		{"name must be DNS-1035", func(s *corev1.Service) { s.Name = "1web" }, []string{"metadata.name: Invalid value"}},
		{"dotted name", func(s *corev1.Service) { s.Name = "web.v1" }, []string{"metadata.name: Invalid value"}},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, []string{"spec.ports: Required value"}},
		{"headless without ports", func(s *corev1.Service) {
			s.Spec.Ports, s.Spec.ClusterIP, s.Spec.ClusterIPs = nil, "None", []string{"None"}
		}, nil},
		{"unnamed second port", func(s *corev1.Service) { s.Spec.Ports[1].Name = "" }, []string{"spec.ports[1].name: Required value"}},
		{"duplicate port name", func(s *corev1.Service) { s.Spec.Ports[1].Name = "http" }, []string{"spec.ports[1].name: Duplicate value"}},
		{"port zero", func(s *corev1.Service) { s.Spec.Ports[1].Port = 0 }, []string{"spec.ports[1].port: Invalid value"}},
		{"same port twice", func(s *corev1.Service) { s.Spec.Ports[1].Port = 80 }, []string{"spec.ports[1]: Duplicate value"}},
		{"bad protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }, []string{"spec.ports[0].protocol: Unsupported value"}},
		{"bad targetPort name", func(s *corev1.Service) { s.Spec.Ports[1].TargetPort = intstr.FromString("Not_A_Name") }, []string{"spec.ports[1].targetPort: Invalid value"}},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, []string{"spec.ports[0].nodePort: Forbidden"}},
		{"nodePort out of range", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalTrafficPolicy = corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.Ports[0].NodePort = 8080
		}, []string{"spec.ports[0].nodePort: Invalid value"}},
		{"nodePort in range", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalTrafficPolicy = corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.Ports[0].NodePort = 30080
		}, nil},
		{"bad type", func(s *corev1.Service) { s.Spec.Type = "Mesh" }, []string{"spec.type: Unsupported value"}},
		{"bad selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, []string{"spec.selector: Invalid value"}},
		{"bad clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.0.0.300", []string{"10.0.0.300"} }, []string{"spec.clusterIP: Invalid value"}},
		{"clusterIPs disagree", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.0.0.1", []string{"10.0.0.2"} }, []string{"spec.clusterIPs: Invalid value"}},
		{"headless NodePort", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalTrafficPolicy = corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
		}, []string{"spec.clusterIP: Invalid value"}},
		{"ExternalName without name", func(s *corev1.Service) {
			*s = corev1.Service{ObjectMeta: s.ObjectMeta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, SessionAffinity: "None"}}
		}, []string{"spec.externalName: Required value"}},
		{"ExternalName bad name", func(s *corev1.Service) {
			*s = corev1.Service{ObjectMeta: s.ObjectMeta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, SessionAffinity: "None",
				ExternalName: "db_prod.example.com"}}
		}, []string{"spec.externalName: Invalid value"}},
		{"ExternalName with clusterIP", func(s *corev1.Service) {
			*s = corev1.Service{ObjectMeta: s.ObjectMeta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, SessionAffinity: "None",
				ExternalName: "db.example.com.", ClusterIP: "10.0.0.1"}}
		}, []string{"spec.clusterIP: Forbidden"}},
		{"externalTrafficPolicy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = "Local" }, []string{"spec.externalTrafficPolicy: Invalid value"}},
		{"bad sessionAffinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, []string{"spec.sessionAffinity: Unsupported value"}},
		{"bad externalIP", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"nope"} }, []string{"spec.externalIPs[0]: Invalid value"}},
		{"two families single stack", func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		}, []string{"spec.ipFamilies: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validService()
			tc.change(s)
			checkErrs(t, validateService(s), tc.want)
		})
	}
}

func TestValidateServiceUpdate_clusterIP(t *testing.T) {
	old := validService()
	old.ResourceVersion = "3"
	old.Spec.ClusterIP, old.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}

	same := old.DeepCopy()
	same.Spec.Ports[0].Port = 8080
	checkErrs(t, validateServiceUpdate(same, old), nil)

	moved := old.DeepCopy()
	moved.Spec.ClusterIP, moved.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"}
	checkErrs(t, validateServiceUpdate(moved, old), []string{"spec.clusterIP: Invalid value"})

	ext := &corev1.Service{ObjectMeta: old.ObjectMeta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
		ExternalName: "db.example.com", SessionAffinity: "None"}}
	checkErrs(t, validateServiceUpdate(ext, old), nil)

	unset := validService()
	unset.ResourceVersion = "3"
	assigned := unset.DeepCopy()
	assigned.Spec.ClusterIP, assigned.Spec.ClusterIPs = "10.96.0.12", []string{"10.96.0.12"}
	checkErrs(t, validateServiceUpdate(assigned, unset), nil)
}

func TestServiceRow_golden(t *testing.T) {
	created := metav1.NewTime(tableNow.Add(-3 * 24 * time.Hour))
	for _, tc := range []struct {
		name string
		svc  corev1.Service
		want []any
	}{
		{"cluster ip", corev1.Service{Spec: corev1.ServiceSpec{Type: "ClusterIP", ClusterIPs: []string{"10.96.0.1"},
			Ports: []corev1.ServicePort{{Port: 443, Protocol: "TCP"}}}},
			[]any{"ClusterIP", "10.96.0.1", "<none>", "443/TCP", "3d", "<none>"}},
		{"node port", corev1.Service{Spec: corev1.ServiceSpec{Type: "NodePort", ClusterIPs: []string{"10.96.3.4"},
			Selector: map[string]string{"app": "web", "tier": "front"},
			Ports:    []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP"}, {Port: 53, Protocol: "UDP"}}}},
			[]any{"NodePort", "10.96.3.4", "<none>", "80:30080/TCP,53/UDP", "3d", "app=web,tier=front"}},
		{"headless", corev1.Service{Spec: corev1.ServiceSpec{Type: "ClusterIP", ClusterIP: "None", ClusterIPs: []string{"None"}}},
			[]any{"ClusterIP", "None", "<none>", "<none>", "3d", "<none>"}},
		{"pending balancer", corev1.Service{Spec: corev1.ServiceSpec{Type: "LoadBalancer", ClusterIPs: []string{"10.96.0.7"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: "TCP"}}}},
			[]any{"LoadBalancer", "10.96.0.7", "<pending>", "80:31000/TCP", "3d", "<none>"}},
		{"balancer with ingress", corev1.Service{
			Spec: corev1.ServiceSpec{Type: "LoadBalancer", ClusterIPs: []string{"10.96.0.7"}, ExternalIPs: []string{"192.0.2.9"}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
				{IP: "198.51.100.1"}, {Hostname: "lb.example.com"}}}}},
			[]any{"LoadBalancer", "10.96.0.7", "198.51.100.1,lb.example.com,192.0.2.9", "<none>", "3d", "<none>"}},
		{"external name", corev1.Service{Spec: corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}},
			[]any{"ExternalName", "<none>", "db.example.com", "<none>", "3d", "<none>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.svc.CreationTimestamp = created
			if got := serviceRow(&tc.svc, tableNow); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}
