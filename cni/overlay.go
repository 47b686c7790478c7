package cni

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The VXLAN overlay carries pods' traffic to nodes that are not on a
// directly connected subnet. Each node has one VXLAN device whose MAC and
// address follow from its pod CIDR, so the pod CIDR and node address that
// members already announce are all a peer needs.
const (
	// VXLANDevice is the name of the node's VXLAN device.
	VXLANDevice = "keel.vxlan"
	// VXLANID is the overlay's VXLAN network identifier.
	VXLANID = 1
	// VXLANPort is the UDP port VXLAN packets travel on (Linux's
	// historical default, as flannel uses).
	VXLANPort = 8472
	// vxlanOverhead is what encapsulation adds to a packet over IPv4:
	// outer IP, UDP, VXLAN and inner Ethernet headers.
	vxlanOverhead = 50
)

// RoutingMode says how routes to other nodes' pods are made.
type RoutingMode string

const (
	// RoutingAuto routes directly to nodes on a directly connected
	// subnet and through the overlay to the others.
	RoutingAuto RoutingMode = "auto"
	// RoutingDirect routes every node's pods through its address.
	RoutingDirect RoutingMode = "direct"
	// RoutingVXLAN routes every node's pods through the overlay.
	RoutingVXLAN RoutingMode = "vxlan"
)

// Validate reports a mode that is none of auto, direct and vxlan.
func (m RoutingMode) Validate() error {
	switch m {
	case RoutingAuto, RoutingDirect, RoutingVXLAN:
		return nil
	}
	return fmt.Errorf("pod routing mode %q: want auto, direct or vxlan", string(m))
}

// MarshalText and UnmarshalText make a RoutingMode a flag value.
func (m RoutingMode) MarshalText() ([]byte, error) { return []byte(m), nil }

// UnmarshalText parses and validates a mode.
func (m *RoutingMode) UnmarshalText(b []byte) error {
	v := RoutingMode(b)
	if err := v.Validate(); err != nil {
		return err
	}
	*m = v
	return nil
}

// useOverlay decides how to reach one other node's pods: in auto mode
// through the overlay exactly when the node is not on a directly
// connected subnet (the kernel's route to it has a gateway).
func useOverlay(mode RoutingMode, connected bool) bool {
	switch mode {
	case RoutingVXLAN:
		return true
	case RoutingAuto:
		return !connected
	}
	return false
}

// VTEPMAC is the MAC of the VXLAN device of the node owning podCIDR:
// 0a:58 (locally administered) and the CIDR's IPv4 network address.
func VTEPMAC(podCIDR netip.Prefix) net.HardwareAddr {
	a := podCIDR.Masked().Addr().As4()
	return net.HardwareAddr{0x0a, 0x58, a[0], a[1], a[2], a[3]}
}

// overlayAddr is the address of the VXLAN device of the node owning
// podCIDR: the CIDR's network address, which no pod gets.
func overlayAddr(podCIDR netip.Prefix) netip.Addr {
	return podCIDR.Masked().Addr()
}

// fdbEntry is a forwarding entry of the VXLAN device: frames to the
// remote VTEP's MAC go to its node's address.
type fdbEntry struct {
	MAC  string
	Node netip.Addr
}

// neighEntry is a permanent neighbour of the VXLAN device: a remote
// VTEP's overlay address and its MAC.
type neighEntry struct {
	Addr netip.Addr
	MAC  string
}

// overlayOps are the neighbour and forwarding entries to set and remove
// on the VXLAN device.
type overlayOps struct {
	SetNeigh []neighEntry
	DelNeigh []neighEntry
	SetFDB   []fdbEntry
	DelFDB   []fdbEntry
}

// Changes is how many entries the ops set or remove.
func (o overlayOps) Changes() int {
	return len(o.SetNeigh) + len(o.DelNeigh) + len(o.SetFDB) + len(o.DelFDB)
}

// planOverlay compares the VXLAN device's permanent neighbours (overlay
// address to MAC) and forwarding entries (MAC to node addresses) with
// those the overlay routes among want need.
func planOverlay(neigh map[netip.Addr]string, fdb map[string][]netip.Addr, want []PodRoute) overlayOps {
	var ops overlayOps
	wantNeigh := map[netip.Addr]bool{}
	wantFDB := map[fdbEntry]bool{}
	for _, r := range want {
		if !r.Overlay {
			continue
		}
		n := neighEntry{Addr: overlayAddr(r.PodCIDR), MAC: VTEPMAC(r.PodCIDR).String()}
		wantNeigh[n.Addr] = true
		if neigh[n.Addr] != n.MAC {
			ops.SetNeigh = append(ops.SetNeigh, n)
		}
		f := fdbEntry{MAC: n.MAC, Node: r.Node}
		wantFDB[f] = true
		if !slices.Contains(fdb[f.MAC], f.Node) {
			ops.SetFDB = append(ops.SetFDB, f)
		}
	}
	for a, mac := range neigh {
		if !wantNeigh[a] {
			ops.DelNeigh = append(ops.DelNeigh, neighEntry{Addr: a, MAC: mac})
		}
	}
	for mac, nodes := range fdb {
		for _, n := range nodes {
			if f := (fdbEntry{MAC: mac, Node: n}); !wantFDB[f] {
				ops.DelFDB = append(ops.DelFDB, f)
			}
		}
	}
	slices.SortFunc(ops.DelNeigh, func(a, b neighEntry) int { return a.Addr.Compare(b.Addr) })
	slices.SortFunc(ops.DelFDB, func(a, b fdbEntry) int {
		if c := bytes.Compare([]byte(a.MAC), []byte(b.MAC)); c != 0 {
			return c
		}
		return a.Node.Compare(b.Node)
	})
	return ops
}

// syncOverlayDevice makes the VXLAN device when an overlay route is
// wanted (and returns it, nil when there is none) and removes it in
// direct mode, which also removes every route and entry through it.
func syncOverlayDevice(routes []PodRoute, own netip.Prefix, mode RoutingMode) (netlink.Link, error) {
	link, err := netlink.LinkByName(VXLANDevice)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("look up %s: %w", VXLANDevice, err)
	}
	if mode == RoutingDirect {
		if link != nil {
			if err := netlink.LinkDel(link); err != nil {
				return nil, fmt.Errorf("remove %s: %w", VXLANDevice, err)
			}
		}
		return nil, nil
	}
	var first *PodRoute
	for i := range routes {
		if routes[i].Overlay {
			first = &routes[i]
			break
		}
	}
	if first == nil {
		return link, nil
	}
	if !own.IsValid() || !own.Addr().Is4() {
		return nil, fmt.Errorf("%s: the overlay needs this node's IPv4 pod CIDR, have %q", VXLANDevice, own)
	}
	return ensureVXLAN(own, first.Node)
}

// ensureVXLAN makes the VXLAN device of the node owning own (replacing a
// device of that name made otherwise), with its MAC, its overlay address
// /32 and an MTU that leaves room for encapsulation on the link towards
// peer, and brings it up.
func ensureVXLAN(own netip.Prefix, peer netip.Addr) (netlink.Link, error) {
	mac := VTEPMAC(own)
	link, err := netlink.LinkByName(VXLANDevice)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("look up %s: %w", VXLANDevice, err)
	}
	if vx, ok := link.(*netlink.Vxlan); link != nil && (!ok || vx.VxlanId != VXLANID || vx.Port != VXLANPort || vx.Learning) {
		if err := netlink.LinkDel(link); err != nil {
			return nil, fmt.Errorf("remove %s made otherwise: %w", VXLANDevice, err)
		}
		link = nil
	}
	if link == nil {
		vx := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: VXLANDevice, HardwareAddr: mac, MTU: overlayMTU(peer)},
			VxlanId:   VXLANID,
			Port:      VXLANPort,
			Learning:  false,
		}
		if err := netlink.LinkAdd(vx); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create %s: %w", VXLANDevice, err)
		}
		if link, err = netlink.LinkByName(VXLANDevice); err != nil {
			return nil, fmt.Errorf("look up %s: %w", VXLANDevice, err)
		}
	}
	if !bytes.Equal(link.Attrs().HardwareAddr, mac) {
		if err := netlink.LinkSetHardwareAddr(link, mac); err != nil {
			return nil, fmt.Errorf("set the MAC of %s: %w", VXLANDevice, err)
		}
	}
	addr := netip.PrefixFrom(overlayAddr(own), 32)
	has, err := hasAddr(link, addr)
	if err != nil {
		return nil, err
	}
	if !has {
		if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
			return nil, fmt.Errorf("address %s on %s: %w", addr, VXLANDevice, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("bring %s up: %w", VXLANDevice, err)
		}
	}
	return link, nil
}

// overlayMTU is the MTU of the link the kernel reaches peer through less
// the encapsulation overhead (1450 when that link is unknown).
func overlayMTU(peer netip.Addr) int {
	mtu := 1500
	if routes, err := netlink.RouteGet(peer.AsSlice()); err == nil && len(routes) > 0 {
		if l, err := netlink.LinkByIndex(routes[0].LinkIndex); err == nil && l.Attrs().MTU > 0 {
			mtu = l.Attrs().MTU
		}
	}
	return mtu - vxlanOverhead
}

// syncOverlayEntries makes the permanent neighbours and forwarding
// entries of vx those the overlay routes among routes need. Every
// permanent entry of the device is the agent's: it made the device.
func syncOverlayEntries(vx netlink.Link, routes []PodRoute) (overlayOps, error) {
	idx := vx.Attrs().Index
	neighs, err := retryDump(func() ([]netlink.Neigh, error) { return netlink.NeighList(idx, netlink.FAMILY_V4) })
	if err != nil {
		return overlayOps{}, fmt.Errorf("list neighbours of %s: %w", VXLANDevice, err)
	}
	neigh := map[netip.Addr]string{}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); ok && n.State&netlink.NUD_PERMANENT != 0 {
			neigh[a.Unmap()] = n.HardwareAddr.String()
		}
	}
	fdbs, err := retryDump(func() ([]netlink.Neigh, error) { return netlink.NeighList(idx, unix.AF_BRIDGE) })
	if err != nil {
		return overlayOps{}, fmt.Errorf("list forwarding entries of %s: %w", VXLANDevice, err)
	}
	fdb := map[string][]netip.Addr{}
	for _, n := range fdbs {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok || n.State&netlink.NUD_PERMANENT == 0 || len(n.HardwareAddr) != 6 || bytes.Equal(n.HardwareAddr, make([]byte, 6)) {
			continue
		}
		fdb[n.HardwareAddr.String()] = append(fdb[n.HardwareAddr.String()], a.Unmap())
	}
	ops := planOverlay(neigh, fdb, routes)
	var errs []error
	for _, f := range ops.DelFDB {
		if err := netlink.NeighDel(fdbNeigh(idx, f)); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove forwarding entry %s to %s: %w", f.MAC, f.Node, err))
		}
	}
	for _, n := range ops.DelNeigh {
		if err := netlink.NeighDel(neighbour(idx, n)); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove neighbour %s on %s: %w", n.Addr, VXLANDevice, err))
		}
	}
	for _, f := range ops.SetFDB {
		if err := netlink.NeighAppend(fdbNeigh(idx, f)); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("forwarding entry %s to %s: %w", f.MAC, f.Node, err))
		}
	}
	for _, n := range ops.SetNeigh {
		if err := netlink.NeighSet(neighbour(idx, n)); err != nil {
			errs = append(errs, fmt.Errorf("neighbour %s is %s on %s: %w", n.Addr, n.MAC, VXLANDevice, err))
		}
	}
	return ops, errors.Join(errs...)
}

func neighbour(idx int, n neighEntry) *netlink.Neigh {
	mac, _ := net.ParseMAC(n.MAC)
	return &netlink.Neigh{LinkIndex: idx, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		Type: unix.RTN_UNICAST, IP: n.Addr.AsSlice(), HardwareAddr: mac}
}

func fdbNeigh(idx int, f fdbEntry) *netlink.Neigh {
	mac, _ := net.ParseMAC(f.MAC)
	return &netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
		Flags: netlink.NTF_SELF, IP: f.Node.AsSlice(), HardwareAddr: mac}
}
