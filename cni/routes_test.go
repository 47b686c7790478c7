package cni

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

func TestPlanRoutes(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	own := p("10.244.0.0/24")
	installed := map[netip.Prefix]routeTarget{
		p("10.244.1.0/24"): {Via: a("10.0.0.2")},                  // unchanged
		p("10.244.2.0/24"): {Via: a("10.0.0.3")},                  // its node moved
		p("10.244.9.0/24"): {Via: a("10.0.0.9")},                  // its node left
		p("10.244.6.0/24"): {Via: a("10.244.6.0"), Overlay: true}, // overlay, unchanged
		p("10.244.7.0/24"): {Via: a("10.0.0.7")},                  // now through the overlay
		p("10.244.8.0/24"): {Via: a("10.244.8.0"), Overlay: true}, // now direct
	}
	want := wantedRoutes([]PodRoute{
		{PodCIDR: p("10.244.1.0/24"), Node: a("10.0.0.2")},
		{PodCIDR: p("10.244.2.0/24"), Node: a("10.0.0.33")},
		{PodCIDR: p("10.244.3.0/24"), Node: a("10.0.0.4")},  // new
		{PodCIDR: p("10.244.3.0/24"), Node: a("10.0.0.44")}, // a second claim: ignored
		{PodCIDR: own, Node: a("10.0.0.1")},                 // this node's own
		{PodCIDR: p("10.244.5.0/24")},                       // no address yet
		{PodCIDR: p("10.244.6.7/24"), Node: a("192.0.2.6"), Overlay: true},
		{PodCIDR: p("10.244.7.0/24"), Node: a("10.0.0.7"), Overlay: true},
		{PodCIDR: p("10.244.8.0/24"), Node: a("10.0.0.8")},
		{PodCIDR: p("fd00::/64"), Node: a("10.0.0.10")}, // not IPv4
	}, own)
	got := planRoutes(installed, want)
	wantOps := RouteOps{
		Replace: []PodRoute{
			{PodCIDR: p("10.244.2.0/24"), Node: a("10.0.0.33")},
			{PodCIDR: p("10.244.3.0/24"), Node: a("10.0.0.4")},
			{PodCIDR: p("10.244.7.0/24"), Node: a("10.0.0.7"), Overlay: true},
			{PodCIDR: p("10.244.8.0/24"), Node: a("10.0.0.8")},
		},
		Delete: []netip.Prefix{p("10.244.9.0/24")},
	}
	if !reflect.DeepEqual(got, wantOps) {
		t.Fatalf("plan:\n got  %+v\n want %+v", got, wantOps)
	}
	if ops := planRoutes(nil, nil); ops.Changes() != 0 {
		t.Fatalf("nothing to do: %+v", ops)
	}
}

// TestSyncRoutes installs, moves and removes routes in a namespace of
// the test's own, leaving a route it did not make alone.
func TestSyncRoutes(t *testing.T) {
	requirePrivileged(t)
	n := newNS(t)
	err := n.Do(func(ns.NetNS) error {
		dummy := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink"}, PeerName: "uplink-peer"}
		if err := netlink.LinkAdd(dummy); err != nil {
			return err
		}
		for _, name := range []string{"uplink", "uplink-peer"} {
			l, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return err
			}
		}
		addr, _ := netlink.ParseAddr("192.0.2.1/24")
		if err := netlink.AddrAdd(dummy, addr); err != nil {
			return err
		}
		// A route the agent did not make.
		if err := netlink.RouteAdd(&netlink.Route{Dst: ipNet(mustPrefix(t, "198.51.100.0/24")), Gw: net.ParseIP("192.0.2.254")}); err != nil {
			return err
		}
		own := mustPrefix(t, "10.244.0.0/24")
		want := []NodeRoute{{PodCIDR: mustPrefix(t, "10.244.1.0/24"), Via: netip.MustParseAddr("192.0.2.2")},
			{PodCIDR: mustPrefix(t, "10.244.2.0/24"), Via: netip.MustParseAddr("192.0.2.3")}}
		if _, err := SyncRoutes(want, own); err != nil {
			return err
		}
		if got := routesVia(t); got["10.244.1.0/24"] != "192.0.2.2" || got["10.244.2.0/24"] != "192.0.2.3" {
			return fmt.Errorf("after the first sync: %v", got)
		}
		want = []NodeRoute{{PodCIDR: mustPrefix(t, "10.244.1.0/24"), Via: netip.MustParseAddr("192.0.2.4")}}
		ops, err := SyncRoutes(want, own)
		if err != nil {
			return err
		}
		got := routesVia(t)
		if got["10.244.1.0/24"] != "192.0.2.4" || got["10.244.2.0/24"] != "" || got["198.51.100.0/24"] != "192.0.2.254" {
			return fmt.Errorf("after the second sync (%+v): %v", ops, got)
		}
		if again, _ := SyncRoutes(want, own); len(again.Replace)+len(again.Delete) != 0 || linkExists(t, n, VXLANDevice) {
			return fmt.Errorf("a sync with nothing to do changed %+v", again)
		}
		fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		if err != nil || string(fwd) != "1\n" {
			return fmt.Errorf("ip_forward %q, %v", fwd, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// routesVia lists the gateways of the namespace's IPv4 routes by
// destination.
func routesVia(t *testing.T) map[string]string {
	t.Helper()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range routes {
		if r.Dst != nil && r.Gw != nil {
			out[r.Dst.String()] = r.Gw.String()
		}
	}
	return out
}
