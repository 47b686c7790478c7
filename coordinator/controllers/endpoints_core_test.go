package controllers

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testService(ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid", Labels: map[string]string{"team": "a"}},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10", Ports: ports},
	}
}

// testPod is a pod of the web service on node-1 with ip, ready or not.
func testPod(name, ip string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

var httpPort = corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}

func addresses(as []corev1.EndpointAddress) string {
	s := ""
	for _, a := range as {
		s += a.IP + "(" + a.TargetRef.Name + ") "
	}
	return s
}

func TestDesiredSubsets_readyAndNotReady(t *testing.T) {
	terminating := testPod("gone", "10.244.0.9", true)
	terminating.DeletionTimestamp = &metav1.Time{Time: t0}
	noIP := testPod("pending", "", false)
	done := testPod("done", "10.244.0.7", false)
	done.Status.Phase = corev1.PodSucceeded
	pods := []*corev1.Pod{testPod("b", "10.244.0.5", true), testPod("a", "10.244.0.12", true), testPod("c", "10.244.0.6", false), terminating, noIP, done}
	for _, tt := range []struct {
		name            string
		publishNotReady bool
		ready, notReady string
	}{
		{"default", false, "10.244.0.5(b) 10.244.0.12(a) ", "10.244.0.6(c) "},
		{"publishNotReadyAddresses", true, "10.244.0.5(b) 10.244.0.6(c) 10.244.0.9(gone) 10.244.0.12(a) ", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := testService(httpPort)
			svc.Spec.PublishNotReadyAddresses = tt.publishNotReady
			subsets := desiredSubsets(svc, pods)
			if len(subsets) != 1 {
				t.Fatalf("%d subsets: %+v", len(subsets), subsets)
			}
			s := subsets[0]
			if got := addresses(s.Addresses); got != tt.ready {
				t.Errorf("addresses %q, want %q", got, tt.ready)
			}
			if got := addresses(s.NotReadyAddresses); got != tt.notReady {
				t.Errorf("notReadyAddresses %q, want %q", got, tt.notReady)
			}
			if len(s.Ports) != 1 || s.Ports[0] != (corev1.EndpointPort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}) {
				t.Errorf("ports %+v", s.Ports)
			}
			a := s.Addresses[0]
			if a.NodeName == nil || *a.NodeName != "node-1" || a.TargetRef.Kind != "Pod" || a.TargetRef.UID != "b-uid" || a.TargetRef.Namespace != "default" {
				t.Errorf("address %+v", a)
			}
		})
	}
}

func TestDesiredSubsets_portsResolvedPerPod(t *testing.T) {
	other := testPod("other", "10.244.0.8", true)
	other.Spec.Containers[0].Ports[0].ContainerPort = 9090
	unnamed := testPod("unnamed", "10.244.0.9", true)
	unnamed.Spec.Containers[0].Ports = nil
	numeric := corev1.ServicePort{Name: "metrics", Port: 9100, TargetPort: intstr.FromInt32(9100)}
	plain := corev1.ServicePort{Name: "plain", Port: 81}
	subsets := desiredSubsets(testService(httpPort, numeric, plain), []*corev1.Pod{testPod("a", "10.244.0.5", true), other, unnamed})
	got := map[string]string{}
	for _, s := range subsets {
		key := ""
		for _, p := range s.Ports {
			key += fmt.Sprintf("%s:%d ", p.Name, p.Port)
		}
		got[key] = addresses(s.Addresses)
	}
	want := map[string]string{
		"http:8080 metrics:9100 plain:81 ": "10.244.0.5(a) ",
		"http:9090 metrics:9100 plain:81 ": "10.244.0.8(other) ",
		"metrics:9100 plain:81 ":           "10.244.0.9(unnamed) ",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("subsets\n got %v\nwant %v", got, want)
	}
}

func TestDesiredSubsets_headlessHostnames(t *testing.T) {
	svc := testService()
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	p := testPod("db-0", "10.244.0.5", true)
	p.Spec.Hostname, p.Spec.Subdomain = "db-0", "web"
	elsewhere := testPod("db-1", "10.244.0.6", true)
	elsewhere.Spec.Hostname, elsewhere.Spec.Subdomain = "db-1", "other"
	subsets := desiredSubsets(svc, []*corev1.Pod{p, elsewhere})
	if len(subsets) != 1 || len(subsets[0].Ports) != 0 || len(subsets[0].Addresses) != 2 {
		t.Fatalf("subsets %+v", subsets)
	}
	if subsets[0].Addresses[0].Hostname != "db-0" || subsets[0].Addresses[1].Hostname != "" {
		t.Fatalf("hostnames %+v", subsets[0].Addresses)
	}
	// A service with a cluster IP and no ports has no endpoints.
	if got := desiredSubsets(testService(), []*corev1.Pod{p}); len(got) != 0 {
		t.Fatalf("portless service with a cluster IP: %+v", got)
	}
}

func TestManagesEndpoints_skipsServicesWithoutSelector(t *testing.T) {
	kube := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}}
	ext := testService()
	ext.Spec.Type = corev1.ServiceTypeExternalName
	for _, tt := range []struct {
		svc  *corev1.Service
		want bool
	}{{kube, false}, {ext, false}, {testService(), true}} {
		if got := managesEndpoints(tt.svc); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.svc.Name, got, tt.want)
		}
	}
}

func TestDesiredSliceContents_conditions(t *testing.T) {
	terminating := testPod("gone", "10.244.0.9", true)
	terminating.DeletionTimestamp = &metav1.Time{Time: t0}
	v6 := testPod("v6", "fd00::1", true)
	pods := []*corev1.Pod{testPod("a", "10.244.0.5", true), testPod("b", "10.244.0.6", false), terminating, v6}
	want := map[string][3]bool{ // ready, serving, terminating
		"a": {true, true, false}, "b": {false, false, false}, "gone": {false, true, true},
	}
	svc := testService(httpPort)
	got := desiredSliceContents(svc, pods, map[string]string{"node-1": "rack-1"})
	if len(got) != 1 || len(got[0].Endpoints) != 3 {
		t.Fatalf("slices %+v", got)
	}
	for _, e := range got[0].Endpoints {
		c := e.Conditions
		if w := want[e.TargetRef.Name]; [3]bool{*c.Ready, *c.Serving, *c.Terminating} != w {
			t.Errorf("%s: ready %v serving %v terminating %v, want %v", e.TargetRef.Name, *c.Ready, *c.Serving, *c.Terminating, w)
		}
		if e.NodeName == nil || *e.NodeName != "node-1" || e.Zone == nil || *e.Zone != "rack-1" {
			t.Errorf("%s: node %v zone %v", e.TargetRef.Name, e.NodeName, e.Zone)
		}
	}
	p := got[0].Ports
	if len(p) != 1 || *p[0].Name != "http" || *p[0].Port != 8080 || *p[0].Protocol != corev1.ProtocolTCP {
		t.Fatalf("ports %+v", p)
	}
	svc.Spec.PublishNotReadyAddresses = true
	for _, e := range desiredSliceContents(svc, pods, nil)[0].Endpoints {
		if !*e.Conditions.Ready || e.Zone != nil {
			t.Errorf("publishNotReadyAddresses: %s ready %v zone %v", e.TargetRef.Name, *e.Conditions.Ready, e.Zone)
		}
	}
}

func TestDesiredSliceContents_atMost100PerSlice(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 250 {
		pods = append(pods, testPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.244.%d.%d", i/200, i%200+1), true))
	}
	got := desiredSliceContents(testService(httpPort), pods, nil)
	if len(got) != 3 || len(got[0].Endpoints) != 100 || len(got[1].Endpoints) != 100 || len(got[2].Endpoints) != 50 {
		t.Fatalf("%d slices", len(got))
	}
	if none := desiredSliceContents(testService(httpPort), nil, nil); len(none) != 1 || len(none[0].Endpoints) != 0 {
		t.Fatalf("a service without pods: %+v", none)
	}
}

func TestReconcileSlices_writesOnlyChanges(t *testing.T) {
	svc := testService(httpPort)
	want := desiredSliceContents(svc, []*corev1.Pod{testPod("a", "10.244.0.5", true)}, nil)
	plan := reconcileSlices(svc, want, nil)
	if len(plan.Create) != 1 || len(plan.Update)+len(plan.Delete) != 0 {
		t.Fatalf("first sync %+v", plan)
	}
	s := plan.Create[0]
	if s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != sliceManagedBy ||
		s.Labels["team"] != "a" || s.AddressType != discoveryv1.AddressTypeIPv4 || s.GenerateName != "web-" ||
		!metav1.IsControlledBy(s, svc) {
		t.Fatalf("slice %+v", s)
	}
	s.Name, s.UID = "web-abcde", "slice-uid"
	if plan := reconcileSlices(svc, want, []*discoveryv1.EndpointSlice{s}); !plan.Empty() {
		t.Fatalf("unchanged service rewrote %+v", plan)
	}
	stale := s.DeepCopy()
	stale.Name = "web-stale"
	more := desiredSliceContents(svc, []*corev1.Pod{testPod("a", "10.244.0.5", true), testPod("b", "10.244.0.6", false)}, nil)
	plan = reconcileSlices(svc, more, []*discoveryv1.EndpointSlice{s, stale})
	if len(plan.Update) != 1 || len(plan.Delete) != 1 || len(plan.Create) != 0 || len(plan.Update[0].Endpoints) != 2 {
		t.Fatalf("changed endpoints: %+v", plan)
	}
	if plan.Update[0].Name != "web-abcde" || plan.Delete[0].Name != "web-stale" {
		t.Fatalf("updated %s, deleted %s", plan.Update[0].Name, plan.Delete[0].Name)
	}
	if *plan.Update[0].Endpoints[1].Conditions.Ready != false || plan.Update[0].Endpoints[1].TargetRef.Name != "b" {
		t.Fatalf("endpoints %+v", plan.Update[0].Endpoints)
	}
}
