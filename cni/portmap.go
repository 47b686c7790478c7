package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// PortMapping is one entry of the portMappings capability, as runtimes
// pass it in runtimeConfig: traffic to the node's HostPort (on HostIP,
// else on every node address) goes to the pod's ContainerPort.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
}

// RuntimeConfig carries the capabilities the plugin declares.
type RuntimeConfig struct {
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// hostPort is a validated PortMapping.
type hostPort struct {
	Proto         byte
	HostPort      uint16
	ContainerPort uint16
	// HostIP is unset for every local address.
	HostIP netip.Addr
}

// parsePortMappings validates port mappings: ports 1-65535, protocol tcp
// or udp (any case, default tcp), an optional IPv4 host IP.
func parsePortMappings(pms []PortMapping) ([]hostPort, error) {
	var out []hostPort
	var errs []error
	for i, pm := range pms {
		hp, err := parsePortMapping(pm)
		if err != nil {
			errs = append(errs, fmt.Errorf("portMappings[%d]: %w", i, err))
			continue
		}
		out = append(out, hp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func parsePortMapping(pm PortMapping) (hostPort, error) {
	var hp hostPort
	switch strings.ToLower(pm.Protocol) {
	case "", "tcp":
		hp.Proto = unix.IPPROTO_TCP
	case "udp":
		hp.Proto = unix.IPPROTO_UDP
	default:
		return hp, fmt.Errorf("protocol %q: only tcp and udp are supported", pm.Protocol)
	}
	if pm.HostPort < 1 || pm.HostPort > 65535 {
		return hp, fmt.Errorf("hostPort %d is outside 1-65535", pm.HostPort)
	}
	if pm.ContainerPort < 1 || pm.ContainerPort > 65535 {
		return hp, fmt.Errorf("containerPort %d is outside 1-65535", pm.ContainerPort)
	}
	hp.HostPort, hp.ContainerPort = uint16(pm.HostPort), uint16(pm.ContainerPort)
	if pm.HostIP != "" {
		a, err := netip.ParseAddr(pm.HostIP)
		if err != nil {
			return hp, fmt.Errorf("hostIP: %w", err)
		}
		a = a.Unmap()
		if !a.Is4() {
			return hp, fmt.Errorf("hostIP %s: only IPv4 is supported", pm.HostIP)
		}
		if !a.IsUnspecified() {
			hp.HostIP = a
		}
	}
	return hp, nil
}

// podTag is the comment of the DNAT rules of a container ID.
func podTag(containerID string) string { return "pod " + containerID }

// podOfTag is the container ID a rule's comment names.
func podOfTag(tag string) (string, bool) { return strings.CutPrefix(tag, "pod ") }

// hostPortRules are the DNAT rules sending a pod's host ports to podIP.
func hostPortRules(containerID string, podIP netip.Addr, ports []hostPort) []natRule {
	var out []natRule
	for _, p := range ports {
		var e []expr.Any
		if p.HostIP.IsValid() {
			e = append(e, matchAddr(offsetDaddr, p.HostIP)...)
		}
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p.Proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
			&expr.Immediate{Register: 1, Data: podIP.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
		out = append(out, natRule{Chain: chainHostPorts, Tag: podTag(containerID), Exprs: e})
	}
	return out
}

// hostPortBaseRules send traffic to local addresses, from outside and
// from the node, through chainHostPorts, and masquerade DNATed
// connections towards the bridge that come from the node's loopback or
// from the bridge's subnet (a pod reaching a host port of the node), so
// that replies pass the node's conntrack.
func hostPortBaseRules(bridge string, subnet netip.Prefix) []natRule {
	toLocal := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: chainHostPorts},
	}
	masq := func(from netip.Prefix) []expr.Any {
		e := append(matchOifname(bridge), matchDNATed()...)
		e = append(e, matchPrefix(offsetSaddr, from, true)...)
		return append(e, &expr.Masq{})
	}
	return []natRule{
		{Chain: chainPrerouting, Tag: "hostports", Exprs: toLocal},
		{Chain: chainOutput, Tag: "hostports", Exprs: toLocal},
		{Chain: chainHostPortsMasq, Tag: "hostports from loopback", Exprs: masq(loopbackNet)},
		{Chain: chainHostPortsMasq, Tag: "hostports from pods", Exprs: masq(subnet)},
	}
}

// rulesToDelete picks the rules whose comment names a pod that drop
// selects.
func rulesToDelete(rules []*nftables.Rule, drop func(containerID string) bool) []*nftables.Rule {
	var out []*nftables.Rule
	for _, r := range rules {
		if id, ok := podOfTag(ruleTag(r)); ok && drop(id) {
			out = append(out, r)
		}
	}
	return out
}

// addPortMappings installs a pod's host ports (replacing any it had),
// with the base rules for bridge and subnet. Connections to the node's
// loopback addresses need route_localnet on the bridge, and from outside
// need IPv4 forwarding: both are turned on.
func addPortMappings(conn *nftables.Conn, bridge string, subnet netip.Prefix, containerID string, podIP netip.Addr, ports []hostPort) error {
	if !podIP.Is4() {
		return fmt.Errorf("host ports of %s: pod address %s: only IPv4 is supported", containerID, podIP)
	}
	for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", filepath.Join("/proc/sys/net/ipv4/conf", bridge, "route_localnet")} {
		if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("host ports of %s: %w", containerID, err)
		}
	}
	t, err := addNATTable(conn)
	if err != nil {
		return fmt.Errorf("host ports of %s: %w", containerID, err)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("host ports of %s: create nftables table %s: %w", containerID, NATTable, err)
	}
	chains := natChains(t)
	old, err := conn.GetRules(t, chains[chainHostPorts])
	if err != nil {
		return fmt.Errorf("host ports of %s: list rules: %w", containerID, err)
	}
	for _, c := range []string{chainPrerouting, chainOutput, chainHostPortsMasq} {
		conn.FlushChain(chains[c])
	}
	addRules(conn, t, hostPortBaseRules(bridge, subnet))
	replaced := rulesToDelete(old, func(id string) bool { return id == containerID })
	for _, r := range replaced {
		if err := conn.DelRule(r); err != nil {
			return fmt.Errorf("host ports of %s: %w", containerID, err)
		}
	}
	rules := hostPortRules(containerID, podIP, ports)
	addRules(conn, t, rules)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("host ports of %s: install rules: %w", containerID, err)
	}
	// Connections through mappings the pod no longer has are forgotten;
	// those through mappings it keeps go on.
	kept := map[dnatFlow]bool{}
	for _, r := range rules {
		if f, ok := dnatOfRule(r.Exprs); ok {
			kept[f] = true
		}
	}
	var gone []dnatFlow
	for _, f := range dnatOfRules(replaced) {
		if !kept[f] {
			gone = append(gone, f)
		}
	}
	if _, err := forgetDNAT(gone); err != nil {
		return fmt.Errorf("host ports of %s: %w", containerID, err)
	}
	return nil
}

// removePortMappings deletes the host port rules of the pods drop
// selects; without NATTable there is nothing to delete.
func removePortMappings(conn *nftables.Conn, drop func(containerID string) bool) error {
	t := &nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4}
	rules, err := conn.GetRules(t, natChains(t)[chainHostPorts])
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPROTONOSUPPORT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list host port rules: %w", err)
	}
	stale := rulesToDelete(rules, drop)
	if len(stale) == 0 {
		return nil
	}
	for _, r := range stale {
		if err := conn.DelRule(r); err != nil {
			return fmt.Errorf("remove host port rule: %w", err)
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("remove host port rules: %w", err)
	}
	_, err = forgetDNAT(dnatOfRules(stale))
	return err
}

// runtimeConfHostPorts reads and validates runtimeConfig.portMappings
// from a plugin's stdin config.
func runtimeConfHostPorts(stdin []byte) ([]hostPort, error) {
	var conf struct {
		RuntimeConfig RuntimeConfig `json:"runtimeConfig"`
	}
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return nil, fmt.Errorf("parse runtimeConfig: %w", err)
	}
	ports, err := parsePortMappings(conf.RuntimeConfig.PortMappings)
	if err != nil {
		return nil, fmt.Errorf("runtimeConfig: %w", err)
	}
	return ports, nil
}
