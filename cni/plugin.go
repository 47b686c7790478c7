package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/nftables"
)

// supportedVersions are the CNI spec versions the plugin speaks; GC and
// STATUS need 1.1.0.
var supportedVersions = version.PluginSupports("0.4.0", "1.0.0", "1.1.0")

// PluginMain runs the keel-cni plugin: it reads the CNI_* environment and
// the config on stdin, does the command, prints the result or error on
// stdout, and exits non-zero on error. The agent's main calls it when
// invoked as PluginName.
func PluginMain() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    cmdAdd,
		Del:    cmdDel,
		Check:  cmdCheck,
		GC:     cmdGC,
		Status: cmdStatus,
	}, supportedVersions, "keel-cni: bridge, veth and on-disk IPAM for keel pods")
}

// gatewayPrefix is the bridge's address with the subnet's length.
func gatewayPrefix(conf *NetConf) netip.Prefix {
	return netip.PrefixFrom(conf.Gateway(), conf.Prefix().Bits())
}

func cmdAdd(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	ports, err := runtimeConfHostPorts(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	podNS, err := ns.GetNS(args.Netns)
	if err != nil {
		return types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("open netns %q: %v", args.Netns, err), "")
	}
	defer podNS.Close()
	store, err := OpenStore(conf.DataDir, conf.Name, conf.Prefix())
	if err != nil {
		return err
	}
	gw := gatewayPrefix(conf)
	br, err := ensureBridge(conf.Bridge, conf.MTU, gw)
	if err != nil {
		return err
	}
	a, err := store.Allocate(args.ContainerID, args.IfName)
	if errors.Is(err, ErrExhausted) {
		return types.NewError(types.ErrTryAgainLater, err.Error(), "")
	}
	if err != nil {
		return err
	}
	addr := netip.PrefixFrom(a, conf.Prefix().Bits())
	hostName := hostVethName(args.ContainerID, args.IfName)
	att, err := setupPod(podNS, br, hostName, args.IfName, conf.MTU, addr, gw.Addr())
	if err == nil && len(ports) > 0 {
		err = withNAT(func(c *nftables.Conn) error {
			return addPortMappings(c, conf.Bridge, conf.Prefix(), args.ContainerID, a, ports)
		})
	}
	if err != nil {
		// Undo, so a retried ADD starts clean; the first error is the one
		// that matters.
		_ = deleteLink(hostName)
		_ = withNAT(func(c *nftables.Conn) error { return removePortMappings(c, isID(args.ContainerID)) })
		_ = store.Release(args.ContainerID, args.IfName)
		return err
	}
	result := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: att.bridge.Attrs().Name, Mac: att.bridge.Attrs().HardwareAddr.String()},
			{Name: att.host.Attrs().Name, Mac: att.host.Attrs().HardwareAddr.String()},
			{Name: att.pod.Attrs().Name, Mac: att.pod.Attrs().HardwareAddr.String(), Sandbox: args.Netns},
		},
		IPs: []*current.IPConfig{{
			Interface: current.Int(2),
			Address:   *ipNet(addr),
			Gateway:   gw.Addr().AsSlice(),
		}},
		Routes: []*types.Route{{Dst: *defaultNet(a), GW: gw.Addr().AsSlice()}},
	}
	return types.PrintResult(result, conf.CNIVersion)
}

// withNAT runs f with a connection to nftables in the current network
// namespace.
func withNAT(f func(*nftables.Conn) error) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	return f(c)
}

// isID selects one container ID.
func isID(id string) func(string) bool { return func(s string) bool { return s == id } }

// defaultNet is the default destination of a's family.
func defaultNet(a netip.Addr) *net.IPNet {
	if a.Is4() {
		return ipNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
	}
	return ipNet(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
}

func cmdDel(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	if err := withNAT(func(c *nftables.Conn) error { return removePortMappings(c, isID(args.ContainerID)) }); err != nil {
		return err
	}
	if err := deleteLink(hostVethName(args.ContainerID, args.IfName)); err != nil {
		return err
	}
	// Deleting the host side removed the pair; an interface of that name
	// still in the pod is one an earlier, interrupted ADD left.
	if args.Netns != "" {
		err := ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
			return deleteVeth(args.IfName)
		})
		var gone ns.NSPathNotExistErr
		var unmounted ns.NSPathNotNSErr
		if err != nil && !errors.As(err, &gone) && !errors.As(err, &unmounted) {
			return err
		}
	}
	store, err := OpenStore(conf.DataDir, conf.Name, conf.Prefix())
	if err != nil {
		return err
	}
	return store.Release(args.ContainerID, args.IfName)
}

func cmdCheck(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	store, err := OpenStore(conf.DataDir, conf.Name, conf.Prefix())
	if err != nil {
		return err
	}
	a, ok, err := store.Lookup(args.ContainerID, args.IfName)
	if err != nil {
		return err
	}
	if !ok {
		return types.NewError(types.ErrUnknownContainer, fmt.Sprintf("no address allocated to %s/%s", args.ContainerID, args.IfName), "")
	}
	addr := netip.PrefixFrom(a, conf.Prefix().Bits())
	if conf.PrevResult != nil {
		prev, err := current.NewResultFromResult(conf.PrevResult)
		if err != nil {
			return fmt.Errorf("convert prevResult: %w", err)
		}
		if err := prevHasAddr(prev, args.IfName, addr); err != nil {
			return err
		}
	}
	gw := gatewayPrefix(conf)
	if err := checkHost(conf.Bridge, gw, hostVethName(args.ContainerID, args.IfName)); err != nil {
		return err
	}
	return ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		return checkPod(args.IfName, addr, gw.Addr())
	})
}

// prevHasAddr checks that the recorded result gave ifname the allocated
// address.
func prevHasAddr(prev *current.Result, ifname string, addr netip.Prefix) error {
	for _, ipc := range prev.IPs {
		if ipc.Interface == nil || *ipc.Interface < 0 || *ipc.Interface >= len(prev.Interfaces) {
			continue
		}
		if prev.Interfaces[*ipc.Interface].Name != ifname {
			continue
		}
		got, ok := netip.AddrFromSlice(ipc.Address.IP)
		ones, _ := ipc.Address.Mask.Size()
		if ok && got.Unmap() == addr.Addr() && ones == addr.Bits() {
			return nil
		}
	}
	return fmt.Errorf("prevResult does not give %s address %s", ifname, addr)
}

func cmdGC(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	valid := make(map[string]bool, len(conf.ValidAttachments))
	for _, a := range conf.ValidAttachments {
		valid[a.ContainerID] = true
	}
	store, err := OpenStore(conf.DataDir, conf.Name, conf.Prefix())
	if err != nil {
		return err
	}
	freed, err := store.GC(func(id string) bool { return valid[id] })
	if err != nil {
		return err
	}
	errs := []error{withNAT(func(c *nftables.Conn) error {
		return removePortMappings(c, func(id string) bool { return !valid[id] })
	})}
	for _, a := range freed {
		if a.ContainerID == "" {
			continue
		}
		errs = append(errs, deleteLink(hostVethName(a.ContainerID, a.IfName)))
	}
	return errors.Join(errs...)
}

func cmdStatus(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	store, err := OpenStore(conf.DataDir, conf.Name, conf.Prefix())
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, err.Error(), "")
	}
	all, err := store.Allocations()
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, err.Error(), "")
	}
	if len(all) >= store.Capacity() {
		return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("subnet %s: %v", conf.Prefix(), ErrExhausted), "")
	}
	return nil
}
