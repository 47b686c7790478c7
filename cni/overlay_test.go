package cni

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/keel-edge/keel/internal/netnstest"
)

func TestUseOverlay(t *testing.T) {
	tests := []struct {
		mode      RoutingMode
		connected bool
		want      bool
	}{
		{RoutingAuto, true, false},
		{RoutingAuto, false, true},
		{RoutingDirect, true, false},
		{RoutingDirect, false, false},
		{RoutingVXLAN, true, true},
		{RoutingVXLAN, false, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s connected=%v", tt.mode, tt.connected), func(t *testing.T) {
			if got := useOverlay(tt.mode, tt.connected); got != tt.want {
				t.Errorf("useOverlay(%s, %v) = %v, want %v", tt.mode, tt.connected, got, tt.want)
			}
		})
	}
}

func TestRoutingMode_UnmarshalText(t *testing.T) {
	for _, s := range []string{"auto", "direct", "vxlan"} {
		var m RoutingMode
		if err := m.UnmarshalText([]byte(s)); err != nil || string(m) != s {
			t.Errorf("%q: %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "VXLAN", "geneve", "auto "} {
		m := RoutingAuto
		if err := m.UnmarshalText([]byte(s)); err == nil || m != RoutingAuto {
			t.Errorf("%q accepted as %q", s, m)
		}
	}
}

func FuzzRoutingMode_UnmarshalText(f *testing.F) {
	for _, s := range []string{"auto", "direct", "vxlan", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m RoutingMode
		if err := m.UnmarshalText([]byte(s)); err == nil && m.Validate() != nil {
			t.Fatalf("%q accepted but invalid", s)
		}
	})
}

func TestVTEPMAC(t *testing.T) {
	tests := []struct{ cidr, mac, addr string }{
		{"10.244.1.0/24", "0a:58:0a:f4:01:00", "10.244.1.0"},
		{"10.244.1.77/24", "0a:58:0a:f4:01:00", "10.244.1.0"}, // not masked
		{"192.168.128.0/17", "0a:58:c0:a8:80:00", "192.168.128.0"},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.cidr)
		if got := VTEPMAC(p).String(); got != tt.mac {
			t.Errorf("VTEPMAC(%s) = %s, want %s", tt.cidr, got, tt.mac)
		}
		if got := overlayAddr(p).String(); got != tt.addr {
			t.Errorf("overlayAddr(%s) = %s, want %s", tt.cidr, got, tt.addr)
		}
	}
}

func TestPlanOverlay(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	neigh := map[netip.Addr]string{
		a("10.244.1.0"): "0a:58:0a:f4:01:00", // unchanged
		a("10.244.9.0"): "0a:58:0a:f4:09:00", // its node left
		a("10.244.3.0"): "0a:58:0a:f4:03:00", // its node is direct now
	}
	fdb := map[string][]netip.Addr{
		"0a:58:0a:f4:01:00": {a("192.0.2.1")},
		"0a:58:0a:f4:02:00": {a("192.0.2.2")}, // its node moved
		"0a:58:0a:f4:09:00": {a("192.0.2.9")},
		"0a:58:0a:f4:03:00": {a("192.0.2.3")},
	}
	want := []PodRoute{
		{PodCIDR: p("10.244.1.0/24"), Node: a("192.0.2.1"), Overlay: true},
		{PodCIDR: p("10.244.2.0/24"), Node: a("192.0.2.22"), Overlay: true},
		{PodCIDR: p("10.244.3.0/24"), Node: a("192.0.2.3")},
		{PodCIDR: p("10.244.4.0/24"), Node: a("192.0.2.4"), Overlay: true}, // new
	}
	got := planOverlay(neigh, fdb, want)
	wantOps := overlayOps{
		SetNeigh: []neighEntry{{a("10.244.2.0"), "0a:58:0a:f4:02:00"}, {a("10.244.4.0"), "0a:58:0a:f4:04:00"}},
		DelNeigh: []neighEntry{{a("10.244.3.0"), "0a:58:0a:f4:03:00"}, {a("10.244.9.0"), "0a:58:0a:f4:09:00"}},
		SetFDB:   []fdbEntry{{"0a:58:0a:f4:02:00", a("192.0.2.22")}, {"0a:58:0a:f4:04:00", a("192.0.2.4")}},
		DelFDB: []fdbEntry{{"0a:58:0a:f4:02:00", a("192.0.2.2")}, {"0a:58:0a:f4:03:00", a("192.0.2.3")},
			{"0a:58:0a:f4:09:00", a("192.0.2.9")}},
	}
	if !reflect.DeepEqual(got, wantOps) {
		t.Fatalf("plan:\n got  %+v\n want %+v", got, wantOps)
	}
	if ops := planOverlay(nil, nil, want[2:3]); ops.Changes() != 0 {
		t.Fatalf("direct routes need no overlay entries: %+v", ops)
	}
}

// TestSyncNodeRoutes_vxlanThroughRouter joins two nodes through a third
// namespace that routes between two subnets, so they share no L2
// segment: auto mode takes the overlay, and a pod address behind each
// node reaches the other's. When the peer leaves, its route, neighbour
// and forwarding entry go.
func TestSyncNodeRoutes_vxlanThroughRouter(t *testing.T) {
	requirePrivileged(t)
	a, r, b := newNS(t), newNS(t), newNS(t)
	netnstest.Plug(t, a, r, "eth0", "r-a", "10.1.0.1/24", "10.1.0.254/24")
	netnstest.Plug(t, b, r, "eth0", "r-b", "10.2.0.1/24", "10.2.0.254/24")
	netnstest.In(t, r, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644) })
	podA, podB := netip.MustParseAddr("10.244.1.5"), netip.MustParseAddr("10.244.2.5")
	nodeA, nodeB := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.2.0.1")
	cidrA, cidrB := mustPrefix(t, "10.244.1.0/24"), mustPrefix(t, "10.244.2.0/24")
	for _, x := range []struct {
		n   ns.NetNS
		gw  string
		pod netip.Addr
	}{{a, "10.1.0.254", podA}, {b, "10.2.0.254", podB}} {
		netnstest.In(t, x.n, func() error {
			if err := netlink.RouteAdd(&netlink.Route{Gw: net.ParseIP(x.gw)}); err != nil {
				return fmt.Errorf("default route: %w", err)
			}
			return addPodAddr(netip.PrefixFrom(x.pod, 24))
		})
	}
	sync := func(n ns.NetNS, want []NodeRoute, own netip.Prefix) RouteOps {
		t.Helper()
		var ops RouteOps
		netnstest.In(t, n, func() (err error) { ops, err = SyncNodeRoutes(want, own, RoutingAuto); return err })
		return ops
	}
	sync(a, []NodeRoute{{PodCIDR: cidrB, Via: nodeB}}, cidrA)
	sync(b, []NodeRoute{{PodCIDR: cidrA, Via: nodeA}}, cidrB)

	netnstest.In(t, a, func() error {
		routes, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Dst: ipNet(cidrB)}, netlink.RT_FILTER_DST)
		if err != nil || len(routes) != 1 {
			return fmt.Errorf("routes to %s: %v, %v", cidrB, routes, err)
		}
		vx, err := netlink.LinkByName(VXLANDevice)
		if err != nil {
			return err
		}
		if routes[0].LinkIndex != vx.Attrs().Index || !routes[0].Gw.Equal(net.ParseIP("10.244.2.0")) {
			return fmt.Errorf("route to %s is %v, want via 10.244.2.0 dev %s", cidrB, routes[0], VXLANDevice)
		}
		if got := vx.Attrs().HardwareAddr.String(); got != "0a:58:0a:f4:01:00" {
			return fmt.Errorf("%s MAC %s", VXLANDevice, got)
		}
		if mtu := vx.Attrs().MTU; mtu != 1450 {
			return fmt.Errorf("%s MTU %d, want 1450", VXLANDevice, mtu)
		}
		return nil
	})
	if ops := sync(a, []NodeRoute{{PodCIDR: cidrB, Via: nodeB}}, cidrA); ops.Changes() != 0 {
		t.Fatalf("a sync with nothing to do changed %+v", ops)
	}
	addrB := serveOn(t, b, podB)
	addrA := serveOn(t, a, podA)
	if err := dialFrom(a, podA, addrB); err != nil {
		t.Fatalf("pod on a to pod on b: %v", err)
	}
	if err := dialFrom(b, podB, addrA); err != nil {
		t.Fatalf("pod on b to pod on a: %v", err)
	}

	// b leaves.
	ops := sync(a, nil, cidrA)
	if len(ops.Delete) != 1 || len(ops.Overlay.DelNeigh) != 1 || len(ops.Overlay.DelFDB) != 1 {
		t.Fatalf("removing b: %+v", ops)
	}
	netnstest.In(t, a, func() error {
		vx, err := netlink.LinkByName(VXLANDevice)
		if err != nil {
			return err
		}
		for _, fam := range []int{netlink.FAMILY_V4, unix.AF_BRIDGE} {
			entries, err := netlink.NeighList(vx.Attrs().Index, fam)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if e.State&netlink.NUD_PERMANENT != 0 && e.IP != nil {
					return fmt.Errorf("entry left on %s: %v", VXLANDevice, e)
				}
			}
		}
		routes, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil || len(routes) != 0 {
			return fmt.Errorf("routes left: %v, %v", routes, err)
		}
		return nil
	})
}

// TestSyncNodeRoutes_modes moves two nodes on one L2 segment from auto
// (direct routes) to vxlan and back to direct, pods reaching each other
// at every step.
func TestSyncNodeRoutes_modes(t *testing.T) {
	requirePrivileged(t)
	a, b := newNS(t), newNS(t)
	netnstest.Plug(t, a, b, "eth0", "eth0", "192.0.2.1/24", "192.0.2.2/24")
	podA, podB := netip.MustParseAddr("10.244.1.5"), netip.MustParseAddr("10.244.2.5")
	cidrA, cidrB := mustPrefix(t, "10.244.1.0/24"), mustPrefix(t, "10.244.2.0/24")
	netnstest.In(t, a, func() error { return addPodAddr(netip.PrefixFrom(podA, 24)) })
	netnstest.In(t, b, func() error { return addPodAddr(netip.PrefixFrom(podB, 24)) })
	addrB := serveOn(t, b, podB)
	for _, mode := range []RoutingMode{RoutingAuto, RoutingVXLAN, RoutingDirect} {
		netnstest.In(t, a, func() error {
			_, err := SyncNodeRoutes([]NodeRoute{{PodCIDR: cidrB, Via: netip.MustParseAddr("192.0.2.2")}}, cidrA, mode)
			return err
		})
		netnstest.In(t, b, func() error {
			_, err := SyncNodeRoutes([]NodeRoute{{PodCIDR: cidrA, Via: netip.MustParseAddr("192.0.2.1")}}, cidrB, mode)
			return err
		})
		if has := linkExists(t, a, VXLANDevice); has != (mode == RoutingVXLAN) {
			t.Fatalf("%s: %s exists: %v", mode, VXLANDevice, has)
		}
		if err := dialFrom(a, podA, addrB); err != nil {
			t.Fatalf("%s: pod on a to pod on b: %v", mode, err)
		}
	}
}

// addPodAddr puts a pod address on a bridge standing for the node's pod
// bridge.
func addPodAddr(p netip.Prefix) error {
	d := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "pods"}}
	if err := netlink.LinkAdd(d); err != nil {
		return err
	}
	if err := netlink.AddrAdd(d, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
		return err
	}
	return netlink.LinkSetUp(d)
}

// serveOn is serve for a netip.Addr.
func serveOn(t *testing.T, n ns.NetNS, ip netip.Addr) string {
	t.Helper()
	return serve(t, n, ip.AsSlice())
}

// dialFrom connects from src inside n to addr and reads the greeting.
func dialFrom(n ns.NetNS, src netip.Addr, addr string) error {
	return n.Do(func(ns.NetNS) error {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2)
		if _, err := c.Read(buf); err != nil {
			return err
		}
		if string(buf) != "hi" {
			return fmt.Errorf("unexpected greeting %q", buf)
		}
		return nil
	})
}
