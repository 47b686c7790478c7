package cni

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/keel-edge/keel/internal/netnstest"
)

func TestPodMTU(t *testing.T) {
	tests := []struct {
		mode    RoutingMode
		uplink  int
		want    int
		wantErr string
	}{
		{RoutingAuto, 1500, 1450, ""},
		{RoutingVXLAN, 1500, 1450, ""},
		{RoutingDirect, 1500, 1500, ""},
		{RoutingVXLAN, 9000, 8950, ""},
		{RoutingDirect, 9000, 9000, ""},
		{RoutingVXLAN, 100, 0, "below IPv4's minimum"},
		{RoutingMode("geneve"), 1500, 0, "want auto, direct or vxlan"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.mode, tt.uplink), func(t *testing.T) {
			got, err := PodMTU(tt.mode, tt.uplink)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PodMTU = %d, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PodMTU = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// uplinkTo plugs node to a new namespace through a veth named name (in
// node) with address addr (CIDR form) and an MTU.
func uplinkTo(t *testing.T, node ns.NetNS, name string, mtu int, addr, peerAddr string) {
	t.Helper()
	netnstest.Plug(t, node, newNS(t), name, "eth0", addr, peerAddr)
	netnstest.In(t, node, func() error {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		return netlink.LinkSetMTU(l, mtu)
	})
}

func TestFindUplink(t *testing.T) {
	requirePrivileged(t)
	node := newNS(t)
	netnstest.In(t, node, func() error {
		if _, err := FindUplink(netip.MustParseAddr("127.0.0.1")); err == nil || !strings.Contains(err.Error(), "no default route") {
			return fmt.Errorf("no uplink at all: %v", err)
		}
		return nil
	})
	uplinkTo(t, node, "jumbo0", 9000, "192.0.2.1/24", "192.0.2.2/24")
	uplinkTo(t, node, "wan0", 1400, "198.51.100.1/24", "198.51.100.254/24")
	netnstest.In(t, node, func() error {
		if err := netlink.RouteAdd(&netlink.Route{Gw: netip.MustParseAddr("198.51.100.254").AsSlice()}); err != nil {
			return err
		}
		for _, tt := range []struct {
			addr netip.Addr
			want Uplink
		}{
			{netip.MustParseAddr("192.0.2.1"), Uplink{"jumbo0", 9000}},
			// Loopback, unset and foreign addresses: the default route's link.
			{netip.MustParseAddr("127.0.0.1"), Uplink{"wan0", 1400}},
			{netip.Addr{}, Uplink{"wan0", 1400}},
			{netip.IPv4Unspecified(), Uplink{"wan0", 1400}},
			{netip.MustParseAddr("203.0.113.9"), Uplink{"wan0", 1400}},
		} {
			got, err := FindUplink(tt.addr)
			if err != nil || got != tt.want {
				return fmt.Errorf("FindUplink(%s) = %+v, %v; want %+v", tt.addr, got, err, tt.want)
			}
		}
		return nil
	})
}

// TestPlugin_podMTUFollowsTheUplink gives pods of a node with a 9000-byte
// uplink the MTU of each routing mode, and checks that the bridge follows
// a changed MTU.
func TestPlugin_podMTUFollowsTheUplink(t *testing.T) {
	tn := newTestNet(t, "10.244.7.0/24")
	var uplink Uplink
	uplinkTo(t, tn.node, "eth0", 9000, "192.0.2.1/24", "192.0.2.2/24")
	netnstest.In(t, tn.node, func() (err error) {
		uplink, err = FindUplink(netip.MustParseAddr("192.0.2.1"))
		return err
	})
	for i, mode := range []RoutingMode{RoutingVXLAN, RoutingDirect} {
		mtu, err := PodMTU(mode, uplink.MTU)
		if err != nil {
			t.Fatal(err)
		}
		conf := fmt.Appendf(nil, `{"cniVersion":"1.1.0","name":"keel","type":"keel-cni","mtu":%d,"subnet":%q,"dataDir":%q}`,
			mtu, tn.subnet, tn.dataDir)
		pod := newNS(t)
		id := fmt.Sprintf("mtu-%d", i)
		if _, err := tn.run("ADD", id, pod.Path(), conf); err != nil {
			t.Fatalf("ADD in %s mode: %v", mode, err)
		}
		var podMTU, bridgeMTU int
		netnstest.In(t, pod, func() error {
			l, err := netlink.LinkByName("eth0")
			if err == nil {
				podMTU = l.Attrs().MTU
			}
			return err
		})
		netnstest.In(t, tn.node, func() error {
			l, err := netlink.LinkByName(DefaultBridge)
			if err == nil {
				bridgeMTU = l.Attrs().MTU
			}
			return err
		})
		if podMTU != mtu || bridgeMTU != mtu {
			t.Errorf("%s mode over a 9000-byte uplink: pod eth0 MTU %d, bridge %d; want %d", mode, podMTU, bridgeMTU, mtu)
		}
		if _, err := tn.run("DEL", id, pod.Path(), conf); err != nil {
			t.Fatalf("DEL: %v", err)
		}
	}
}
