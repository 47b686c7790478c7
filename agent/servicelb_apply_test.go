package agent

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// fleet is n services of m endpoints each.
func fleet(n, m int) ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	var svcs []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)
		svcs = append(svcs, svcFixture(name, func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = ip, []string{ip} }))
		var eps []epFixture
		for j := range m {
			eps = append(eps, epFixture{addr: fmt.Sprintf("10.%d.%d.%d", 200+i/250, i%250, j+1)})
		}
		slices = append(slices, sliceFixture(name, name+"-1", map[string]int32{"http": 8080}, eps...))
	}
	return svcs, slices
}

func buildFleet(svcs []*corev1.Service, slices []*discoveryv1.EndpointSlice) ServiceTable {
	return BuildServiceTable(ServiceTableInput{Node: "node-1", Services: svcs, Slices: slices})
}

// checkResolves says whether every port's frontends lead to exactly its
// backends.
func checkResolves(t *testing.T, m *MemoryServiceMaps, table ServiceTable) {
	t.Helper()
	n := 0
	for _, p := range table.Ports {
		for _, f := range p.Frontends {
			n++
			got, err := m.Resolve(f)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatalf("%s: no service", f)
			}
			if len(got) != len(p.Backends) {
				t.Fatalf("%s leads to %v, want %v", f, got, p.Backends)
			}
			for _, b := range p.Backends {
				if got[b.Addr] == 0 {
					t.Fatalf("%s does not lead to %s: %v", f, b.Addr, got)
				}
			}
		}
	}
	if m.Frontends() != n {
		t.Fatalf("maps hold %d frontends, the table %d", m.Frontends(), n)
	}
	for _, p := range table.Ports {
		for _, f := range p.External {
			got, local, err := m.ResolveExternal(f)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || local != p.ExternalLocal || len(got) != len(p.Backends) {
				t.Fatalf("external %s leads to %v (local %v), want %v (local %v)", f, got, local, p.Backends, p.ExternalLocal)
			}
			for _, b := range p.Backends {
				if got[b.Addr] == 0 {
					t.Fatalf("external %s does not lead to %s: %v", f, b.Addr, got)
				}
			}
		}
	}
}

func TestLBApplier_externalFrontends(t *testing.T) {
	node := netip.MustParseAddr("192.168.1.10")
	svc := svcFixture("web", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30080
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.1"}}
	})
	slice := sliceFixture("web", "web-1", map[string]int32{"http": 8080},
		epFixture{addr: "10.244.0.5", node: "node-1"}, epFixture{addr: "10.244.1.5", node: "node-2"})
	build := func() ServiceTable {
		return BuildServiceTable(ServiceTableInput{Node: "node-1", NodeAddrs: []netip.Addr{node},
			Services: []*corev1.Service{svc}, Slices: []*discoveryv1.EndpointSlice{slice}})
	}
	mem := NewMemoryServiceMaps()
	a := newLBApplier(mem, LBMapsContent{})
	nodePort := LBFrontend{Addr: netip.AddrPortFrom(node, 30080), Proto: ProtoTCP}
	steps := []struct {
		name   string
		change func()
		// backends from outside through the node port, and whether the
		// client address is kept
		want  []string
		local bool
	}{
		{"cluster policy: every endpoint", func() {}, []string{"10.244.0.5:8080", "10.244.1.5:8080"}, false},
		{"local policy: this node's", func() { svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			[]string{"10.244.0.5:8080"}, true},
		{"the local endpoint moves away: none", func() { slice.Endpoints[0].NodeName = slice.Endpoints[1].NodeName }, nil, true},
		{"cluster policy again", func() { svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster },
			[]string{"10.244.0.5:8080", "10.244.1.5:8080"}, false},
	}
	for _, st := range steps {
		st.change()
		table := build()
		if err := a.apply(table); err != nil {
			t.Fatal(err)
		}
		checkResolves(t, mem, table)
		got, local, err := mem.ResolveExternal(nodePort)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(st.want) || local != st.local {
			t.Errorf("%s: node port leads to %v (local %v), want %v (local %v)", st.name, got, local, st.want, st.local)
		}
		for _, w := range st.want {
			if got[netip.MustParseAddrPort(w)] == 0 {
				t.Errorf("%s: node port does not lead to %s: %v", st.name, w, got)
			}
		}
	}
	// Backends say where they run.
	for _, b := range mem.Content().Backends {
		if b.Local {
			t.Errorf("backend %s is marked on this node, but its endpoint moved away", b.Addr)
		}
	}
	// A restarted agent takes the external frontends over: it writes the
	// table again (the maps do not say how it was made), nothing else.
	b := newLBApplier(mem, mem.Content())
	before := mem.Writes()
	if err := b.apply(build()); err != nil {
		t.Fatal(err)
	}
	if w := mem.Writes() - before; w != 1 {
		t.Errorf("restart: %d writes, want 1", w)
	}
}

func TestLBApplier_oneEndpointChangeIsTwoWrites(t *testing.T) {
	svcs, slices := fleet(200, 10)
	mem := NewMemoryServiceMaps()
	a := newLBApplier(mem, LBMapsContent{})
	table := buildFleet(svcs, slices)
	if err := a.apply(table); err != nil {
		t.Fatal(err)
	}
	checkResolves(t, mem, table)
	steps := []struct {
		name   string
		change func()
		writes int
	}{
		{"nothing changed", func() {}, 0},
		{"an endpoint is not ready", func() { slices[7].Endpoints[3].Conditions.Ready = new(bool) }, 2},
		{"it is ready again", func() { slices[7].Endpoints[3].Conditions.Ready = nil }, 2},
		{"an endpoint's address changes", func() { slices[42].Endpoints[0].Addresses = []string{"10.250.0.1"} }, 3},
		{"an endpoint is added", func() {
			slices[9].Endpoints = append(slices[9].Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.250.0.2"}})
		}, 2},
		{"the last endpoints go", func() { slices[11].Endpoints = nil }, 11},
		{"session affinity on", func() { svcs[5].Spec.SessionAffinity = corev1.ServiceAffinityClientIP }, 1},
	}
	for _, s := range steps {
		s.change()
		before := mem.Writes()
		table = buildFleet(svcs, slices)
		if err := a.apply(table); err != nil {
			t.Fatal(err)
		}
		if got := mem.Writes() - before; got != s.writes {
			t.Errorf("%s: %d writes, want %d", s.name, got, s.writes)
		}
		checkResolves(t, mem, table)
	}
}

func TestLBApplier_servicesComeAndGo(t *testing.T) {
	svcs, slices := fleet(3, 2)
	mem := NewMemoryServiceMaps()
	a := newLBApplier(mem, LBMapsContent{})
	if err := a.apply(buildFleet(svcs, slices)); err != nil {
		t.Fatal(err)
	}
	// svc-0 is deleted and svc-new takes its cluster IP in the same
	// change: the frontend must lead to the new service's backends.
	fresh := svcFixture("svc-new", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = svcs[0].Spec.ClusterIP, svcs[0].Spec.ClusterIPs
	})
	freshSlice := sliceFixture("svc-new", "svc-new-1", map[string]int32{"http": 9090}, epFixture{addr: "10.250.0.9"})
	table := buildFleet(append([]*corev1.Service{fresh}, svcs[1:]...), append(slices[1:], freshSlice))
	if err := a.apply(table); err != nil {
		t.Fatal(err)
	}
	checkResolves(t, mem, table)
	c := mem.Content()
	if len(c.Backends) != 5 || len(c.Tables) != 3 {
		t.Errorf("maps after the change: %d backends, %d tables; want 5 and 3", len(c.Backends), len(c.Tables))
	}
	if err := a.apply(ServiceTable{}); err != nil {
		t.Fatal(err)
	}
	if c := mem.Content(); len(c.Frontends)+len(c.Backends)+len(c.Tables) != 0 {
		t.Errorf("maps after every service went: %+v", c)
	}
}

func TestLBApplier_restartTakesOverTheMaps(t *testing.T) {
	svcs, slices := fleet(50, 4)
	mem := NewMemoryServiceMaps()
	table := buildFleet(svcs, slices)
	if err := newLBApplier(mem, LBMapsContent{}).apply(table); err != nil {
		t.Fatal(err)
	}
	// A new agent finds the maps, one service changed while it was away
	// and one is gone.
	slices[3].Endpoints = slices[3].Endpoints[1:]
	table = buildFleet(svcs[:49], slices[:49])
	a := newLBApplier(mem, mem.Content())
	before := mem.Writes()
	if err := a.apply(table); err != nil {
		t.Fatal(err)
	}
	// Each table is written again (the maps do not say how it was
	// made), svc-3 loses a backend, svc-49 goes (frontend, table, four
	// backends): no frontend of a kept service is rewritten.
	if got, want := mem.Writes()-before, 49+1+6; got != want {
		t.Errorf("%d writes on takeover, want %d", got, want)
	}
	checkResolves(t, mem, table)
	// Ids handed out afterwards do not collide with the maps'.
	slices[0].Endpoints = append(slices[0].Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.250.0.3"}})
	table = buildFleet(svcs[:49], slices[:49])
	if err := a.apply(table); err != nil {
		t.Fatal(err)
	}
	checkResolves(t, mem, table)
}

func TestLBSlots_weights(t *testing.T) {
	bs := []LBBackend{be("10.0.0.1:80", 3), be("10.0.0.2:80", 1), be("10.0.0.3:80", 1)}
	for _, maglev := range []bool{false, true} {
		slots := lbSlots(bs, LBTableSize, maglev)
		if len(slots) != LBTableSize {
			t.Fatalf("maglev=%v: %d slots", maglev, len(slots))
		}
		n := map[int]int{}
		for _, s := range slots {
			n[s]++
		}
		// 3/5, 1/5, 1/5 of 1021, within one slot per round.
		if n[0] < 610 || n[0] > 615 || n[1] < 202 || n[1] > 206 || n[2] < 202 || n[2] > 206 {
			t.Errorf("maglev=%v: slots per backend %v", maglev, n)
		}
	}
}

func TestLBSlots_maglevKeepsSlotsWhenABackendGoes(t *testing.T) {
	var bs []LBBackend
	for i := range 10 {
		bs = append(bs, LBBackend{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 80), Weight: 1})
	}
	before := lbSlots(bs, LBTableSize, true)
	after := lbSlots(append(append([]LBBackend{}, bs[:4]...), bs[5:]...), LBTableSize, true)
	moved := 0
	for i := range before {
		was := bs[before[i]].Addr
		now := append(append([]LBBackend{}, bs[:4]...), bs[5:]...)[after[i]].Addr
		if was != now && before[i] != 4 {
			moved++
		}
	}
	// Only the gone backend's tenth should move; Maglev allows a little
	// more.
	if moved > LBTableSize/10 {
		t.Errorf("%d of %d slots of staying backends moved", moved, LBTableSize)
	}
}

// BenchmarkServiceLB_endpointChange is the controller's work for one
// changed endpoint among 10,000 services of 10 endpoints: building the
// changed service's ports and applying the difference.
func BenchmarkServiceLB_endpointChange(b *testing.B) {
	svcs, slices := fleet(10000, 10)
	mem := NewMemoryServiceMaps()
	a := newLBApplier(mem, LBMapsContent{})
	if err := a.apply(buildFleet(svcs, slices)); err != nil {
		b.Fatal(err)
	}
	ready := slices[500].Endpoints[0].Conditions.Ready
	in := ServiceTableInput{Node: "node-1"}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			slices[500].Endpoints[0].Conditions.Ready = new(bool)
		} else {
			slices[500].Endpoints[0].Conditions.Ready = ready
		}
		t := BuildServicePorts(svcs[500], slices[500:501], in)
		if err := a.applyService("default/svc-500", t); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLBApplier_oneServiceAtATime(t *testing.T) {
	svcs, slices := fleet(20, 3)
	mem := NewMemoryServiceMaps()
	a := newLBApplier(mem, LBMapsContent{})
	if err := a.apply(buildFleet(svcs, slices)); err != nil {
		t.Fatal(err)
	}
	in := ServiceTableInput{Node: "node-1"}
	// One endpoint of svc-4 goes: two writes.
	slices[4].Endpoints = slices[4].Endpoints[1:]
	before := mem.Writes()
	if err := a.applyService("default/svc-4", BuildServicePorts(svcs[4], slices, in)); err != nil {
		t.Fatal(err)
	}
	if got := mem.Writes() - before; got != 2 {
		t.Errorf("%d writes for one endpoint, want 2", got)
	}
	// svc-7 is deleted: its frontend, table and three backends go.
	before = mem.Writes()
	if err := a.applyService("default/svc-7", ServiceTable{}); err != nil {
		t.Fatal(err)
	}
	if got := mem.Writes() - before; got != 5 {
		t.Errorf("%d writes for a deleted service, want 5", got)
	}
	table := buildFleet(append(svcs[:7:7], svcs[8:]...), append(slices[:7:7], slices[8:]...))
	checkResolves(t, mem, table)
	// The whole table agrees: applying it writes nothing.
	before = mem.Writes()
	if err := a.apply(table); err != nil {
		t.Fatal(err)
	}
	if got := mem.Writes() - before; got != 0 {
		t.Errorf("full apply after service updates: %d writes, want 0", got)
	}
	if err := a.applyService("default/svc-1", BuildServicePorts(svcs[2], slices, in)); err == nil {
		t.Error("applying svc-2's ports as svc-1's was taken")
	}
}
