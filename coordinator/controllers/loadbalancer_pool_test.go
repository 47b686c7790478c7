package controllers

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseLoadBalancerPool_accepts(t *testing.T) {
	tests := []struct {
		in, want string
		has      []string
		hasNot   []string
	}{
		{"", "", nil, []string{"10.0.0.1"}},
		{"  ", "", nil, nil},
		{"10.0.0.0/30", "10.0.0.0-10.0.0.3", []string{"10.0.0.0", "10.0.0.3"}, []string{"10.0.0.4", "9.255.255.255"}},
		{"10.0.0.5", "10.0.0.5", []string{"10.0.0.5"}, []string{"10.0.0.6"}},
		{"10.0.0.5/32", "10.0.0.5", []string{"10.0.0.5"}, nil},
		{" 10.0.0.10 - 10.0.0.12 , 192.168.1.0/31", "10.0.0.10-10.0.0.12,192.168.1.0-192.168.1.1",
			[]string{"10.0.0.11", "192.168.1.1"}, []string{"10.0.0.13", "192.168.1.2"}},
		{"fd00::/126", "fd00::-fd00::3", []string{"fd00::3"}, []string{"fd00::4", "0.0.0.3"}},
		{"fd00::/64", "fd00::-fd00::ffff:ffff:ffff:ffff", []string{"fd00::1:2"}, []string{"fd00:0:0:1::"}},
		{"::ffff:10.0.0.1-::ffff:10.0.0.2", "10.0.0.1-10.0.0.2", []string{"10.0.0.2", "::ffff:10.0.0.1"}, nil},
	}
	for _, tt := range tests {
		p, err := ParseLoadBalancerPool(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("%q: String() = %q, want %q", tt.in, got, tt.want)
		}
		for _, a := range tt.has {
			if !p.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q does not contain %s", tt.in, a)
			}
		}
		for _, a := range tt.hasNot {
			if p.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%q contains %s", tt.in, a)
			}
		}
	}
}

func TestParseLoadBalancerPool_rejects(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.0/24,", `entry 2 "": empty`},
		{"10.0.0.1/24", "host bits are set: did you mean 10.0.0.0/24?"},
		{"10.0.0.0/33", `entry 1 "10.0.0.0/33"`},
		{"10.0.0.9-10.0.0.1", "10.0.0.1 comes before 10.0.0.9"},
		{"10.0.0.1-fd00::1", "different families"},
		{"10.0.0.0/24,10.0.0.200-10.0.1.5", `entry 2 "10.0.0.200-10.0.1.5" overlaps 10.0.0.0-10.0.0.255`},
		{"fe80::1%eth0", "zoned"},
		{"pool-a", `entry 1 "pool-a"`},
		{"10.0.0.1-", `entry 1 "10.0.0.1-"`},
	}
	for _, tt := range tests {
		_, err := ParseLoadBalancerPool(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestLoadBalancerPool_first(t *testing.T) {
	p, err := ParseLoadBalancerPool("10.0.0.8-10.0.0.9,fd00::/120,10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	taken := map[netip.Addr]bool{}
	var got []string
	for {
		a, ok := p.first(32, func(a netip.Addr) bool { return taken[a] })
		if !ok {
			break
		}
		taken[a] = true
		got = append(got, a.String())
	}
	if strings.Join(got, " ") != "10.0.0.8 10.0.0.9 10.0.0.1" {
		t.Fatalf("IPv4 order %v", got)
	}
	if a, ok := p.first(128, func(a netip.Addr) bool { return taken[a] }); !ok || a.String() != "fd00::" {
		t.Fatalf("IPv6 first %v %v", a, ok)
	}
	// A range ending at the last address of the family ends the walk.
	top, _ := ParseLoadBalancerPool("255.255.255.255")
	if _, ok := top.first(32, func(netip.Addr) bool { return true }); ok {
		t.Fatal("a full pool had a free address")
	}
}

func FuzzParseLoadBalancerPool(f *testing.F) {
	for _, s := range []string{"", "10.0.0.0/24", "10.0.0.1-10.0.0.9,fd00::/64", "1.2.3.4", "a-b", ",", "::/0", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseLoadBalancerPool(s)
		if err != nil {
			return
		}
		again, err := ParseLoadBalancerPool(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("%q: String() %q does not parse back: %v", s, p.String(), err)
		}
		for _, r := range p.ranges {
			if !p.Contains(r.first) || !p.Contains(r.last) {
				t.Fatalf("%q does not contain its own range %s", s, r)
			}
		}
	})
}
