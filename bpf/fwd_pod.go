package bpf

import (
	"fmt"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// FindPod finds how the fast path reaches the pod whose network namespace
// is at netnsPath and holds addr: the interface holding addr there must be
// a veth whose peer, in the current network namespace, is a port of a
// bridge (the pod's gateway). Host ports are left for the caller to fill.
func FindPod(netnsPath string, addr netip.Addr) (FwdPod, error) {
	p := FwdPod{Addr: addr}
	var podIndex, peerIndex int
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		links, err := netlink.LinkList()
		if err != nil {
			return fmt.Errorf("list links: %w", err)
		}
		for _, l := range links {
			addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
			if err != nil {
				return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
			}
			for _, a := range addrs {
				if got, ok := netip.AddrFromSlice(a.IP); !ok || got.Unmap() != addr {
					continue
				}
				if l.Type() != "veth" {
					return fmt.Errorf("%s holds %s but is a %s, not a veth", l.Attrs().Name, addr, l.Type())
				}
				p.MAC = l.Attrs().HardwareAddr
				podIndex, peerIndex = l.Attrs().Index, l.Attrs().ParentIndex
				return nil
			}
		}
		return fmt.Errorf("no interface holds %s", addr)
	})
	if err != nil {
		return p, fmt.Errorf("pod fast path: pod %s in %s: %w", addr, netnsPath, err)
	}
	host, err := netlink.LinkByIndex(peerIndex)
	if err != nil {
		return p, fmt.Errorf("pod fast path: pod %s: host veth %d: %w", addr, peerIndex, err)
	}
	if host.Type() != "veth" || host.Attrs().ParentIndex != podIndex {
		return p, fmt.Errorf("pod fast path: pod %s: link %s is not its veth's peer", addr, host.Attrs().Name)
	}
	br, err := netlink.LinkByIndex(host.Attrs().MasterIndex)
	if err != nil || br.Type() != "bridge" {
		return p, fmt.Errorf("pod fast path: pod %s: host veth %s is not on a bridge", addr, host.Attrs().Name)
	}
	p.HostIfindex = host.Attrs().Index
	p.GatewayMAC = br.Attrs().HardwareAddr
	return p, nil
}
