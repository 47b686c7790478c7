// Package netnstest wires network namespaces together for the tests of
// the pod network and its benchmarks.
package netnstest

import (
	"fmt"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// In runs f inside namespace n, failing tb when it returns an error.
func In(tb testing.TB, n ns.NetNS, f func() error) {
	tb.Helper()
	if err := n.Do(func(ns.NetNS) error { return f() }); err != nil {
		tb.Fatalf("in %s: %v", n.Path(), err)
	}
}

// Plug joins namespaces x and y with a veth: xName with address xAddr
// (CIDR form) in x, yName with yAddr in y, both up.
func Plug(tb testing.TB, x, y ns.NetNS, xName, yName, xAddr, yAddr string) {
	tb.Helper()
	In(tb, x, func() error {
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: xName}, PeerName: yName,
			PeerNamespace: netlink.NsFd(int(y.Fd()))})
	})
	for _, end := range []struct {
		n          ns.NetNS
		name, addr string
	}{{x, xName, xAddr}, {y, yName, yAddr}} {
		In(tb, end.n, func() error {
			l, err := netlink.LinkByName(end.name)
			if err != nil {
				return err
			}
			addr, err := netlink.ParseAddr(end.addr)
			if err != nil {
				return err
			}
			if err := netlink.AddrAdd(l, addr); err != nil {
				return fmt.Errorf("address %s on %s: %w", end.addr, end.name, err)
			}
			return netlink.LinkSetUp(l)
		})
	}
}
