package controllers

import (
	"fmt"
	"net/netip"
	"strings"
)

// LoadBalancerPool is the set of addresses LoadBalancer services are given:
// ranges of IPv4 or IPv6 addresses, in the order they were configured.
// The zero value is an empty pool.
type LoadBalancerPool struct {
	ranges []addrRange
}

// addrRange is every address from first to last, both included.
type addrRange struct {
	first, last netip.Addr
}

func (r addrRange) contains(a netip.Addr) bool {
	return a.BitLen() == r.first.BitLen() && r.first.Compare(a) <= 0 && a.Compare(r.last) <= 0
}

func (r addrRange) overlaps(o addrRange) bool {
	return r.first.BitLen() == o.first.BitLen() && r.first.Compare(o.last) <= 0 && o.first.Compare(r.last) <= 0
}

func (r addrRange) String() string {
	if r.first == r.last {
		return r.first.String()
	}
	return r.first.String() + "-" + r.last.String()
}

// ParseLoadBalancerPool parses a comma-separated list of CIDRs
// ("192.168.1.240/28", every address in it) and ranges
// ("192.168.1.240-192.168.1.250", both ends included; a single address is
// a range of one). An empty string is an empty pool. Entries may not
// overlap.
func ParseLoadBalancerPool(s string) (LoadBalancerPool, error) {
	var p LoadBalancerPool
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		r, err := parseAddrRange(entry)
		if err != nil {
			return LoadBalancerPool{}, fmt.Errorf("load balancer pool entry %d %q: %w", i+1, entry, err)
		}
		for _, o := range p.ranges {
			if r.overlaps(o) {
				return LoadBalancerPool{}, fmt.Errorf("load balancer pool entry %d %q overlaps %s", i+1, entry, o)
			}
		}
		p.ranges = append(p.ranges, r)
	}
	return p, nil
}

func parseAddrRange(s string) (addrRange, error) {
	switch {
	case s == "":
		return addrRange{}, fmt.Errorf("empty: want a CIDR (10.0.0.0/28) or a range (10.0.0.1-10.0.0.9)")
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return addrRange{}, err
		}
		if p.Addr().Zone() != "" {
			return addrRange{}, fmt.Errorf("zoned addresses are not allowed")
		}
		if p.Addr().Is4In6() {
			return addrRange{}, fmt.Errorf("an IPv4-mapped IPv6 prefix: write the IPv4 CIDR")
		}
		if p.Masked() != p {
			return addrRange{}, fmt.Errorf("host bits are set: did you mean %s?", p.Masked())
		}
		return addrRange{first: p.Addr(), last: lastOf(p)}, nil
	case strings.Contains(s, "-"):
		lo, hi, _ := strings.Cut(s, "-")
		first, err := parsePoolAddr(strings.TrimSpace(lo))
		if err != nil {
			return addrRange{}, err
		}
		last, err := parsePoolAddr(strings.TrimSpace(hi))
		if err != nil {
			return addrRange{}, err
		}
		if first.BitLen() != last.BitLen() {
			return addrRange{}, fmt.Errorf("%s and %s are of different families", first, last)
		}
		if last.Less(first) {
			return addrRange{}, fmt.Errorf("%s comes before %s", last, first)
		}
		return addrRange{first: first, last: last}, nil
	default:
		a, err := parsePoolAddr(s)
		if err != nil {
			return addrRange{}, err
		}
		return addrRange{first: a, last: a}, nil
	}
}

func parsePoolAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("zoned addresses are not allowed")
	}
	return a.Unmap(), nil
}

// lastOf is the highest address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for bit := p.Bits(); bit < len(b)*8; bit++ {
		b[bit/8] |= 0x80 >> (bit % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// String is the pool in the form ParseLoadBalancerPool reads.
func (p LoadBalancerPool) String() string {
	parts := make([]string, len(p.ranges))
	for i, r := range p.ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Empty reports whether the pool has no address.
func (p LoadBalancerPool) Empty() bool { return len(p.ranges) == 0 }

// Contains reports whether a is in the pool.
func (p LoadBalancerPool) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, r := range p.ranges {
		if r.contains(a) {
			return true
		}
	}
	return false
}

// first is the first address of the family (32 or 128 bits), in
// configured order, that is not taken, or false when every one is. The
// walk ends at the first free address, so it visits at most one address
// more than are taken, however large the ranges.
func (p LoadBalancerPool) first(bits int, taken func(netip.Addr) bool) (netip.Addr, bool) {
	for _, r := range p.ranges {
		if r.first.BitLen() != bits {
			continue
		}
		for a := r.first; a.IsValid() && a.Compare(r.last) <= 0; a = a.Next() {
			if !taken(a) {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}
