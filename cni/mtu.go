package cni

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// PodMTU is the MTU of pods' interfaces on a node whose uplink (the link
// carrying its address to other nodes) has uplinkMTU: in modes that may
// carry pods' packets through the VXLAN overlay (vxlan and auto) it
// leaves room for encapsulation, so a full-size pod packet still fits the
// uplink once wrapped; in direct mode pods' packets cross the uplink as
// they are.
func PodMTU(mode RoutingMode, uplinkMTU int) (int, error) {
	if err := mode.Validate(); err != nil {
		return 0, err
	}
	mtu := uplinkMTU
	if mode != RoutingDirect {
		mtu -= vxlanOverhead
	}
	if mtu < 68 {
		return 0, fmt.Errorf("uplink MTU %d leaves pods %d in %s mode, below IPv4's minimum of 68", uplinkMTU, mtu, mode)
	}
	return mtu, nil
}

// Uplink is the link a node reaches other nodes through and its MTU.
type Uplink struct {
	Name string
	MTU  int
}

// FindUplink is the link carrying addr, the address the node announces
// to the cluster. When addr is unset, unspecified or on a loopback link
// (a single machine), it is the link of the default route; with neither,
// an error says so.
func FindUplink(addr netip.Addr) (Uplink, error) {
	if addr.IsValid() && !addr.IsUnspecified() {
		link, err := linkWithAddr(addr)
		if err != nil {
			return Uplink{}, err
		}
		if link != nil && link.Attrs().Flags&net.FlagLoopback == 0 {
			return Uplink{Name: link.Attrs().Name, MTU: link.Attrs().MTU}, nil
		}
	}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{}, netlink.RT_FILTER_DST)
	})
	if err != nil {
		return Uplink{}, fmt.Errorf("uplink: list default routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst != nil && !isDefault(r.Dst) || r.LinkIndex == 0 {
			continue
		}
		link, err := netlink.LinkByIndex(r.LinkIndex)
		if err != nil {
			return Uplink{}, fmt.Errorf("uplink: link %d of the default route: %w", r.LinkIndex, err)
		}
		return Uplink{Name: link.Attrs().Name, MTU: link.Attrs().MTU}, nil
	}
	return Uplink{}, fmt.Errorf("uplink: no link carries %s and there is no default route (pass the node's address)", addr)
}

// linkWithAddr is the link holding addr, nil when none does.
func linkWithAddr(addr netip.Addr) (netlink.Link, error) {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, family(addr)) })
	if err != nil {
		return nil, fmt.Errorf("uplink: list addresses: %w", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == addr.Unmap() {
			link, err := netlink.LinkByIndex(a.LinkIndex)
			if err != nil {
				return nil, fmt.Errorf("uplink: link %d holding %s: %w", a.LinkIndex, addr, err)
			}
			return link, nil
		}
	}
	return nil, nil
}
