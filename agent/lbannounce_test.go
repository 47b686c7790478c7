package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func lbNode(name string, ready corev1.ConditionStatus, lbls ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for _, l := range lbls {
		n.Labels[l] = ""
	}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	}
	return n
}

func lbService(name string, local bool, ips ...string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster}}
	if local {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

// lbSlice is a slice of svc with one endpoint per node, ready as given.
func lbSlice(svc string, ready map[string]bool) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}}
	for n, r := range ready {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.244.0.2"}, NodeName: ptr.To(n),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(r)}})
	}
	return sl
}

func threeNodes() []*corev1.Node {
	return []*corev1.Node{lbNode("node-1", corev1.ConditionTrue), lbNode("node-2", corev1.ConditionTrue), lbNode("node-3", corev1.ConditionTrue)}
}

func TestLoadBalancerOwners(t *testing.T) {
	vip := netip.MustParseAddr("10.0.0.200")
	all := LoadBalancerOwners(threeNodes(), []*corev1.Service{lbService("web", false, "10.0.0.200")}, nil)
	owner := all[vip]
	if owner == "" {
		t.Fatalf("no owner: %v", all)
	}
	tests := []struct {
		name   string
		nodes  []*corev1.Node
		svcs   []*corev1.Service
		slices []*discoveryv1.EndpointSlice
		want   map[string]string // address to owner
	}{
		{name: "nodes not Ready, excluded or going own nothing",
			nodes: []*corev1.Node{lbNode("a", corev1.ConditionUnknown), lbNode("b", ""), lbNode("c", corev1.ConditionTrue, labelExcludeFromLB),
				func() *corev1.Node {
					n := lbNode("d", corev1.ConditionTrue)
					n.DeletionTimestamp = &metav1.Time{}
					return n
				}()},
			svcs: []*corev1.Service{lbService("web", false, "10.0.0.200")}, want: map[string]string{}},
		{name: "a single eligible node owns everything",
			nodes: []*corev1.Node{lbNode("a", corev1.ConditionFalse), lbNode("b", corev1.ConditionTrue)},
			svcs:  []*corev1.Service{lbService("web", false, "10.0.0.200", "10.0.0.201"), lbService("db", false, "10.0.0.202")},
			want:  map[string]string{"10.0.0.200": "b", "10.0.0.201": "b", "10.0.0.202": "b"}},
		{name: "Local: only nodes with a ready endpoint",
			nodes:  threeNodes(),
			svcs:   []*corev1.Service{lbService("web", true, "10.0.0.200")},
			slices: []*discoveryv1.EndpointSlice{lbSlice("web", map[string]bool{"node-1": false, "node-3": true}), lbSlice("other", map[string]bool{"node-2": true})},
			want:   map[string]string{"10.0.0.200": "node-3"}},
		{name: "Local without ready endpoints: nobody",
			nodes:  threeNodes(),
			svcs:   []*corev1.Service{lbService("web", true, "10.0.0.200")},
			slices: []*discoveryv1.EndpointSlice{lbSlice("web", map[string]bool{"node-1": false})},
			want:   map[string]string{}},
		{name: "other classes, other types and pending services are not announced",
			nodes: threeNodes(),
			svcs: []*corev1.Service{
				func() *corev1.Service {
					s := lbService("theirs", false, "10.0.0.200")
					s.Spec.LoadBalancerClass = ptr.To("example.com/lb")
					return s
				}(),
				func() *corev1.Service {
					s := lbService("was", false, "10.0.0.201")
					s.Spec.Type = corev1.ServiceTypeNodePort
					return s
				}(),
				lbService("pending", false),
				func() *corev1.Service {
					s := lbService("bad", false)
					s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}}
					return s
				}(),
			},
			want: map[string]string{}},
		{name: "our class is announced",
			nodes: []*corev1.Node{lbNode("b", corev1.ConditionTrue)},
			svcs: []*corev1.Service{func() *corev1.Service {
				s := lbService("ours", false, "10.0.0.200")
				s.Spec.LoadBalancerClass = ptr.To(loadBalancerClass)
				return s
			}()},
			want: map[string]string{"10.0.0.200": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for a, n := range LoadBalancerOwners(tt.nodes, tt.svcs, tt.slices) {
				got[a.String()] = n
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("owners %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLoadBalancerOwners_ownerDies checks, for many addresses, that when
// an address's owner stops being Ready exactly one other node takes it,
// addresses of the other nodes stay where they are, and the owner takes
// its addresses back when it returns.
func TestLoadBalancerOwners_ownerDies(t *testing.T) {
	var ips []string
	for i := range 200 {
		ips = append(ips, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	}
	svcs := []*corev1.Service{lbService("web", false, ips...)}
	nodes := threeNodes()
	before := LoadBalancerOwners(nodes, svcs, nil)
	if len(before) != len(ips) {
		t.Fatalf("%d of %d addresses owned", len(before), len(ips))
	}
	counts := map[string]int{}
	for _, n := range before {
		counts[n]++
	}
	for _, n := range nodes {
		if counts[n.Name] < 30 {
			t.Errorf("node %s owns %d of %d addresses: the hash spreads badly (%v)", n.Name, counts[n.Name], len(ips), counts)
		}
	}
	for dead := range nodes {
		after := make([]*corev1.Node, len(nodes))
		for i, n := range nodes {
			after[i] = n.DeepCopy()
		}
		after[dead].Status.Conditions[0].Status = corev1.ConditionUnknown
		owners := LoadBalancerOwners(after, svcs, nil)
		for a, was := range before {
			now := owners[a]
			switch {
			case now == "" || now == after[dead].Name:
				t.Fatalf("%s: %s dead, owner %q", a, after[dead].Name, now)
			case was != after[dead].Name && now != was:
				t.Fatalf("%s moved from %s to %s though %s died", a, was, now, after[dead].Name)
			}
		}
		// Every node computes the same answer, so each address is held by
		// exactly one node.
		held := 0
		for _, n := range after {
			held += len(OwnedBy(owners, n.Name))
		}
		if held != len(ips) {
			t.Fatalf("%d addresses held by the nodes, want %d", held, len(ips))
		}
		if back := LoadBalancerOwners(nodes, svcs, nil); fmt.Sprint(back) != fmt.Sprint(before) {
			t.Fatalf("owners differ after %s returned", after[dead].Name)
		}
	}
}

// recordingAnnouncer keeps every set it is given.
type recordingAnnouncer struct {
	mu   sync.Mutex
	sets [][]netip.Addr
	fail error
}

func (r *recordingAnnouncer) Set(addrs []netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, slices.Clone(addrs))
	return r.fail
}

func (r *recordingAnnouncer) last() ([]netip.Addr, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return nil, 0
	}
	return r.sets[len(r.sets)-1], len(r.sets)
}

func TestLBAnnouncer_followsTheCluster(t *testing.T) {
	vip := netip.MustParseAddr("10.0.0.200")
	// Find which of two nodes owns vip, and run the announcer of that one.
	two := threeNodes()[:2]
	self := LoadBalancerOwners(two, []*corev1.Service{lbService("web", false, vip.String())}, nil)[vip]
	other := "node-1"
	if self == "node-1" {
		other = "node-2"
	}
	cs := fake.NewClientset(two[0], two[1], lbService("web", false))
	rec := &recordingAnnouncer{}
	cfg := DefaultLBAnnounceConfig(self)
	cfg.Retry = 10 * time.Millisecond
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := NewLBAnnouncer(cfg, informers.NewSharedInformerFactory(cs, 0), rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	wait := func(what string, want []netip.Addr) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, n := rec.last()
			if n > 0 && slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: announcer holds %v, want %v", what, got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	bg := context.Background()
	svc, _ := cs.CoreV1().Services("default").Get(bg, "web", metav1.GetOptions{})
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: vip.String()}}
	if _, err := cs.CoreV1().Services("default").UpdateStatus(bg, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("address assigned", []netip.Addr{vip})

	// This node goes NotReady: it lets go (the other node takes it).
	n, _ := cs.CoreV1().Nodes().Get(bg, self, metav1.GetOptions{})
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := cs.CoreV1().Nodes().UpdateStatus(bg, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("node not ready", nil)
	if o := LoadBalancerOwners([]*corev1.Node{lbNode(other, corev1.ConditionTrue), n}, []*corev1.Service{svc}, nil)[vip]; o != other {
		t.Fatalf("owner with %s not ready: %q", self, o)
	}
	n.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := cs.CoreV1().Nodes().UpdateStatus(bg, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("node ready again", []netip.Addr{vip})

	// A failing announcer is retried until it works.
	rec.mu.Lock()
	rec.fail = fmt.Errorf("no socket")
	rec.mu.Unlock()
	if err := cs.CoreV1().Services("default").Delete(bg, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("service deleted", nil)
	_, before := rec.last()
	time.Sleep(50 * time.Millisecond)
	if _, after := rec.last(); after <= before {
		t.Fatalf("a failed set was not retried (%d sets, then %d)", before, after)
	}
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()

	// Stopping lets go of everything.
	svc2 := lbService("web2", false, vip.String())
	if _, err := cs.CoreV1().Services("default").Create(bg, svc2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("second service", []netip.Addr{vip})
	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := rec.last(); len(got) != 0 {
		t.Fatalf("after stopping the announcer holds %v", got)
	}
}
