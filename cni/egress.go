package cni

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// NATTable is the nftables table (family ip) holding the node's pod NAT:
// egress masquerade and hostPort DNAT. Nothing outside it is touched.
const NATTable = "keel"

// Chains of NATTable.
const (
	// chainEgress masquerades pod traffic leaving the cluster network.
	chainEgress = "egress"
	// chainPrerouting and chainOutput send traffic to a local address
	// (from outside and from the node itself) through chainHostPorts.
	chainPrerouting = "prerouting"
	chainOutput     = "output"
	// chainHostPorts holds one DNAT rule per mapped port, tagged with
	// the pod's container ID.
	chainHostPorts = "hostports"
	// chainHostPortsMasq masquerades DNATed connections from the node's
	// loopback or from a pod of the node, so replies come back through
	// the node.
	chainHostPortsMasq = "hostports-masq"
)

// setNodes is the set of NATTable holding the cluster's node addresses:
// pod traffic to them is not masqueraded, so a node sees which pod
// called it.
const setNodes = "nodes"

// loopbackNet is 127.0.0.0/8.
var loopbackNet = netip.MustParsePrefix("127.0.0.0/8")

// natRule is one rule to add to a chain of NATTable.
type natRule struct {
	Chain string
	// Tag is the rule's comment: what it belongs to.
	Tag   string
	Exprs []expr.Any
}

// SetupEgress masquerades traffic from the node's pod CIDR to the node's
// own address, unless it goes to clusterCIDR (pods of other nodes keep
// seeing the pod's address), to the node itself or to another node of
// the cluster (the addresses SetNodeAddrs keeps). An empty clusterCIDR
// means the pod CIDR alone. It creates NATTable and its chains if
// missing, replaces the egress rule atomically, and turns IPv4
// forwarding on. Calling it again with the same CIDRs changes nothing.
func SetupEgress(podCIDR, clusterCIDR string) error {
	rules, err := egressRules(podCIDR, clusterCIDR)
	if err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("egress: turn on IPv4 forwarding: %w", err)
	}
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("egress: open nftables: %w", err)
	}
	return setupEgress(conn, rules)
}

func setupEgress(conn *nftables.Conn, rules []natRule) error {
	t, err := addNATTable(conn)
	if err != nil {
		return fmt.Errorf("egress: %w", err)
	}
	conn.FlushChain(natChains(t)[chainEgress])
	addRules(conn, t, rules)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("egress: install nftables table %s: %w", NATTable, err)
	}
	return nil
}

// RemoveNAT deletes NATTable with every rule in it: egress masquerade
// and hostPort mappings. A missing table is not an error.
func RemoveNAT() error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	return removeNAT(conn)
}

func removeNAT(conn *nftables.Conn) error {
	if _, err := conn.ListTableOfFamily(NATTable, nftables.TableFamilyIPv4); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("look up nftables table %s: %w", NATTable, err)
	}
	conn.DelTable(&nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4})
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %s: %w", NATTable, err)
	}
	return nil
}

// egressRules is the rule of chainEgress for a node's pod CIDR inside a
// cluster CIDR.
func egressRules(podCIDR, clusterCIDR string) ([]natRule, error) {
	pod, err := parseSubnet(podCIDR)
	if err != nil {
		return nil, fmt.Errorf("egress: pod CIDR: %w", err)
	}
	cluster := pod
	if clusterCIDR != "" {
		if cluster, err = netip.ParsePrefix(clusterCIDR); err != nil {
			return nil, fmt.Errorf("egress: cluster CIDR %q: %w", clusterCIDR, err)
		}
		if cluster.Masked() != cluster {
			return nil, fmt.Errorf("egress: cluster CIDR %q has host bits set (did you mean %s?)", clusterCIDR, cluster.Masked())
		}
	}
	if !pod.Addr().Is4() || !cluster.Addr().Is4() {
		return nil, fmt.Errorf("egress: pod CIDR %s, cluster CIDR %s: only IPv4 is supported", pod, cluster)
	}
	if cluster.Bits() > pod.Bits() || !cluster.Contains(pod.Addr()) {
		return nil, fmt.Errorf("egress: pod CIDR %s is not inside cluster CIDR %s", pod, cluster)
	}
	exprs := append(matchPrefix(offsetSaddr, pod, true), matchPrefix(offsetDaddr, cluster, false)...)
	exprs = append(exprs,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offsetDaddr, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: setNodes, Invert: true},
		&expr.Masq{})
	return []natRule{{Chain: chainEgress, Tag: "egress " + pod.String(), Exprs: exprs}}, nil
}

// Offsets of the addresses in the IPv4 header.
const (
	offsetSaddr = 12
	offsetDaddr = 16
)

// matchPrefix matches (or, with eq false, excludes) an IPv4 header
// address inside p.
func matchPrefix(offset uint32, p netip.Prefix, eq bool) []expr.Any {
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	m := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// matchAddr matches an IPv4 header address.
func matchAddr(offset uint32, a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

// matchOifname matches the output interface's name.
func matchOifname(name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// ctStatusDNAT is the conntrack status bit of a destination-NATed
// connection (IPS_DST_NAT).
const ctStatusDNAT uint32 = 1 << 5

// matchDNATed matches packets of a destination-NATed connection.
func matchDNATed() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ctStatusDNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// natChains are NATTable's chains.
func natChains(t *nftables.Table) map[string]*nftables.Chain {
	base := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio}
	}
	return map[string]*nftables.Chain{
		chainEgress:        base(chainEgress, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
		chainHostPortsMasq: base(chainHostPortsMasq, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
		chainPrerouting:    base(chainPrerouting, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest),
		chainOutput:        base(chainOutput, nftables.ChainHookOutput, nftables.ChainPriorityNATDest),
		chainHostPorts:     {Name: chainHostPorts, Table: t},
	}
}

// addNATTable queues the creation of NATTable, its chains and its node
// address set; creating what exists already is not an error.
func addNATTable(conn *nftables.Conn) (*nftables.Table, error) {
	t := conn.AddTable(&nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4})
	chains := natChains(t)
	for _, name := range []string{chainHostPorts, chainPrerouting, chainOutput, chainHostPortsMasq, chainEgress} {
		conn.AddChain(chains[name])
	}
	if err := conn.AddSet(nodeSet(t), nil); err != nil {
		return nil, fmt.Errorf("set %s of table %s: %w", setNodes, NATTable, err)
	}
	return t, nil
}

// nodeSet is NATTable's set of node addresses.
func nodeSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: setNodes, KeyType: nftables.TypeIPAddr}
}

// SetNodeAddrs makes the cluster's node addresses (IPv4 ones; others
// are left out) those that pod traffic is not masqueraded to, replacing
// the set in one transaction. It creates NATTable with the set alone if
// missing: no chain, so no hook and no connection tracking, until
// SetupEgress or a host port adds them.
func SetNodeAddrs(addrs []netip.Addr) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("node addresses: open nftables: %w", err)
	}
	t := conn.AddTable(&nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4})
	set := nodeSet(t)
	if err := conn.AddSet(set, nil); err != nil {
		return fmt.Errorf("node addresses: %w", err)
	}
	conn.FlushSet(set)
	var elems []nftables.SetElement
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() && !seen[a] {
			seen[a] = true
			elems = append(elems, nftables.SetElement{Key: a.AsSlice()})
		}
	}
	if len(elems) > 0 {
		if err := conn.SetAddElements(set, elems); err != nil {
			return fmt.Errorf("node addresses: %w", err)
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("node addresses: update set %s of table %s: %w", setNodes, NATTable, err)
	}
	return nil
}

// addRules queues rules.
func addRules(conn *nftables.Conn, t *nftables.Table, rules []natRule) {
	chains := natChains(t)
	for _, r := range rules {
		conn.AddRule(&nftables.Rule{Table: t, Chain: chains[r.Chain], Exprs: r.Exprs,
			UserData: userdata.AppendString(nil, userdata.TypeComment, r.Tag)})
	}
}

// ruleTag is a rule's comment.
func ruleTag(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}
