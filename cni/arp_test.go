package cni

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/keel-edge/keel/internal/netnstest"
)

func TestARPPacket_roundTrip(t *testing.T) {
	p := arpPacket{Op: arpRequest, SenderMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, SenderIP: netip.MustParseAddr("10.0.0.1"),
		TargetMAC: make(net.HardwareAddr, 6), TargetIP: netip.MustParseAddr("10.0.0.200")}
	b := p.marshal()
	if len(b) != arpLen {
		t.Fatalf("%d bytes", len(b))
	}
	// Ethernet pads short frames: trailing bytes are ignored.
	got, err := parseARP(append(b, make([]byte, 18)...))
	if err != nil {
		t.Fatal(err)
	}
	if got.Op != p.Op || got.SenderIP != p.SenderIP || got.TargetIP != p.TargetIP ||
		!bytes.Equal(got.SenderMAC, p.SenderMAC) || !bytes.Equal(got.TargetMAC, p.TargetMAC) {
		t.Fatalf("got %+v, want %+v", got, p)
	}
}

func TestParseARP_rejects(t *testing.T) {
	good := gratuitousARP(net.HardwareAddr{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.1")).marshal()
	tests := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"short", func(b []byte) []byte { return b[:27] }, "27 bytes"},
		{"token ring", func(b []byte) []byte { b[1] = 6; return b }, "hardware type 6"},
		{"IPv6", func(b []byte) []byte { b[2], b[3] = 0x86, 0xdd; return b }, "protocol 0x86dd"},
		{"lengths", func(b []byte) []byte { b[5] = 16; return b }, "address lengths 6 and 16"},
		{"RARP", func(b []byte) []byte { b[7] = 3; return b }, "operation 3"},
	}
	for _, tt := range tests {
		_, err := parseARP(tt.edit(append([]byte(nil), good...)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestARPResponder_answers(t *testing.T) {
	mine := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	other := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	vip := netip.MustParseAddr("10.0.0.200")
	addrs := map[netip.Addr]bool{vip: true}
	req := func(from net.HardwareAddr, target string) arpPacket {
		return arpPacket{Op: arpRequest, SenderMAC: from, SenderIP: netip.MustParseAddr("10.0.0.9"),
			TargetMAC: make(net.HardwareAddr, 6), TargetIP: netip.MustParseAddr(target)}
	}
	if !answers(req(other, "10.0.0.200"), mine, addrs) {
		t.Error("a request for a held address is not answered")
	}
	if answers(req(other, "10.0.0.201"), mine, addrs) {
		t.Error("a request for another address is answered")
	}
	if answers(req(mine, "10.0.0.200"), mine, addrs) {
		t.Error("this host's own request is answered")
	}
	if answers(gratuitousARP(other, vip), mine, addrs) {
		t.Error("a reply is answered")
	}
}

func FuzzParseARP(f *testing.F) {
	f.Add(gratuitousARP(net.HardwareAddr{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.1")).marshal())
	f.Add([]byte{0, 1, 8, 0, 6, 4, 0, 1})
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseARP(b)
		if err != nil {
			return
		}
		if again, err := parseARP(p.marshal()); err != nil || !bytes.Equal(again.marshal(), b[:arpLen]) {
			t.Fatalf("% x: re-encoded as % x (%v)", b, p.marshal(), err)
		}
	})
}

// arpLAN is a client namespace holding bridge br0 (10.99.0.1/24) and node
// namespaces plugged into it, each with eth0 at 10.99.0.1N.
type arpLAN struct {
	client ns.NetNS
	nodes  []ns.NetNS
	macs   []net.HardwareAddr
}

func newARPLAN(t *testing.T, nodes int) *arpLAN {
	t.Helper()
	requirePrivileged(t)
	l := &arpLAN{client: newNS(t)}
	netnstest.In(t, l.client, func() error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
		if err := netlink.LinkAdd(br); err != nil {
			return err
		}
		addr, _ := netlink.ParseAddr("10.99.0.1/24")
		if err := netlink.AddrAdd(br, addr); err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	})
	for i := range nodes {
		n := newNS(t)
		peer := "port" + string(rune('a'+i))
		netnstest.In(t, n, func() error {
			return netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: peer,
				PeerNamespace: netlink.NsFd(int(l.client.Fd()))})
		})
		var mac net.HardwareAddr
		netnstest.In(t, n, func() error {
			eth, err := netlink.LinkByName("eth0")
			if err != nil {
				return err
			}
			addr, _ := netlink.ParseAddr("10.99.0.1" + string(rune('0'+i)) + "/24")
			if err := netlink.AddrAdd(eth, addr); err != nil {
				return err
			}
			mac = eth.Attrs().HardwareAddr
			return netlink.LinkSetUp(eth)
		})
		netnstest.In(t, l.client, func() error {
			p, err := netlink.LinkByName(peer)
			if err != nil {
				return err
			}
			br, err := netlink.LinkByName("br0")
			if err != nil {
				return err
			}
			if err := netlink.LinkSetMaster(p, br); err != nil {
				return err
			}
			return netlink.LinkSetUp(p)
		})
		l.nodes = append(l.nodes, n)
		l.macs = append(l.macs, mac)
	}
	return l
}

// listen opens an ARP packet socket on the client's bridge.
func (l *arpLAN) listen(t *testing.T) (*packet.Conn, net.HardwareAddr) {
	t.Helper()
	var conn *packet.Conn
	var mac net.HardwareAddr
	netnstest.In(t, l.client, func() error {
		ifi, err := net.InterfaceByName("br0")
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		conn, err = packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
		return err
	})
	t.Cleanup(func() { conn.Close() })
	return conn, mac
}

// collect reads ARP messages for d and returns those keep accepts.
func collect(conn *packet.Conn, d time.Duration, keep func(arpPacket) bool) []arpPacket {
	var out []arpPacket
	buf := make([]byte, 1500)
	conn.SetReadDeadline(time.Now().Add(d))
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return out
		}
		if p, err := parseARP(buf[:n]); err == nil && keep(p) {
			out = append(out, p)
		}
	}
}

// ask sends one ARP request for ip from the client and returns the MACs
// that answered within half a second.
func (l *arpLAN) ask(t *testing.T, ip netip.Addr) []string {
	t.Helper()
	conn, mac := l.listen(t)
	req := arpPacket{Op: arpRequest, SenderMAC: mac, SenderIP: netip.MustParseAddr("10.99.0.1"),
		TargetMAC: make(net.HardwareAddr, 6), TargetIP: ip}
	if _, err := conn.WriteTo(req.marshal(), &packet.Addr{HardwareAddr: ethernetBroadcast}); err != nil {
		t.Fatal(err)
	}
	var macs []string
	for _, p := range collect(conn, 500*time.Millisecond, func(p arpPacket) bool {
		return p.Op == arpReply && p.SenderIP == ip && bytes.Equal(p.TargetMAC, mac)
	}) {
		macs = append(macs, p.SenderMAC.String())
	}
	return macs
}

// resolve makes the client's kernel resolve ip (a UDP datagram to it) and
// returns the MAC in its neighbour table.
func (l *arpLAN) resolve(t *testing.T, ip netip.Addr) string {
	t.Helper()
	var got string
	deadline := time.Now().Add(5 * time.Second)
	for got == "" && time.Now().Before(deadline) {
		netnstest.In(t, l.client, func() error {
			c, err := net.Dial("udp4", net.JoinHostPort(ip.String(), "9"))
			if err != nil {
				return err
			}
			c.Write([]byte("x"))
			c.Close()
			time.Sleep(100 * time.Millisecond)
			neighs, err := netlink.NeighList(0, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			for _, n := range neighs {
				if n.IP.Equal(ip.AsSlice()) && n.HardwareAddr != nil && n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY) != 0 {
					got = n.HardwareAddr.String()
				}
			}
			return nil
		})
	}
	return got
}

func TestARPResponder_announcesAndMoves(t *testing.T) {
	lan := newARPLAN(t, 2)
	vip := netip.MustParseAddr("10.99.0.200")
	conn, _ := lan.listen(t)

	first := NewARPResponder("eth0")
	t.Cleanup(func() { first.Close() })
	netnstest.In(t, lan.nodes[0], func() error { return first.Set([]netip.Addr{vip}) })
	garps := collect(conn, time.Second, func(p arpPacket) bool { return p.SenderIP == vip && p.TargetIP == vip })
	if len(garps) != 1 || !bytes.Equal(garps[0].SenderMAC, lan.macs[0]) || garps[0].Op != arpReply {
		t.Fatalf("gratuitous ARPs %+v, want one reply from %s", garps, lan.macs[0])
	}
	if got := lan.resolve(t, vip); got != lan.macs[0].String() {
		t.Fatalf("client resolved %s to %q, want node 1's %s", vip, got, lan.macs[0])
	}
	if got := lan.ask(t, netip.MustParseAddr("10.99.0.201")); len(got) != 0 {
		t.Fatalf("an address nobody holds was answered by %v", got)
	}

	// Node 1 lets go, node 2 takes it: only node 2 answers.
	second := NewARPResponder("eth0")
	t.Cleanup(func() { second.Close() })
	if err := first.Set(nil); err != nil {
		t.Fatal(err)
	}
	netnstest.In(t, lan.nodes[1], func() error { return second.Set([]netip.Addr{vip, netip.MustParseAddr("10.99.0.201")}) })
	garps = collect(conn, time.Second, func(p arpPacket) bool { return p.SenderIP == vip && p.TargetIP == vip })
	if len(garps) != 1 || !bytes.Equal(garps[0].SenderMAC, lan.macs[1]) {
		t.Fatalf("gratuitous ARPs after the move %+v, want one from %s", garps, lan.macs[1])
	}
	if got := lan.ask(t, vip); len(got) != 1 || got[0] != lan.macs[1].String() {
		t.Fatalf("answers after the move %v, want node 2's %s alone", got, lan.macs[1])
	}
	// Setting the same addresses again sends nothing.
	if err := second.Set([]netip.Addr{vip, netip.MustParseAddr("10.99.0.201")}); err != nil {
		t.Fatal(err)
	}
	if again := collect(conn, 300*time.Millisecond, func(p arpPacket) bool { return p.SenderIP == vip && p.TargetIP == vip }); len(again) != 0 {
		t.Fatalf("unchanged addresses announced again: %+v", again)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lan.ask(t, vip); len(got) != 0 {
		t.Fatalf("a closed responder still answers: %v", got)
	}
}

func TestARPResponder_refusesIPv6(t *testing.T) {
	r := NewARPResponder("eth-none")
	err := r.Set([]netip.Addr{netip.MustParseAddr("fd00::1")})
	if err == nil || !strings.Contains(err.Error(), "neighbour discovery") {
		t.Fatalf("error %v", err)
	}
	if len(r.Addrs()) != 0 {
		t.Fatalf("addresses %v", r.Addrs())
	}
	err = r.Set([]netip.Addr{netip.MustParseAddr("10.0.0.1")})
	if err == nil || !strings.Contains(err.Error(), "interface eth-none") {
		t.Fatalf("error %v", err)
	}
}

func TestInterfaceOf(t *testing.T) {
	lan := newARPLAN(t, 1)
	netnstest.In(t, lan.nodes[0], func() error {
		name, err := InterfaceOf(netip.MustParseAddr("10.99.0.10"))
		if err != nil || name != "eth0" {
			t.Errorf("InterfaceOf(10.99.0.10) = %q, %v", name, err)
		}
		if _, err := InterfaceOf(netip.MustParseAddr("10.99.0.99")); err == nil || !strings.Contains(err.Error(), "no interface holds 10.99.0.99") {
			t.Errorf("error %v", err)
		}
		return nil
	})
}
