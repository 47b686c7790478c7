package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// dumpRetries bounds retries of netlink dumps the kernel interrupted
// because the table changed underneath them.
const dumpRetries = 5

// hostVethName names the host side of (id, ifname)'s veth pair, so DEL
// and GC find it even when the pod's netns is already gone.
func hostVethName(id, ifname string) string {
	sum := sha256.Sum256([]byte(id + "/" + ifname))
	return "kv" + hex.EncodeToString(sum[:])[:12]
}

func addrList(link netlink.Link, family int) ([]netlink.Addr, error) {
	for i := 0; ; i++ {
		addrs, err := netlink.AddrList(link, family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == dumpRetries {
			return addrs, err
		}
	}
}

func routeList(link netlink.Link, family int) ([]netlink.Route, error) {
	for i := 0; ; i++ {
		routes, err := netlink.RouteList(link, family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == dumpRetries {
			return routes, err
		}
	}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// hasAddr reports whether link carries exactly address p.
func hasAddr(link netlink.Link, p netip.Prefix) (bool, error) {
	addrs, err := addrList(link, family(p.Addr()))
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		got, ok := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if ok && got.Unmap() == p.Addr() && ones == p.Bits() {
			return true, nil
		}
	}
	return false, nil
}

// ensureBridge creates the bridge once (concurrent callers tolerate each
// other), pins its MAC so ports joining do not change it, gives it the
// gateway address gw and brings it up.
func ensureBridge(name string, mtu int, gw netip.Prefix) (netlink.Link, error) {
	br, err := netlink.LinkByName(name)
	if isNotFound(err) {
		err = netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}})
		if err != nil && !errors.Is(err, syscall.EEXIST) {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		if br, err = netlink.LinkByName(name); err == nil {
			if err := netlink.LinkSetHardwareAddr(br, br.Attrs().HardwareAddr); err != nil {
				return nil, fmt.Errorf("pin MAC of bridge %s: %w", name, err)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("find bridge %s: %w", name, err)
	}
	if br.Type() != "bridge" {
		return nil, fmt.Errorf("link %s is a %s, not a bridge", name, br.Type())
	}
	// The pods' MTU may have changed since the bridge was made (another
	// routing mode, another uplink): the bridge, holding the pods'
	// gateway, must not send them more than they take.
	if br.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(br, mtu); err != nil {
			return nil, fmt.Errorf("set MTU %d on bridge %s: %w", mtu, name, err)
		}
	}
	ok, err := hasAddr(br, gw)
	if err != nil {
		return nil, err
	}
	if !ok {
		err := netlink.AddrAdd(br, &netlink.Addr{IPNet: ipNet(gw)})
		if err != nil && !errors.Is(err, syscall.EEXIST) {
			return nil, fmt.Errorf("add %s to bridge %s: %w", gw, name, err)
		}
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("bring up bridge %s: %w", name, err)
	}
	return netlink.LinkByName(name)
}

// attachment is what ADD built, for the result.
type attachment struct {
	bridge, host, pod netlink.Link
}

// setupPod creates the veth pair hostName/ifname with ifname in podNS,
// gives it addr and a default route via gw, brings up the pod's
// loopback, and attaches hostName to br. It runs in the host netns.
func setupPod(podNS ns.NetNS, br netlink.Link, hostName, ifname string, mtu int, addr netip.Prefix, gw netip.Addr) (attachment, error) {
	att := attachment{bridge: br}
	// A host veth of this name is a leftover of an earlier ADD of the same
	// attachment; deleting it removes its pod side too.
	if err := deleteLink(hostName); err != nil {
		return att, err
	}
	hostNS, err := ns.GetCurrentNS()
	if err != nil {
		return att, fmt.Errorf("open host netns: %w", err)
	}
	defer hostNS.Close()
	err = podNS.Do(func(ns.NetNS) error {
		if _, err := netlink.LinkByName(ifname); err == nil {
			return fmt.Errorf("interface %s already exists in %s", ifname, podNS.Path())
		}
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: ifname, MTU: mtu},
			PeerName:      hostName,
			PeerMTU:       uint32(mtu),
			PeerNamespace: netlink.NsFd(int(hostNS.Fd())),
		}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("create veth %s/%s: %w", ifname, hostName, err)
		}
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return fmt.Errorf("find %s: %w", ifname, err)
		}
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
			return fmt.Errorf("add %s to %s: %w", addr, ifname, err)
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("bring up %s: %w", ifname, err)
		}
		if lo, err := netlink.LinkByName("lo"); err == nil {
			if err := netlink.LinkSetUp(lo); err != nil {
				return fmt.Errorf("bring up lo: %w", err)
			}
		}
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice(), Family: family(gw)}
		if err := netlink.RouteAdd(route); err != nil {
			return fmt.Errorf("add default route via %s: %w", gw, err)
		}
		att.pod, err = netlink.LinkByName(ifname)
		return err
	})
	if err != nil {
		return att, err
	}
	host, err := netlink.LinkByName(hostName)
	if err != nil {
		return att, fmt.Errorf("find %s: %w", hostName, err)
	}
	if err := netlink.LinkSetMaster(host, br); err != nil {
		return att, fmt.Errorf("attach %s to %s: %w", hostName, br.Attrs().Name, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return att, fmt.Errorf("bring up %s: %w", hostName, err)
	}
	att.host, err = netlink.LinkByName(hostName)
	return att, err
}

// deleteLink removes a link of the current netns; a missing one is fine.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !isNotFound(err) && !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// deleteVeth removes a veth of the current netns, leaving alone a link
// of that name that is not a veth (another plugin's).
func deleteVeth(name string) error {
	link, err := netlink.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if link.Type() != "veth" {
		return nil
	}
	return deleteLink(name)
}

// checkHost verifies the bridge and the host veth (in the host netns).
func checkHost(bridge string, gw netip.Prefix, hostName string) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", bridge, err)
	}
	if ok, err := hasAddr(br, gw); err != nil || !ok {
		return errors.Join(fmt.Errorf("bridge %s lacks gateway %s", bridge, gw), err)
	}
	host, err := netlink.LinkByName(hostName)
	if err != nil {
		return fmt.Errorf("host veth %s: %w", hostName, err)
	}
	if host.Attrs().MasterIndex != br.Attrs().Index {
		return fmt.Errorf("host veth %s is not attached to bridge %s", hostName, bridge)
	}
	if host.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("host veth %s is down", hostName)
	}
	return nil
}

// checkPod verifies ifname, its address and its default route (in the
// pod's netns).
func checkPod(ifname string, addr netip.Prefix, gw netip.Addr) error {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("pod interface %s: %w", ifname, err)
	}
	if link.Type() != "veth" {
		return fmt.Errorf("pod interface %s is a %s, not a veth", ifname, link.Type())
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("pod interface %s is down", ifname)
	}
	ok, err := hasAddr(link, addr)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("pod interface %s lacks address %s", ifname, addr)
	}
	routes, err := routeList(link, family(gw))
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", ifname, err)
	}
	for _, r := range routes {
		via, _ := netip.AddrFromSlice(r.Gw)
		if (r.Dst == nil || isDefault(r.Dst)) && via.Unmap() == gw {
			return nil
		}
	}
	return fmt.Errorf("pod interface %s lacks a default route via %s", ifname, gw)
}

func isDefault(n *net.IPNet) bool {
	ones, _ := n.Mask.Size()
	return ones == 0
}
