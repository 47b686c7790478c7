package cni

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestEgressRules(t *testing.T) {
	tests := []struct {
		name, pod, cluster string
		wantExcluded       string
		wantErr            string
	}{
		{name: "inside the cluster", pod: "10.244.1.0/24", cluster: "10.244.0.0/16", wantExcluded: "10.244.0.0/16"},
		{name: "no cluster CIDR", pod: "10.244.1.0/24", wantExcluded: "10.244.1.0/24"},
		{name: "cluster is the pod CIDR", pod: "10.244.1.0/24", cluster: "10.244.1.0/24", wantExcluded: "10.244.1.0/24"},
		{name: "outside the cluster", pod: "10.245.1.0/24", cluster: "10.244.0.0/16", wantErr: "not inside cluster CIDR"},
		{name: "cluster smaller than pod", pod: "10.244.0.0/16", cluster: "10.244.1.0/24", wantErr: "not inside"},
		{name: "bad pod CIDR", pod: "10.244.1.1/24", wantErr: "pod CIDR"},
		{name: "bad cluster CIDR", pod: "10.244.1.0/24", cluster: "10.244.0.0/33", wantErr: "cluster CIDR"},
		{name: "cluster host bits", pod: "10.244.1.0/24", cluster: "10.244.0.1/16", wantErr: "host bits"},
		{name: "ipv6", pod: "fd00:1::/64", cluster: "fd00::/48", wantErr: "only IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := egressRules(tt.pod, tt.cluster)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(rules) != 1 || rules[0].Chain != chainEgress {
				t.Fatalf("= %+v, %v", rules, err)
			}
			e := rules[0].Exprs
			src, excl := netip.MustParsePrefix(tt.pod), netip.MustParsePrefix(tt.wantExcluded)
			// saddr in pod CIDR, daddr not in the excluded CIDR, masquerade.
			if c := e[2].(*expr.Cmp); c.Op != expr.CmpOpEq || !slices.Equal(c.Data, src.Addr().AsSlice()) {
				t.Errorf("source match %+v, want == %s", c, src)
			}
			if p := e[3].(*expr.Payload); p.Offset != offsetDaddr {
				t.Errorf("second match at offset %d, want daddr", p.Offset)
			}
			if m := e[4].(*expr.Bitwise); !slices.Equal(m.Mask, net.CIDRMask(excl.Bits(), 32)) {
				t.Errorf("destination mask %v, want /%d", m.Mask, excl.Bits())
			}
			if c := e[5].(*expr.Cmp); c.Op != expr.CmpOpNeq || !slices.Equal(c.Data, excl.Addr().AsSlice()) {
				t.Errorf("destination match %+v, want != %s", c, excl)
			}
			if _, ok := e[len(e)-1].(*expr.Masq); !ok {
				t.Errorf("rule ends in %T, want masquerade", e[len(e)-1])
			}
		})
	}
}

// natWorld is a node netns with a pod attached by the plugin, and an
// "outside" netns reached through a veth: the node is 192.0.2.1, outside
// 192.0.2.2, which also holds 10.97.1.2, an address of another node's
// pod CIDR (10.97.1.0/24) routed through it.
type natWorld struct {
	tn      *testNet
	outside ns.NetNS
	pod     ns.NetNS
	podIP   net.IP
}

const (
	worldNodeIP    = "192.0.2.1"
	worldOutsideIP = "192.0.2.2"
	worldRemotePod = "10.97.1.2"
	worldCluster   = "10.97.0.0/16"
	worldPodCIDR   = "10.97.0.0/24"
)

func newNATWorld(t *testing.T, runtimeConfig string) *natWorld {
	t.Helper()
	w := &natWorld{tn: newTestNet(t, worldPodCIDR), outside: newNS(t), pod: newNS(t)}
	err := w.tn.node.Do(func(ns.NetNS) error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0"}, PeerName: "up0-peer"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		peer, err := netlink.LinkByName("up0-peer")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetNsFd(peer, int(w.outside.Fd())); err != nil {
			return err
		}
		if err := upWithAddr("up0", worldNodeIP+"/24"); err != nil {
			return err
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		_, remote, _ := net.ParseCIDR("10.97.1.0/24")
		return netlink.RouteAdd(&netlink.Route{Dst: remote, Gw: net.ParseIP(worldOutsideIP)})
	})
	if err != nil {
		t.Fatalf("node uplink: %v", err)
	}
	err = w.outside.Do(func(ns.NetNS) error {
		if err := upWithAddr("up0-peer", worldOutsideIP+"/24"); err != nil {
			return err
		}
		if err := upWithAddr("lo", worldRemotePod+"/32"); err != nil {
			return err
		}
		_, pods, _ := net.ParseCIDR(worldPodCIDR)
		return netlink.RouteAdd(&netlink.Route{Dst: pods, Gw: net.ParseIP(worldNodeIP)})
	})
	if err != nil {
		t.Fatalf("outside netns: %v", err)
	}
	stdin := w.tn.conf("1.1.0")
	if runtimeConfig != "" {
		stdin = fmt.Appendf(stdin[:len(stdin)-1], `,"runtimeConfig":%s}`, runtimeConfig)
	}
	res, err := w.tn.run("ADD", "pod-1", w.pod.Path(), stdin)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	r, err := current.NewResultFromResult(res)
	if err != nil || len(r.IPs) != 1 {
		t.Fatalf("ADD: result %v, %v", res, err)
	}
	w.podIP = r.IPs[0].Address.IP
	return w
}

// upWithAddr adds addr to the link and sets it up.
func upWithAddr(name, addr string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	a, err := netlink.ParseAddr(addr)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(l, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, name, err)
	}
	return netlink.LinkSetUp(l)
}

// serveSource listens on ip:0 inside n and answers every connection with
// the address it came from.
func serveSource(t *testing.T, n ns.NetNS, ip string) string {
	t.Helper()
	var ln net.Listener
	if err := n.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(ip, "0"))
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", n.Path(), err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			_, _ = io.WriteString(c, host)
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

// sourceSeen dials addr from n and returns the source address the server
// saw.
func sourceSeen(n ns.NetNS, addr string) (string, error) {
	var seen string
	err := n.Do(func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		seen = string(b)
		return err
	})
	return seen, err
}

// natRules lists the rules of a chain of NATTable in n.
func natRules(t *testing.T, n ns.NetNS, chain string) []*nftables.Rule {
	t.Helper()
	var rules []*nftables.Rule
	err := n.Do(func(ns.NetNS) error {
		return withNAT(func(c *nftables.Conn) error {
			tbl := &nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4}
			var err error
			rules, err = c.GetRules(tbl, natChains(tbl)[chain])
			return err
		})
	})
	if err != nil {
		t.Fatalf("list %s rules: %v", chain, err)
	}
	return rules
}

// tableExists reports whether NATTable exists in n.
func tableExists(t *testing.T, n ns.NetNS) bool {
	t.Helper()
	var found bool
	err := n.Do(func(ns.NetNS) error {
		return withNAT(func(c *nftables.Conn) error {
			_, err := c.ListTableOfFamily(NATTable, nftables.TableFamilyIPv4)
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			found = err == nil
			return err
		})
	})
	if err != nil {
		t.Fatalf("look up table %s: %v", NATTable, err)
	}
	return found
}

func TestSetupEgress_masqueradesLeavingTraffic(t *testing.T) {
	w := newNATWorld(t, "")
	setup := func() error {
		return w.tn.node.Do(func(ns.NetNS) error { return SetupEgress(worldPodCIDR, worldCluster) })
	}
	for i := range 2 {
		if err := setup(); err != nil {
			t.Fatalf("SetupEgress #%d: %v", i+1, err)
		}
	}
	if rules := natRules(t, w.tn.node, chainEgress); len(rules) != 1 || ruleTag(rules[0]) != "egress "+worldPodCIDR {
		t.Fatalf("egress chain after two setups holds %d rules", len(rules))
	}

	seen, err := sourceSeen(w.pod, serveSource(t, w.outside, worldOutsideIP))
	if err != nil || seen != worldNodeIP {
		t.Fatalf("pod -> outside: source seen %q, %v; want the node's %s", seen, err, worldNodeIP)
	}
	seen, err = sourceSeen(w.pod, serveSource(t, w.outside, worldRemotePod))
	if err != nil || seen != w.podIP.String() {
		t.Fatalf("pod -> other node's pod: source seen %q, %v; want the pod's %s", seen, err, w.podIP)
	}
	seen, err = sourceSeen(w.pod, serveSource(t, w.tn.node, worldNodeIP))
	if err != nil || seen != w.podIP.String() {
		t.Fatalf("pod -> node: source seen %q, %v; want the pod's %s", seen, err, w.podIP)
	}

	// Once the outside machine is a node of the cluster, it sees the pod.
	outside := serveSource(t, w.outside, worldOutsideIP)
	for _, tt := range []struct {
		nodes []netip.Addr
		want  string
	}{
		{[]netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr(worldOutsideIP), netip.MustParseAddr("fd00::1")}, w.podIP.String()},
		{nil, worldNodeIP},
	} {
		if err := w.tn.node.Do(func(ns.NetNS) error { return SetNodeAddrs(tt.nodes) }); err != nil {
			t.Fatalf("SetNodeAddrs(%v): %v", tt.nodes, err)
		}
		seen, err = sourceSeen(w.pod, outside)
		if err != nil || seen != tt.want {
			t.Fatalf("pod -> outside, nodes %v: source seen %q, %v; want %s", tt.nodes, seen, err, tt.want)
		}
	}
	if err := setup(); err != nil {
		t.Fatalf("SetupEgress again: %v", err)
	}

	if err := w.tn.node.Do(func(ns.NetNS) error { return errorsJoin(RemoveNAT(), RemoveNAT()) }); err != nil {
		t.Fatalf("RemoveNAT twice: %v", err)
	}
	if tableExists(t, w.tn.node) {
		t.Fatal("RemoveNAT left the table")
	}
	seen, err = sourceSeen(w.pod, serveSource(t, w.outside, worldOutsideIP))
	if err != nil || seen != w.podIP.String() {
		t.Fatalf("pod -> outside after RemoveNAT: source seen %q, %v; want the pod's %s", seen, err, w.podIP)
	}
}

func TestPlugin_hostPorts(t *testing.T) {
	w := newNATWorld(t, `{"portMappings":[{"hostPort":18080,"containerPort":8080,"protocol":"tcp"},{"hostPort":18053,"containerPort":5353,"protocol":"udp"}]}`)
	var tcp net.Listener
	var udp net.PacketConn
	if err := w.pod.Do(func(ns.NetNS) error {
		var err error
		if tcp, err = net.Listen("tcp", ":8080"); err != nil {
			return err
		}
		udp, err = net.ListenPacket("udp", ":5353")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tcp.Close(); _ = udp.Close() })
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hi"))
			_ = c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = udp.WriteTo(append([]byte("re:"), buf[:n]...), from)
		}
	}()

	for _, c := range []struct {
		from ns.NetNS
		name string
		addr string
	}{
		{w.outside, "outside", worldNodeIP},
		{w.tn.node, "node", worldNodeIP},
		{w.tn.node, "node loopback", "127.0.0.1"},
	} {
		if err := dial(c.from, net.JoinHostPort(c.addr, "18080")); err != nil {
			t.Errorf("tcp %s -> %s:18080: %v", c.name, c.addr, err)
		}
	}
	if err := udpEcho(w.outside, net.JoinHostPort(worldNodeIP, "18053")); err != nil {
		t.Errorf("udp outside -> node:18053: %v", err)
	}
	if rules := natRules(t, w.tn.node, chainHostPorts); len(rules) != 2 {
		t.Fatalf("%d host port rules, want 2", len(rules))
	}

	// A repeated ADD replaces the pod's rules rather than adding more.
	stdin := fmt.Appendf(w.tn.conf("1.1.0")[:len(w.tn.conf("1.1.0"))-1], `,"runtimeConfig":{"portMappings":[{"hostPort":18080,"containerPort":8080}]}}`)
	if _, err := w.tn.run("ADD", "pod-1", w.pod.Path(), stdin); err != nil {
		t.Fatalf("repeated ADD: %v", err)
	}
	if rules := natRules(t, w.tn.node, chainHostPorts); len(rules) != 1 {
		t.Fatalf("%d host port rules after the repeated ADD, want 1", len(rules))
	}

	if _, err := w.tn.run("DEL", "pod-1", w.pod.Path(), w.tn.conf("1.1.0")); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if rules := natRules(t, w.tn.node, chainHostPorts); len(rules) != 0 {
		t.Fatalf("DEL left %d host port rules", len(rules))
	}
	if err := dial(w.outside, net.JoinHostPort(worldNodeIP, "18080")); err == nil {
		t.Fatal("host port still reaches the pod after DEL")
	}
	if err := w.tn.node.Do(func(ns.NetNS) error { return RemoveNAT() }); err != nil || tableExists(t, w.tn.node) {
		t.Fatalf("RemoveNAT: %v", err)
	}
	if _, err := w.tn.run("DEL", "pod-1", w.pod.Path(), w.tn.conf("1.1.0")); err != nil {
		t.Fatalf("DEL without the table: %v", err)
	}
}

// udpEcho sends a datagram from n to addr and checks the echo.
func udpEcho(n ns.NetNS, addr string) error {
	return n.Do(func(ns.NetNS) error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("x")); err != nil {
			return err
		}
		buf := make([]byte, 16)
		k, err := c.Read(buf)
		if err != nil {
			return err
		}
		if string(buf[:k]) != "re:x" {
			return fmt.Errorf("echo %q", buf[:k])
		}
		return nil
	})
}
