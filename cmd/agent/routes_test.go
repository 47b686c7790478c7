package main

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/keel-edge/keel/agent/membership"
	"github.com/keel-edge/keel/cni"
)

func TestPodRoutingFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  string
	}{
		{nil, "auto", ""},
		{[]string{"--pod-routing", "vxlan"}, "vxlan", ""},
		{[]string{"--pod-routing=direct"}, "direct", ""},
		{[]string{"--pod-routing", "geneve"}, "", "want auto, direct or vxlan"},
	} {
		fs := newRunCmd().Flags()
		err := fs.Parse(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "pod-routing") {
				t.Errorf("%v: %v; want an error naming the flag and %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := fs.Lookup("pod-routing").Value.String(); got != tc.want {
			t.Errorf("%v: pod-routing = %q, want %q", tc.args, got, tc.want)
		}
	}
	fs := newRunCmd().Flags()
	if err := applyConfig(fs, "agent.yaml", []byte("pod-routing: vxlan\n")); err != nil || fs.Lookup("pod-routing").Value.String() != "vxlan" {
		t.Errorf("from a config file: %v, %q", err, fs.Lookup("pod-routing").Value.String())
	}
}

func TestNodeAddrs(t *testing.T) {
	members := []membership.Member{
		{Name: "a", Addr: netip.MustParseAddrPort("10.0.0.1:7946"), Status: membership.Alive},
		{Name: "b", Addr: netip.MustParseAddrPort("10.0.0.2:7946"), Status: membership.Failed},
		{Name: "c", Addr: netip.MustParseAddrPort("10.0.0.3:7946"), Status: membership.Left},
		{Name: "d", Status: membership.Alive},
		{Name: "e", Addr: netip.MustParseAddrPort("10.0.1.5:7946"), Status: membership.Alive, TagErr: errors.New("bad tags")},
	}
	got := nodeAddrs(members)
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.1.5")}
	if !slices.Equal(got, want) {
		t.Fatalf("nodeAddrs = %v, want %v", got, want)
	}
}

func TestNodeRoutes_failedMembersKeepTheirRoutes(t *testing.T) {
	member := func(name, addr, cidr string, st membership.Status) membership.Member {
		return membership.Member{Name: name, Addr: netip.MustParseAddrPort(addr + ":7946"), Status: st,
			Tags: membership.Tags{PodCIDR: cidr}}
	}
	got := nodeRoutes([]membership.Member{
		member("a", "10.0.0.1", "10.244.0.0/24", membership.Alive),  // self
		member("b", "10.0.0.2", "10.244.1.0/24", membership.Failed), // agent down, pods may run
		member("c", "10.0.0.3", "10.244.2.0/24", membership.Left),
		member("d", "10.0.0.4", "10.244.3.0/24", membership.Failed), // CIDR given again to e
		member("e", "10.0.0.5", "10.244.3.0/24", membership.Alive),
		member("f", "10.0.0.6", "10.244.4.0/24", membership.Alive),
		member("g", "10.0.0.7", "10.244.4.0/24", membership.Failed),
	}, "a")
	want := []cni.NodeRoute{
		{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"), Via: netip.MustParseAddr("10.0.0.2")},
		{PodCIDR: netip.MustParsePrefix("10.244.3.0/24"), Via: netip.MustParseAddr("10.0.0.5")},
		{PodCIDR: netip.MustParsePrefix("10.244.4.0/24"), Via: netip.MustParseAddr("10.0.0.6")},
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes\n got %v\nwant %v", got, want)
	}
}
