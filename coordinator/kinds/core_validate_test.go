package kinds

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func nsMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default"}
}

func TestCoreKinds_validate(t *testing.T) {
	tlsData := map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}
	for _, tc := range []struct {
		name     string
		resource string
		obj      Object
		want     []string
	}{
		// namespaces
		{"namespace", "namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}, nil},
		{"namespace dotted", "namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod.eu"}}, []string{"metadata.name: Invalid value"}},
		{"namespace with namespace", "namespaces", &corev1.Namespace{ObjectMeta: nsMeta("prod")}, []string{"metadata.namespace: Forbidden"}},
		{"namespace finalizer", "namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes", "custom"}}}, []string{"spec.finalizers[1]: Invalid value"}},
		// nodes
		{"node", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-1.lan"},
			Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}}}, nil},
		{"node bad cidr", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/33"}},
			[]string{"spec.podCIDR: Invalid value"}},
		{"node taint without effect", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated", Value: "gpu"}}}}, []string{"spec.taints[0].effect: Required value"}},
		{"node negative capacity", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"},
			Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("-1")}}}, []string{"status.allocatable[cpu]: Invalid value", "status.capacity[cpu]: Invalid value"}},
		// config maps
		{"configmap", "configmaps", &corev1.ConfigMap{ObjectMeta: nsMeta("cfg"), Data: map[string]string{"app.yaml": "x", "KEY_1": "y"}}, nil},
		{"configmap bad key", "configmaps", &corev1.ConfigMap{ObjectMeta: nsMeta("cfg"), Data: map[string]string{"a/b": "x"}},
			[]string{"data[a/b]: Invalid value"}},
		{"configmap duplicate key", "configmaps", &corev1.ConfigMap{ObjectMeta: nsMeta("cfg"), Data: map[string]string{"k": "x"},
			BinaryData: map[string][]byte{"k": nil}}, []string{"data[k]: Invalid value"}},
		{"configmap bad binary key", "configmaps", &corev1.ConfigMap{ObjectMeta: nsMeta("cfg"), BinaryData: map[string][]byte{"..": nil}},
			[]string{"binaryData[..]: Invalid value"}},
		// secrets
		{"secret", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: "Opaque", Data: map[string][]byte{"password": []byte("x")}}, nil},
		{"secret bad key", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: "Opaque", Data: map[string][]byte{"a b": nil}},
			[]string{"data[a b]: Invalid value"}},
		{"tls", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: corev1.SecretTypeTLS, Data: tlsData}, nil},
		{"tls without key", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": []byte("c")}}, []string{"data[tls.key]: Required value"}},
		{"dockerconfigjson missing", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: corev1.SecretTypeDockerConfigJson},
			[]string{"data[.dockerconfigjson]: Required value"}},
		{"dockerconfigjson not json", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{".dockerconfigjson": []byte("hunter2")}}, []string{"data[.dockerconfigjson]: Invalid value"}},
		{"dockerconfigjson", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}}, nil},
		{"basic auth empty", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: corev1.SecretTypeBasicAuth},
			[]string{"data[password]: Required value", "data[username]: Required value"}},
		{"service account token", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: corev1.SecretTypeServiceAccountToken},
			[]string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
		{"custom type", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: "example.com/token"}, nil},
		{"bad type", "secrets", &corev1.Secret{ObjectMeta: nsMeta("s"), Type: "not a type"}, []string{"type: Invalid value"}},
		// events
		{"event", "events", &corev1.Event{ObjectMeta: nsMeta("web.17"), Type: "Normal",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default"}}, nil},
		{"event without object", "events", &corev1.Event{ObjectMeta: nsMeta("e")}, []string{"involvedObject: Required value"}},
		{"event other namespace", "events", &corev1.Event{ObjectMeta: nsMeta("e"),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "kube-system"}}, []string{"involvedObject.namespace: Invalid value"}},
		{"event bad type", "events", &corev1.Event{ObjectMeta: nsMeta("e"), Type: "Info",
			InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "n"}}, []string{"type: Unsupported value"}},
		// service accounts
		{"service account", "serviceaccounts", &corev1.ServiceAccount{ObjectMeta: nsMeta("builder")}, nil},
		{"service account bad name", "serviceaccounts", &corev1.ServiceAccount{ObjectMeta: nsMeta("Builder")}, []string{"metadata.name: Invalid value"}},
		// endpoints
		{"endpoints", "endpoints", &corev1.Endpoints{ObjectMeta: nsMeta("web"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5", NodeName: ptr.To("n1")}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 80, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}}}}, nil},
		{"endpoints bad ip", "endpoints", &corev1.Endpoints{ObjectMeta: nsMeta("web"), Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.244.0"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}}}},
			[]string{"subsets[0].addresses[0].ip: Invalid value", "subsets[0].notReadyAddresses[0].ip: Invalid value"}},
		{"endpoints bad port", "endpoints", &corev1.Endpoints{ObjectMeta: nsMeta("web"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5"}},
			Ports:     []corev1.EndpointPort{{Port: 0, Protocol: "TCP"}, {Name: "b", Port: 1, Protocol: "GRE"}}}}},
			[]string{"subsets[0].ports[0].name: Required value", "subsets[0].ports[0].port: Invalid value", "subsets[0].ports[1].protocol: Unsupported value"}},
		{"endpoints empty subset", "endpoints", &corev1.Endpoints{ObjectMeta: nsMeta("web"), Subsets: []corev1.EndpointSubset{{}}},
			[]string{"subsets[0]: Required value"}},
		// endpoint slices
		{"slice", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: nsMeta("web-abc"), AddressType: "IPv4",
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.5"}, Hostname: ptr.To("web-0")}},
			Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80), Protocol: ptr.To(corev1.ProtocolTCP)}}}, nil},
		{"slice wrong family", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: nsMeta("w"), AddressType: "IPv4",
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::5"}}, {}}},
			[]string{"endpoints[0].addresses[0]: Invalid value", "endpoints[1].addresses: Required value"}},
		{"slice bad type and port", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: nsMeta("w"), AddressType: "IPX",
			Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](70000), Protocol: ptr.To(corev1.ProtocolTCP)}}},
			[]string{"addressType: Unsupported value", "ports[0].port: Invalid value"}},
		{"slice fqdn", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: nsMeta("w"), AddressType: "FQDN",
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"db.example.com"}}, {Addresses: []string{"not_fqdn"}}}},
			[]string{"endpoints[1].addresses[0]: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := coreKind(t, tc.resource)
			if k.Default != nil {
				k.Default(tc.obj)
			}
			errs := k.Validate(tc.obj)
			checkErrs(t, errs, tc.want)
			for _, e := range errs {
				if s, ok := e.BadValue.(string); ok && s == "hunter2" {
					t.Errorf("secret contents in error: %v", e)
				}
			}
		})
	}
}

func TestCoreKinds_validateUpdate(t *testing.T) {
	withRV := func(m metav1.ObjectMeta) metav1.ObjectMeta { m.ResourceVersion = "5"; return m }
	for _, tc := range []struct {
		name     string
		resource string
		old, obj Object
		want     []string
	}{
		{"configmap data change", "configmaps",
			&corev1.ConfigMap{ObjectMeta: withRV(nsMeta("c")), Data: map[string]string{"a": "1"}},
			&corev1.ConfigMap{ObjectMeta: withRV(nsMeta("c")), Data: map[string]string{"a": "2"}}, nil},
		{"immutable configmap data change", "configmaps",
			&corev1.ConfigMap{ObjectMeta: withRV(nsMeta("c")), Immutable: ptr.To(true), Data: map[string]string{"a": "1"}},
			&corev1.ConfigMap{ObjectMeta: withRV(nsMeta("c")), Immutable: ptr.To(true), Data: map[string]string{"a": "2"}},
			[]string{"data: Forbidden"}},
		{"immutable configmap unset", "configmaps",
			&corev1.ConfigMap{ObjectMeta: withRV(nsMeta("c")), Immutable: ptr.To(true)},
			&corev1.ConfigMap{ObjectMeta: withRV(nsMeta("c"))},
			[]string{"immutable: Forbidden"}},
		{"immutable configmap labels", "configmaps",
			&corev1.ConfigMap{ObjectMeta: withRV(nsMeta("c")), Immutable: ptr.To(true)},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", Labels: map[string]string{"a": "b"}}, Immutable: ptr.To(true)},
			nil},
		{"immutable secret data change", "secrets",
			&corev1.Secret{ObjectMeta: withRV(nsMeta("s")), Type: "Opaque", Immutable: ptr.To(true), Data: map[string][]byte{"a": []byte("1")}},
			&corev1.Secret{ObjectMeta: withRV(nsMeta("s")), Type: "Opaque", Immutable: ptr.To(true), Data: map[string][]byte{"a": []byte("2")}},
			[]string{"data: Forbidden"}},
		{"secret type change", "secrets",
			&corev1.Secret{ObjectMeta: withRV(nsMeta("s")), Type: "Opaque"},
			&corev1.Secret{ObjectMeta: withRV(nsMeta("s")), Type: "example.com/x"},
			[]string{"type: Invalid value"}},
		{"namespace rename", "namespaces",
			&corev1.Namespace{ObjectMeta: withRV(metav1.ObjectMeta{Name: "a"})},
			&corev1.Namespace{ObjectMeta: withRV(metav1.ObjectMeta{Name: "b"})},
			[]string{"metadata.name: Invalid value"}},
		{"node podCIDR assigned", "nodes",
			&corev1.Node{ObjectMeta: withRV(metav1.ObjectMeta{Name: "n"})},
			&corev1.Node{ObjectMeta: withRV(metav1.ObjectMeta{Name: "n"}), Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}}},
			nil},
		{"node podCIDR changed", "nodes",
			&corev1.Node{ObjectMeta: withRV(metav1.ObjectMeta{Name: "n"}), Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}}},
			&corev1.Node{ObjectMeta: withRV(metav1.ObjectMeta{Name: "n"}), Spec: corev1.NodeSpec{PodCIDR: "10.244.2.0/24", PodCIDRs: []string{"10.244.2.0/24"}}},
			[]string{"spec.podCIDRs: Forbidden"}},
		{"slice address type", "endpointslices",
			&discoveryv1.EndpointSlice{ObjectMeta: withRV(nsMeta("s")), AddressType: "IPv4"},
			&discoveryv1.EndpointSlice{ObjectMeta: withRV(nsMeta("s")), AddressType: "IPv6"},
			[]string{"addressType: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, coreKind(t, tc.resource).ValidateUpdate(tc.obj, tc.old), tc.want)
		})
	}
}

func TestDefaultSecret_typeAndStringData(t *testing.T) {
	s := &corev1.Secret{Data: map[string][]byte{"a": []byte("old"), "b": []byte("keep")}, StringData: map[string]string{"a": "new"}}
	defaultSecret(s)
	if s.Type != corev1.SecretTypeOpaque || string(s.Data["a"]) != "new" || string(s.Data["b"]) != "keep" || s.StringData != nil {
		t.Errorf("got type %q data %q stringData %v", s.Type, s.Data, s.StringData)
	}
}

func TestNamespace_defaultsAndInitStatus(t *testing.T) {
	k := coreKind(t, "namespaces")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}
	k.Default(ns)
	k.InitStatus(ns)
	k.InitStatus(ns)
	if ns.Labels[corev1.LabelMetadataName] != "prod" {
		t.Errorf("labels %v", ns.Labels)
	}
	if ns.Status.Phase != corev1.NamespaceActive || len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
		t.Errorf("status %v finalizers %v", ns.Status.Phase, ns.Spec.Finalizers)
	}
}

func TestDefaultEndpointSlice_portDefaults(t *testing.T) {
	s := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}}}
	defaultEndpointSlice(s)
	if p := s.Ports[0]; p.Name == nil || *p.Name != "" || p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP {
		t.Errorf("port %+v", p)
	}
	node := &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("4")}}}
	defaultNode(node)
	if q := node.Status.Allocatable["cpu"]; q.String() != "4" {
		t.Errorf("allocatable cpu %s", q.String())
	}
}
