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

// NodeRoute is the way to another node's pods: its pod CIDR and the
// node's address.
type NodeRoute struct {
	PodCIDR netip.Prefix
	Via     netip.Addr
}

// PodRoute is a NodeRoute with the way chosen: straight through the
// node's address (on a directly connected subnet), or through the VXLAN
// overlay to the node's VTEP.
type PodRoute struct {
	PodCIDR netip.Prefix
	Node    netip.Addr
	Overlay bool
}

// target is where the route to the remote pod CIDR points.
func (r PodRoute) target() routeTarget {
	if r.Overlay {
		return routeTarget{Via: overlayAddr(r.PodCIDR), Overlay: true}
	}
	return routeTarget{Via: r.Node}
}

// routeTarget is the gateway of an installed route and whether it is
// onlink through the VXLAN device.
type routeTarget struct {
	Via     netip.Addr
	Overlay bool
}

// RouteOps are the changes that make the installed routes, and the VXLAN
// device's neighbour and forwarding entries, the wanted ones.
type RouteOps struct {
	Replace []PodRoute
	Delete  []netip.Prefix
	Overlay overlayOps
}

// Changes is how many routes and overlay entries the ops set or remove.
func (o RouteOps) Changes() int {
	return len(o.Replace) + len(o.Delete) + o.Overlay.Changes()
}

// wantedRoutes drops routes to the node's own CIDR, routes without a
// node address and, when two nodes claim one CIDR, all but the first.
func wantedRoutes(want []PodRoute, own netip.Prefix) []PodRoute {
	var out []PodRoute
	seen := map[netip.Prefix]bool{}
	for _, r := range want {
		r.PodCIDR = r.PodCIDR.Masked()
		if seen[r.PodCIDR] || !r.PodCIDR.Addr().Is4() || (own.IsValid() && r.PodCIDR == own.Masked()) || !r.Node.IsValid() {
			continue
		}
		seen[r.PodCIDR] = true
		out = append(out, r)
	}
	return out
}

// planRoutes compares the routes installed (with RouteProtocol) with the
// wanted ones (as wantedRoutes leaves them).
func planRoutes(installed map[netip.Prefix]routeTarget, want []PodRoute) RouteOps {
	var ops RouteOps
	seen := map[netip.Prefix]bool{}
	for _, r := range want {
		seen[r.PodCIDR] = true
		if got, ok := installed[r.PodCIDR]; !ok || got != r.target() {
			ops.Replace = append(ops.Replace, r)
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

// SyncRoutes is SyncNodeRoutes with direct routes only: every other
// node is taken to share an L2 segment with this one.
func SyncRoutes(want []NodeRoute, own netip.Prefix) (RouteOps, error) {
	return SyncNodeRoutes(want, own, RoutingDirect)
}

// SyncNodeRoutes makes the agent's routes in the main table exactly want
// (other nodes' pod CIDRs; own, the node's own CIDR, is left out), each
// direct or through the VXLAN overlay as mode decides, and turns IPv4
// forwarding on, which routing pods' traffic between nodes needs. It
// changes only routes it marked and the entries of its VXLAN device; in
// direct mode it removes that device.
func SyncNodeRoutes(want []NodeRoute, own netip.Prefix, mode RoutingMode) (RouteOps, error) {
	if err := mode.Validate(); err != nil {
		return RouteOps{}, err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return RouteOps{}, fmt.Errorf("turn on IPv4 forwarding: %w", err)
	}
	var routes []PodRoute
	for _, r := range want {
		connected := mode == RoutingAuto && r.Via.IsValid() && directlyConnected(r.Via)
		routes = append(routes, PodRoute{PodCIDR: r.PodCIDR, Node: r.Via, Overlay: useOverlay(mode, connected)})
	}
	routes = wantedRoutes(routes, own)

	vx, err := syncOverlayDevice(routes, own, mode)
	if err != nil {
		return RouteOps{}, err
	}
	vxIndex := -1
	if vx != nil {
		vxIndex = vx.Attrs().Index
	}
	installed, err := installedRoutes(vxIndex)
	if err != nil {
		return RouteOps{}, err
	}
	ops := planRoutes(installed, routes)
	var errs []error
	if vx != nil {
		ops.Overlay, err = syncOverlayEntries(vx, routes)
		errs = append(errs, err)
	}
	for _, r := range ops.Replace {
		route := &netlink.Route{Dst: ipNet(r.PodCIDR), Gw: r.target().Via.AsSlice(), Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if r.Overlay {
			if vx == nil {
				errs = append(errs, fmt.Errorf("route %s: no %s device", r.PodCIDR, VXLANDevice))
				continue
			}
			route.LinkIndex = vxIndex
			route.Flags = int(netlink.FLAG_ONLINK)
		}
		if err := netlink.RouteReplace(route); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", r.PodCIDR, r.target().Via, err))
		}
	}
	for _, p := range ops.Delete {
		route := &netlink.Route{Dst: ipNet(p), Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := netlink.RouteDel(route); err != nil && !isNotFound(err) && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove route %s: %w", p, err))
		}
	}
	return ops, errors.Join(errs...)
}

// installedRoutes are the routes in the main table marked RouteProtocol,
// by destination; those through link vxIndex are overlay routes.
func installedRoutes(vxIndex int) (map[netip.Prefix]routeTarget, error) {
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list pod routes: %w", err)
	}
	installed := map[netip.Prefix]routeTarget{}
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
		installed[netip.PrefixFrom(p.Unmap(), ones)] = routeTarget{Via: gw.Unmap(), Overlay: vxIndex > 0 && r.LinkIndex == vxIndex}
	}
	return installed, nil
}

// directlyConnected reports whether the kernel reaches addr without a
// gateway: it is on a subnet of one of this machine's links.
func directlyConnected(addr netip.Addr) bool {
	routes, err := netlink.RouteGet(addr.AsSlice())
	return err == nil && len(routes) > 0 && routes[0].Gw == nil
}

// retryDump repeats a netlink dump the kernel interrupted because the
// table changed meanwhile.
func retryDump[T any](dump func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == dumpRetries {
			return v, err
		}
	}
}
