package clusterdns

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
)

// ensureLink makes the dummy link name (when missing) holding addr alone
// as a host address, up. Addresses left from an earlier --cluster-dns go.
// Where the kernel has no dummy driver the link is a bridge without ports.
func ensureLink(name string, addr netip.Addr) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("link %s: %w", name, err)
		}
		attrs := netlink.LinkAttrs{Name: name}
		err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: attrs})
		if errors.Is(err, syscall.EOPNOTSUPP) {
			// A kernel built without the dummy driver: a bridge without
			// ports holds a local address just as well.
			err = netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs})
		}
		if err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("add link %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("link %s: %w", name, err)
		}
	}
	if t := l.Type(); t != "dummy" && t != "bridge" {
		return fmt.Errorf("link %s exists and is a %s, not a dummy link; remove it or choose another address", name, t)
	}
	want := netip.PrefixFrom(addr, addr.BitLen())
	have, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("addresses of %s: %w", name, err)
	}
	found := false
	for _, a := range have {
		if a.IP.IsLinkLocalUnicast() && a.IP.To4() == nil {
			continue
		}
		p, ok := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if ok && netip.PrefixFrom(p.Unmap(), ones) == want {
			found = true
			continue
		}
		if err := netlink.AddrDel(l, &a); err != nil {
			return fmt.Errorf("remove %s from %s: %w", a.IPNet, name, err)
		}
	}
	if !found {
		a, err := netlink.ParseAddr(want.String())
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, a); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("add %s to %s: %w", want, name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}
