package bpf

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
)

// The tc tests' network: a LAN namespace with the client on a bridge
// (10.99.0.1), two node namespaces plugged into it by their uplink up0
// (10.99.0.2 and .3), and behind each node a pod namespace (10.244.N.2)
// routed by its node; each node routes the other's pod CIDR through it.
// The tc programs run on node 1's uplink only.
var (
	lanClient = netip.MustParseAddr("10.99.0.1")
	node1Addr = netip.MustParseAddr("10.99.0.2")
	lbAddr    = netip.MustParseAddr("10.99.0.100")
	pod1      = netip.AddrPortFrom(netip.MustParseAddr("10.244.1.2"), 8080)
	pod2      = netip.AddrPortFrom(netip.MustParseAddr("10.244.2.2"), 8080)
	nodePort  = netip.AddrPortFrom(node1Addr, 30080)
	lbPort    = netip.AddrPortFrom(lbAddr, 80)
)

type tcTest struct {
	t                      *testing.T
	lb                     *SocketLB
	tc                     *TC
	pinDir                 string
	lan, node1, node2      ns.NetNS
	pod1ns, pod2ns         ns.NetNS
	nextBackend, nextTable uint32
}

func newNS(t *testing.T) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		_ = n.Close()
		if err := testutils.UnmountNS(n); err != nil {
			t.Errorf("remove netns %s: %v", n.Path(), err)
		}
	})
	return n
}

// sh runs commands (one a line) in namespace n.
func sh(t *testing.T, n ns.NetNS, script string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		args := append([]string{"--net=" + n.Path(), "--"}, strings.Fields(line)...)
		if out, err := exec.Command("nsenter", args...).CombinedOutput(); err != nil {
			t.Fatalf("in %s: %s: %v\n%s", filepath.Base(n.Path()), line, err, out)
		}
	}
}

func newTCTest(t *testing.T) *tcTest {
	requirePrivileged(t)
	x := &tcTest{t: t, nextBackend: 1, nextTable: 1}
	x.lan, x.node1, x.node2, x.pod1ns, x.pod2ns = newNS(t), newNS(t), newNS(t), newNS(t), newNS(t)
	name := func(n ns.NetNS) string { return filepath.Base(n.Path()) }
	sh(t, x.lan, `
ip link set lo up
ip link add br0 type bridge
ip addr add 10.99.0.1/24 dev br0
ip link set br0 up
ip link add n1 type veth peer name up0 netns `+name(x.node1)+`
ip link add n2 type veth peer name up0 netns `+name(x.node2)+`
ip link set n1 master br0 up
ip link set n2 master br0 up
ip route add 10.99.0.100/32 via 10.99.0.2`)
	for i, n := range []struct{ node, pod ns.NetNS }{{x.node1, x.pod1ns}, {x.node2, x.pod2ns}} {
		me, other := i+1, 2-i
		sh(t, n.node, fmt.Sprintf(`
ip link set lo up
sysctl -qw net.ipv4.ip_forward=1
ip addr add 10.99.0.%d/24 dev up0
ip link set up0 up
ip link add pv type veth peer name eth0 netns %s
ip addr add 10.244.%d.1/24 dev pv
ip link set pv up
ip route add 10.244.%d.0/24 via 10.99.0.%d`, me+1, name(n.pod), me, other, other+1))
		sh(t, n.pod, fmt.Sprintf(`
ip link set lo up
ip addr add 10.244.%d.2/24 dev eth0
ip link set eth0 up
ip route add default via 10.244.%d.1`, me, me))
	}
	serveWho(t, x.pod1ns, pod1)
	serveWho(t, x.pod2ns, pod2)

	x.pinDir = testBPFFS(t)
	lb, err := Load(Config{PinDir: x.pinDir, Cgroup: testCgroup(t)})
	if err != nil {
		t.Fatal(err)
	}
	x.lb = lb
	t.Cleanup(func() {
		x.lb.Close()
		if x.tc != nil {
			x.tc.Close()
		}
		if err := Uninstall(x.pinDir); err != nil {
			t.Error(err)
		}
	})
	x.loadTC()
	return x
}

// loadTC loads the tc programs onto node 1's uplink, from inside it.
func (x *tcTest) loadTC() {
	x.t.Helper()
	if x.tc != nil {
		x.tc.Close()
	}
	if err := x.node1.Do(func(ns.NetNS) error {
		var err error
		x.tc, err = LoadTC(TCConfig{PinDir: x.pinDir, Interface: "up0", NodeAddr: node1Addr})
		return err
	}); err != nil {
		x.t.Fatal(err)
	}
}

// service makes frontend f (TCP and UDP) lead, from outside, to a new
// table of the given backends; local lists which are on node 1.
func (x *tcTest) service(f netip.AddrPort, etpLocal bool, backends []netip.AddrPort, local ...bool) uint32 {
	x.t.Helper()
	svc := x.nextTable
	x.nextTable++
	var slots []uint32
	for i, b := range backends {
		id := x.nextBackend
		x.nextBackend++
		if err := x.lb.PutBackend(id, b, svc, local[i]); err != nil {
			x.t.Fatal(err)
		}
		slots = append(slots, id)
	}
	if err := x.lb.PutTable(svc, uint32(len(slots)), slots); err != nil {
		x.t.Fatal(err)
	}
	for _, p := range []uint8{TCP, UDP} {
		if err := x.lb.PutExternal(f, p, svc, etpLocal); err != nil {
			x.t.Fatal(err)
		}
	}
	return svc
}

// serveWho answers TCP and UDP on a with "LOCAL REMOTE": the backend and
// the client address it sees.
func serveWho(t *testing.T, n ns.NetNS, a netip.AddrPort) {
	t.Helper()
	err := n.Do(func(ns.NetNS) error {
		l, err := net.Listen("tcp4", a.String())
		if err != nil {
			return err
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s %s", c.LocalAddr(), c.RemoteAddr())
				c.Close()
			}
		}()
		u, err := net.ListenPacket("udp4", a.String())
		if err != nil {
			return err
		}
		t.Cleanup(func() { u.Close() })
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := u.ReadFrom(buf)
				if err != nil {
					return
				}
				u.WriteTo([]byte(fmt.Sprintf("%s %s", u.LocalAddr(), from)), from)
			}
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// who is a backend's answer: which backend, and the client it saw.
type who struct {
	backend, client netip.AddrPort
}

func parseWho(s string) (who, error) {
	b, c, ok := strings.Cut(s, " ")
	if !ok {
		return who{}, fmt.Errorf("answer %q", s)
	}
	var w who
	var err error
	if w.backend, err = netip.ParseAddrPort(b); err != nil {
		return who{}, err
	}
	if w.client, err = netip.ParseAddrPort(c); err != nil {
		return who{}, err
	}
	return w, nil
}

// tcpFromLAN connects from the client to f and reads the answer.
func (x *tcTest) tcpFromLAN(f netip.AddrPort) (who, error) {
	var w who
	err := x.lan.Do(func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp4", f.String(), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 128)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		w, err = parseWho(string(buf[:n]))
		return err
	})
	return w, err
}

// udpFromLAN sends datagrams to f from an unconnected socket of the client
// (port 0 picks one) and returns the answers; each must come from f.
func (x *tcTest) udpFromLAN(f netip.AddrPort, port, n int) ([]who, error) {
	var out []who
	err := x.lan.Do(func(ns.NetNS) error {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: lanClient.AsSlice(), Port: port})
		if err != nil {
			return err
		}
		defer u.Close()
		buf := make([]byte, 128)
		for range n {
			if _, err := u.WriteToUDPAddrPort([]byte("hi"), f); err != nil {
				return err
			}
			u.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, from, err := u.ReadFromUDPAddrPort(buf)
			if err != nil {
				return err
			}
			if from != f {
				return fmt.Errorf("answer to %s came from %s", f, from)
			}
			w, err := parseWho(string(buf[:m]))
			if err != nil {
				return err
			}
			out = append(out, w)
		}
		return nil
	})
	return out, err
}

func (x *tcTest) mustTCP(f netip.AddrPort) who {
	x.t.Helper()
	w, err := x.tcpFromLAN(f)
	if err != nil {
		x.t.Fatalf("tcp to %s: %v", f, err)
	}
	return w
}

func (x *tcTest) mustUDP(f netip.AddrPort, port, n int) []who {
	x.t.Helper()
	ws, err := x.udpFromLAN(f, port, n)
	if err != nil {
		x.t.Fatalf("udp to %s: %v", f, err)
	}
	return ws
}

func TestTC_nodePortLocalBackend(t *testing.T) {
	x := newTCTest(t)
	x.service(nodePort, false, []netip.AddrPort{pod1}, true)
	w := x.mustTCP(nodePort)
	if w.backend != pod1 || w.client.Addr() != lanClient {
		t.Errorf("tcp: backend %s saw client %s, want %s seeing %s", w.backend, w.client, pod1, lanClient)
	}
	for _, w := range x.mustUDP(nodePort, 0, 3) {
		if w.backend != pod1 || w.client.Addr() != lanClient {
			t.Errorf("udp: backend %s saw client %s, want %s seeing %s", w.backend, w.client, pod1, lanClient)
		}
	}
}

func TestTC_nodePortRemoteBackend(t *testing.T) {
	x := newTCTest(t)
	x.service(nodePort, false, []netip.AddrPort{pod2}, false)
	w := x.mustTCP(nodePort)
	if w.backend != pod2 || w.client.Addr() != node1Addr {
		t.Errorf("tcp: backend %s saw client %s, want %s seeing node 1 (%s)", w.backend, w.client, pod2, node1Addr)
	}
	ws := x.mustUDP(nodePort, 40123, 3)
	for _, w := range ws {
		// The client's port is kept when it is free.
		if w.backend != pod2 || w.client != netip.AddrPortFrom(node1Addr, 40123) {
			t.Errorf("udp: backend %s saw client %s, want %s seeing %s:40123", w.backend, w.client, pod2, node1Addr)
		}
	}
}

func TestTC_loadBalancerAddress(t *testing.T) {
	x := newTCTest(t)
	x.service(lbPort, false, []netip.AddrPort{pod1, pod2}, true, false)
	seen := map[netip.AddrPort]bool{}
	for port := 41000; port < 41040 && len(seen) < 2; port++ {
		for _, w := range x.mustUDP(lbPort, port, 1) {
			seen[w.backend] = true
		}
	}
	if !seen[pod1] || !seen[pod2] {
		t.Errorf("flows to %s reached %v, want both backends", lbPort, seen)
	}
	if w := x.mustTCP(lbPort); w.backend != pod1 && w.backend != pod2 {
		t.Errorf("tcp to %s reached %s", lbPort, w.backend)
	}
}

func TestTC_externalTrafficPolicyLocal(t *testing.T) {
	x := newTCTest(t)
	x.service(nodePort, true, []netip.AddrPort{pod1}, true)
	for range 5 {
		w := x.mustTCP(nodePort)
		if w.backend != pod1 || w.client.Addr() != lanClient {
			t.Fatalf("backend %s saw client %s, want %s seeing %s", w.backend, w.client, pod1, lanClient)
		}
	}
	// No local backend: dropped.
	empty := netip.AddrPortFrom(node1Addr, 30081)
	x.service(empty, true, nil)
	if w, err := x.tcpFromLAN(empty); err == nil {
		t.Errorf("tcp to %s with no local backend reached %s", empty, w.backend)
	}
}

func TestTC_flowKeepsBackend(t *testing.T) {
	x := newTCTest(t)
	svc := x.service(nodePort, false, []netip.AddrPort{pod1, pod2}, true, false)
	first := x.mustUDP(nodePort, 42000, 1)[0].backend
	// A table naming only the other backend: the flow stays, a new one
	// moves.
	var other uint32 = 1
	if first == pod1 {
		other = 2
	}
	if err := x.lb.PutTable(svc, 1, []uint32{other}); err != nil {
		t.Fatal(err)
	}
	if got := x.mustUDP(nodePort, 42000, 1)[0].backend; got != first {
		t.Errorf("flow moved from %s to %s when the table changed", first, got)
	}
	if got := x.mustUDP(nodePort, 42001, 1)[0].backend; got == first {
		t.Errorf("new flow went to %s, which the table no longer names", got)
	}
}

func TestTC_pinsSurvive(t *testing.T) {
	x := newTCTest(t)
	x.service(nodePort, false, []netip.AddrPort{pod2}, false)
	x.mustTCP(nodePort)
	// Every handle closed: the pinned links keep translating.
	x.tc.Close()
	x.tc = nil
	x.lb.Close()
	if w := x.mustTCP(nodePort); w.backend != pod2 {
		t.Errorf("with handles closed, reached %s", w.backend)
	}
	// A new agent takes the pins over and finds the external frontends.
	lb, err := Load(x.lb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	x.lb = lb
	x.loadTC()
	snap, err := lb.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.External) != 2 || snap.External[0].Addr != nodePort {
		t.Errorf("external frontends after reload: %+v", snap.External)
	}
	if w := x.mustTCP(nodePort); w.backend != pod2 {
		t.Errorf("after reload, reached %s", w.backend)
	}
	// Still one program per direction on the uplink.
	x.node1.Do(func(ns.NetNS) error {
		up, err := net.InterfaceByName("up0")
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			res, err := link.QueryPrograms(link.QueryOptions{Target: up.Index, Attach: at})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Programs) != 1 {
				t.Errorf("%s of the uplink runs %d programs after reload, want 1", at, len(res.Programs))
			}
		}
		return nil
	})
}

// FuzzTC_packets runs the tc programs on arbitrary frames (through
// BPF_PROG_TEST_RUN, attached nowhere): whatever arrives, they pass it,
// drop it or redirect it, and never fail. The seeds reach a frontend
// whose backend is local and one whose backend is on another node.
func FuzzTC_packets(f *testing.F) {
	frame := func(dst netip.AddrPort, proto uint8) []byte {
		b := make([]byte, 14+20+20)
		b[12], b[13] = 0x08, 0x00 // IPv4
		ip := b[14:]
		ip[0] = 0x45
		ip[2], ip[3] = 0, 40
		ip[8] = 64
		ip[9] = proto
		copy(ip[12:16], lanClient.AsSlice())
		copy(ip[16:20], dst.Addr().AsSlice())
		l4 := ip[20:]
		l4[0], l4[1] = 0x9c, 0x40 // 40000
		l4[2], l4[3] = byte(dst.Port()>>8), byte(dst.Port())
		if proto == TCP {
			l4[12] = 5 << 4
			l4[13] = 0x02 // SYN
		}
		return b
	}
	f.Add(frame(nodePort, TCP))
	f.Add(frame(lbPort, UDP))
	f.Add(frame(nodePort, 1))
	f.Add([]byte{})
	requirePrivileged(f)
	pinDir := testBPFFS(f)
	if err := os.MkdirAll(pinDir, 0o700); err != nil {
		f.Fatal(err)
	}
	var objs tcObjects
	if err := loadTcObjects(&objs, &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: pinDir}}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { objs.Close() })
	put := func(fr netip.AddrPort, id uint32, be netip.AddrPort, flags uint16) {
		k, _ := svcKey(fr, TCP)
		ku, _ := svcKey(fr, UDP)
		a, _ := addr4(be.Addr())
		if err := objs.KeelBackends.Put(&id, &tcBackend{Addr: a, Port: port16(be.Port()), Flags: flags, Svc: id}); err != nil {
			f.Fatal(err)
		}
		t := tcTable{Count: 1}
		for i := range t.Slot {
			t.Slot[i].Addr, t.Slot[i].Port, t.Slot[i].Backend = a, port16(be.Port()), id
		}
		if err := objs.KeelTables.Put(&id, &t); err != nil {
			f.Fatal(err)
		}
		for _, key := range []tcSvcKey{tcSvcKey(k), tcSvcKey(ku)} {
			if err := objs.KeelExternal.Put(&key, &tcExtValue{Id: id}); err != nil {
				f.Fatal(err)
			}
		}
	}
	put(nodePort, 1, pod1, backendLocal)
	put(lbPort, 2, pod2, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The kernel runs programs only on frames of an Ethernet and an
		// IPv4 header at least, and of at most a page.
		if len(data) < 14+20 {
			data = append(data, make([]byte, 14+20-len(data))...)
		}
		data = data[:min(len(data), 1500)]
		for _, p := range []*ebpf.Program{objs.KeelTcIngress, objs.KeelTcEgress} {
			ret, err := p.Run(&ebpf.RunOptions{Data: data})
			if err != nil {
				t.Fatalf("%s on %x: %v", p, data, err)
			}
			switch ret {
			case 0, 2, 7: // TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT
			default:
				t.Fatalf("%s on %x returned %d", p, data, ret)
			}
		}
	})
}
