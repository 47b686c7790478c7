package cni

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dnatFlow is what one hostPort rule sends where: connections of Proto
// to HostPort go to PodIP.
type dnatFlow struct {
	Proto    byte
	HostPort uint16
	PodIP    netip.Addr
}

// dnatOfRule reads back the mapping of a rule hostPortRules made (as the
// kernel returns it); ok is false for any other rule.
func dnatOfRule(exprs []expr.Any) (f dnatFlow, ok bool) {
	var last expr.Any
	var protoSeen, portSeen, natSeen bool
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Cmp:
			switch prev := last.(type) {
			case *expr.Meta:
				if prev.Key == expr.MetaKeyL4PROTO && len(e.Data) == 1 {
					f.Proto, protoSeen = e.Data[0], true
				}
			case *expr.Payload:
				if prev.Base == expr.PayloadBaseTransportHeader && prev.Offset == 2 && len(e.Data) == 2 {
					f.HostPort, portSeen = binary.BigEndian.Uint16(e.Data), true
				}
			}
		case *expr.Immediate:
			if a, isAddr := netip.AddrFromSlice(e.Data); isAddr && e.Register == 1 && len(e.Data) == 4 {
				f.PodIP = a
			}
		case *expr.NAT:
			natSeen = e.Type == expr.NATTypeDestNAT
		}
		last = e
	}
	return f, protoSeen && portSeen && natSeen && f.PodIP.IsValid()
}

// dnatOfRules are the mappings of the hostPort rules among rules.
func dnatOfRules(rules []*nftables.Rule) []dnatFlow {
	var out []dnatFlow
	for _, r := range rules {
		if f, ok := dnatOfRule(r.Exprs); ok {
			out = append(out, f)
		}
	}
	return out
}

// forgetDNAT deletes the connection tracking entries of connections the
// flows sent to their pods, so that a host port given to another pod
// does not keep sending an old connection (a UDP stream that never
// idles out) to the pod that had it. It returns how many it deleted.
func forgetDNAT(flows []dnatFlow) (uint, error) {
	if len(flows) == 0 {
		return 0, nil
	}
	var filters []netlink.CustomConntrackFilter
	for _, f := range flows {
		cf := &netlink.ConntrackFilter{}
		err := errors.Join(
			cf.AddProtocol(f.Proto),
			cf.AddPort(netlink.ConntrackOrigDstPort, f.HostPort),
			cf.AddIP(netlink.ConntrackReplySrcIP, f.PodIP.AsSlice()),
		)
		if err != nil {
			return 0, fmt.Errorf("conntrack filter for host port %d to %s: %w", f.HostPort, f.PodIP, err)
		}
		filters = append(filters, cf)
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
	if err != nil {
		return n, fmt.Errorf("delete conntrack entries of removed host ports: %w", err)
	}
	return n, nil
}
