package cni

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes the agent installs to other nodes' pod
// CIDRs (the rtnetlink protocol field, as routing daemons mark theirs),
// so that a sync removes only its own routes, never the machine's.
const RouteProtocol netlink.RouteProtocol = 0x4b

// NodeRoute is the way to another node's pods: its pod CIDR through its
// address, on a shared L2 segment.
type NodeRoute struct {
	PodCIDR netip.Prefix
	Via     netip.Addr
}

// routeOps are the changes that make the installed routes the wanted ones.
type routeOps struct {
	Replace []NodeRoute
	Delete  []netip.Prefix
}

// planRoutes compares the routes installed (with RouteProtocol) with
// those wanted. Wanted routes to the node's own CIDR are ignored, and
// when two nodes claim one CIDR, the first in the list wins.
func planRoutes(installed map[netip.Prefix]netip.Addr, want []NodeRoute, own netip.Prefix) routeOps {
	var ops routeOps
	seen := map[netip.Prefix]bool{}
	for _, r := range want {
		p := r.PodCIDR.Masked()
		if seen[p] || (own.IsValid() && p == own.Masked()) || !r.Via.IsValid() {
			continue
		}
		seen[p] = true
		if via, ok := installed[p]; !ok || via != r.Via {
			ops.Replace = append(ops.Replace, NodeRoute{PodCIDR: p, Via: r.Via})
		}
	}
	for p := range installed {
		if !seen[p] {
			ops.Delete = append(ops.Delete, p)
		}
	}
	slices.SortFunc(ops.Delete, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return ops
}

// SyncRoutes makes the agent's routes in the main table exactly want
// (other nodes' pod CIDRs through their addresses; own, the node's own
// CIDR, is left out) and turns IPv4 forwarding on, which routing pods'
// traffic between nodes needs. It changes only routes it marked.
func SyncRoutes(want []NodeRoute, own netip.Prefix) (routeOps, error) {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return routeOps{}, fmt.Errorf("turn on IPv4 forwarding: %w", err)
	}
	routes, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return routeOps{}, fmt.Errorf("list pod routes: %w", err)
	}
	installed := map[netip.Prefix]netip.Addr{}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		p, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		gw, _ := netip.AddrFromSlice(r.Gw)
		installed[netip.PrefixFrom(p.Unmap(), ones)] = gw.Unmap()
	}
	ops := planRoutes(installed, want, own)
	var errs []error
	for _, r := range ops.Replace {
		route := &netlink.Route{Dst: ipNet(r.PodCIDR), Gw: r.Via.AsSlice(), Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := netlink.RouteReplace(route); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", r.PodCIDR, r.Via, err))
		}
	}
	for _, p := range ops.Delete {
		route := &netlink.Route{Dst: ipNet(p), Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := netlink.RouteDel(route); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove route %s: %w", p, err))
		}
	}
	return ops, errors.Join(errs...)
}
