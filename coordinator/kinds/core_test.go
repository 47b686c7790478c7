package kinds

import (
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func coreKind(t *testing.T, resource string) *Kind {
	t.Helper()
	for _, k := range coreKinds() {
		if k.Resource == resource {
			return k
		}
	}
	t.Fatalf("no kind %s", resource)
	return nil
}

func TestCoreKinds_describeKubernetesResources(t *testing.T) {
	r, err := NewRegistry(coreKinds()...)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		gvr        schema.GroupVersionResource
		kind       string
		short      []string
		namespaced bool
		status     bool
		all        bool
	}
	core := func(res string) schema.GroupVersionResource { return corev1.SchemeGroupVersion.WithResource(res) }
	for _, w := range []want{
		{core("namespaces"), "Namespace", []string{"ns"}, false, true, false},
		{core("nodes"), "Node", []string{"no"}, false, true, false},
		{core("pods"), "Pod", []string{"po"}, true, true, true},
		{core("services"), "Service", []string{"svc"}, true, true, true},
		{core("endpoints"), "Endpoints", []string{"ep"}, true, false, false},
		{core("configmaps"), "ConfigMap", []string{"cm"}, true, false, false},
		{core("secrets"), "Secret", nil, true, false, false},
		{core("events"), "Event", []string{"ev"}, true, false, false},
		{core("serviceaccounts"), "ServiceAccount", []string{"sa"}, true, false, false},
		{discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), "EndpointSlice", nil, true, false, false},
	} {
		k, ok := r.ByResource(w.gvr)
		switch {
		case !ok:
			t.Errorf("%v not registered", w.gvr)
			continue
		case k.GVK.Kind != w.kind || !slices.Equal(k.ShortNames, w.short) || k.Namespaced != w.namespaced || k.HasStatus != w.status:
			t.Errorf("%v: kind %s short %v namespaced %v status %v", w.gvr, k.GVK.Kind, k.ShortNames, k.Namespaced, k.HasStatus)
		case slices.Contains(k.Categories, "all") != w.all:
			t.Errorf("%v: categories %v", w.gvr, k.Categories)
		}
		if obj := k.New(); obj.GetObjectKind() == nil {
			t.Errorf("%v: New returned nothing", w.gvr)
		}
		if n := len(k.Row(k.New(), tableNow)); n != len(k.Columns) {
			t.Errorf("%v: row of an empty object has %d cells for %d columns", w.gvr, n, len(k.Columns))
		}
	}
	if !coreKind(t, "secrets").Sensitive {
		t.Error("secrets are not sensitive")
	}
	if gvs := r.GroupVersions(); gvs[0] != corev1.SchemeGroupVersion {
		t.Errorf("group versions %v", gvs)
	}
}

func TestCoreKinds_fields(t *testing.T) {
	for _, tc := range []struct {
		resource string
		obj      Object
		want     fields.Set
	}{
		{"pods", &corev1.Pod{
			Spec: corev1.PodSpec{NodeName: "n1", RestartPolicy: "Always", SchedulerName: "default-scheduler",
				ServiceAccountName: "default", HostNetwork: true},
			Status: corev1.PodStatus{Phase: "Running", PodIP: "10.0.0.1", PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}}, NominatedNodeName: "n2"},
		}, fields.Set{"spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
			"spec.serviceAccountName": "default", "spec.hostNetwork": "true", "status.phase": "Running",
			"status.podIP": "10.0.0.1", "status.nominatedNodeName": "n2"}},
		{"events", &corev1.Event{
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p", UID: "u1", APIVersion: "v1",
				ResourceVersion: "9", FieldPath: "spec.containers{app}"},
			Reason: "Pulled", ReportingController: "agent", Type: "Normal",
		}, fields.Set{"involvedObject.kind": "Pod", "involvedObject.namespace": "ns", "involvedObject.name": "p",
			"involvedObject.uid": "u1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "9",
			"involvedObject.fieldPath": "spec.containers{app}", "reason": "Pulled", "reportingComponent": "agent",
			"source": "agent", "type": "Normal"}},
		{"secrets", &corev1.Secret{Type: corev1.SecretTypeTLS}, fields.Set{"type": "kubernetes.io/tls"}},
		{"namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Status: corev1.NamespaceStatus{Phase: "Active"}},
			fields.Set{"status.phase": "Active", "name": "prod"}},
		{"nodes", &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}}, fields.Set{"spec.unschedulable": "true"}},
		{"services", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "None", Type: "ClusterIP"}},
			fields.Set{"spec.clusterIP": "None", "spec.type": "ClusterIP"}},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			if got := coreKind(t, tc.resource).Fields(tc.obj); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestCoreKinds_rows(t *testing.T) {
	created := metav1.NewTime(tableNow.Add(-10 * 24 * time.Hour))
	meta := metav1.ObjectMeta{Name: "x", CreationTimestamp: created}
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: "False"}, {Type: corev1.NodeReady, Status: s}}
	}
	addrs := func(n int) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for i := range n {
			out = append(out, corev1.EndpointAddress{IP: "10.0.0." + string(rune('1'+i))})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		resource string
		obj      Object
		want     []any
	}{
		{"ready node", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created,
			Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/edge": "", "kubernetes.io/role": "gateway"}},
			Status: corev1.NodeStatus{Conditions: ready("True"),
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
				NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.33.0", OSImage: "Debian GNU/Linux 12", KernelVersion: "6.1.0",
					ContainerRuntimeVersion: "keel://0.1.0"}}},
			[]any{"Ready", "control-plane,edge,gateway", "10d", "v1.33.0", "192.168.1.10", "<none>", "Debian GNU/Linux 12", "6.1.0", "keel://0.1.0"}},
		{"not ready cordoned node", "nodes", &corev1.Node{ObjectMeta: meta, Spec: corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{Conditions: ready("Unknown")}},
			[]any{"NotReady,SchedulingDisabled", "<none>", "10d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
		{"node without conditions", "nodes", &corev1.Node{ObjectMeta: meta},
			[]any{"Unknown", "<none>", "10d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
		{"namespace", "namespaces", &corev1.Namespace{ObjectMeta: meta, Status: corev1.NamespaceStatus{Phase: "Terminating"}},
			[]any{"Terminating", "10d"}},
		{"configmap", "configmaps", &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}},
			[]any{int64(2), "10d"}},
		{"secret", "secrets", &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			[]any{"kubernetes.io/tls", int64(2), "10d"}},
		{"service account", "serviceaccounts", &corev1.ServiceAccount{ObjectMeta: meta, Secrets: []corev1.ObjectReference{{Name: "t"}}},
			[]any{int64(1), "10d"}},
		{"endpoints none", "endpoints", &corev1.Endpoints{ObjectMeta: meta}, []any{"<none>", "10d"}},
		{"endpoints", "endpoints", &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{
			Addresses: addrs(2), Ports: []corev1.EndpointPort{{Port: 80}}}}},
			[]any{"10.0.0.1:80,10.0.0.2:80", "10d"}},
		{"endpoints truncated", "endpoints", &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{
			Addresses: addrs(3), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}}}},
			[]any{"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...", "10d"}},
		{"endpoints without ports", "endpoints", &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{Addresses: addrs(1)}}},
			[]any{"10.0.0.1", "10d"}},
		{"endpoint slice", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: "IPv4",
			Ports:     []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}, {Name: ptr.To("dns")}, {}, {Port: ptr.To[int32](9)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1", "10.0.0.2"}}, {Addresses: []string{"10.0.0.3", "10.0.0.4"}}}},
			[]any{"IPv4", "80,dns,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "10d"}},
		{"empty endpoint slice", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: "IPv6"},
			[]any{"IPv6", "<unset>", "<unset>", "10d"}},
		{"event", "events", &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{app}"},
			Reason:         "BackOff", Message: "Back-off restarting failed container\n", Type: "Warning", Count: 7,
			Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
			FirstTimestamp: metav1.NewTime(tableNow.Add(-time.Hour)), LastTimestamp: metav1.NewTime(tableNow.Add(-30 * time.Second))},
			[]any{"30s", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, node-1",
				"Back-off restarting failed container", "60m", int64(7), "web.1"}},
		{"new-style event", "events", &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "n.2"},
			InvolvedObject: corev1.ObjectReference{Kind: "Node"}, Reason: "Rebooted", Type: "Normal",
			EventTime:           metav1.NewMicroTime(tableNow.Add(-2 * time.Minute)),
			ReportingController: "keel.dev/agent", ReportingInstance: "node-1"},
			[]any{"2m", "Normal", "Rebooted", "node", "", "keel.dev/agent, node-1", "", "2m", int64(1), "n.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := coreKind(t, tc.resource)
			got := k.Row(tc.obj, tableNow)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row\n got  %#v\n want %#v", got, tc.want)
			}
			if len(got) != len(k.Columns) {
				t.Errorf("%d cells for %d columns", len(got), len(k.Columns))
			}
		})
	}
}

func TestCoreKinds_ageCells(t *testing.T) {
	if got := ageSince(metav1.Time{}, tableNow); got != "<unknown>" {
		t.Errorf("zero time: %q", got)
	}
	if got := ageSince(metav1.NewTime(tableNow.Add(-90*time.Second)), tableNow); got != "90s" {
		t.Errorf("90s: %q", got)
	}
}

func TestEventTable_hasNoLeadingName(t *testing.T) {
	k := coreKind(t, "events")
	if !k.NoNameColumn {
		t.Fatal("events table would get a NAME column first")
	}
	last := k.Columns[len(k.Columns)-1]
	if last.Name != "Name" || last.Format != "name" || last.Priority != 1 {
		t.Errorf("last column %+v", last)
	}
	var shown []string
	for _, c := range k.Columns {
		if c.Priority == 0 {
			shown = append(shown, c.Name)
		}
	}
	if want := []string{"Last Seen", "Type", "Reason", "Object", "Message"}; !slices.Equal(shown, want) {
		t.Errorf("default columns %v, want %v", shown, want)
	}
}
