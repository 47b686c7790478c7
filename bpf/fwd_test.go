package bpf

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// The fast path tests' network: pod namespace - node namespace - node
// namespace - pod namespace. Each node has a bridge br0 holding the pod
// gateway 10.244.N.1 with its pod's veth pvN on it, and an uplink up0
// (192.0.2.N) to the other node, through which it routes the other
// node's pod CIDR. Each node runs a Fwd of its own.
type fwdTest struct {
	t     *testing.T
	nodes [2]ns.NetNS
	pods  [2]ns.NetNS
	fwd   [2]*Fwd
	pins  [2]string
	ip    [2]netip.Addr
}

var fwdCluster = netip.MustParsePrefix("10.244.0.0/16")

func newFwdTest(t *testing.T) *fwdTest {
	requirePrivileged(t)
	x := &fwdTest{t: t}
	for i := range 2 {
		x.nodes[i], x.pods[i] = newNS(t), newNS(t)
		x.ip[i] = netip.MustParseAddr(fmt.Sprintf("10.244.%d.2", i+1))
	}
	name := func(n ns.NetNS) string { return filepath.Base(n.Path()) }
	sh(t, x.nodes[0], "ip link add up0 type veth peer name up0 netns "+name(x.nodes[1]))
	for i := range 2 {
		me, other := i+1, 2-i
		sh(t, x.nodes[i], fmt.Sprintf(`
ip link set lo up
sysctl -qw net.ipv4.ip_forward=1
ip addr add 192.0.2.%d/24 dev up0
ip link set up0 up
ip link add br0 type bridge
ip addr add 10.244.%d.1/24 dev br0
ip link set br0 up
ip link add pv%d type veth peer name eth0 netns %s
ip link set pv%d master br0 up
ip route add 10.244.%d.0/24 via 192.0.2.%d`, me, me, me, name(x.pods[i]), me, other, other))
		sh(t, x.pods[i], fmt.Sprintf(`
ip link set lo up
ip addr add 10.244.%d.2/24 dev eth0
ip link set eth0 up
ip route add default via 10.244.%d.1`, me, me))
		serveWho(t, x.pods[i], netip.AddrPortFrom(x.ip[i], 8080))
		serveWho(t, x.nodes[i], netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", me)), 8080))
	}
	root := testBPFFS(t)
	for i := range 2 {
		x.pins[i] = filepath.Join(root, fmt.Sprintf("node%d", i+1))
		x.load(i)
	}
	t.Cleanup(func() {
		for i := range 2 {
			if x.fwd[i] != nil {
				x.fwd[i].Close()
			}
			if err := Uninstall(x.pins[i]); err != nil {
				t.Error(err)
			}
		}
	})
	return x
}

// load loads node i's Fwd, in its namespace.
func (x *fwdTest) load(i int) {
	x.t.Helper()
	x.in(x.nodes[i], func() (err error) {
		x.fwd[i], err = LoadFwd(FwdConfig{
			PinDir:      x.pins[i],
			Uplinks:     []string{"up0"},
			ClusterCIDR: fwdCluster,
			PodCIDR:     netip.MustParsePrefix(fmt.Sprintf("10.244.%d.0/24", i+1)),
		})
		return err
	})
}

// addPod puts node i's pod on its fast path, as the agent does.
func (x *fwdTest) addPod(i int, ports ...FwdPort) {
	x.t.Helper()
	x.in(x.nodes[i], func() error {
		p, err := FindPod(x.pods[i].Path(), x.ip[i])
		if err != nil {
			return err
		}
		p.HostPorts = ports
		return x.fwd[i].AddPod(p)
	})
}

func (x *fwdTest) in(n ns.NetNS, f func() error) {
	x.t.Helper()
	if err := n.Do(func(ns.NetNS) error { return f() }); err != nil {
		x.t.Fatal(err)
	}
}

// tcp connects from namespace n to a and returns the answer.
func (x *fwdTest) tcp(n ns.NetNS, a netip.AddrPort) who {
	x.t.Helper()
	var w who
	x.in(n, func() error {
		c, err := net.DialTimeout("tcp4", a.String(), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		w, err = parseWho(string(b))
		return err
	})
	return w
}

func (x *fwdTest) stats(i int) FwdStats {
	x.t.Helper()
	s, err := x.fwd[i].Stats()
	if err != nil {
		x.t.Fatal(err)
	}
	return s
}

// bridgePackets is what node i's bridge has received and sent.
func (x *fwdTest) bridgePackets(i int) uint64 {
	x.t.Helper()
	var n uint64
	x.in(x.nodes[i], func() error {
		br, err := netlink.LinkByName("br0")
		if err != nil {
			return err
		}
		n = br.Attrs().Statistics.RxPackets + br.Attrs().Statistics.TxPackets
		return nil
	})
	return n
}

func TestFwd_podToPodSkipsTheBridge(t *testing.T) {
	x := newFwdTest(t)
	// Before the pods are on the fast path, traffic takes the bridge; this
	// also resolves the pods' gateways.
	if w := x.tcp(x.pods[0], netip.AddrPortFrom(x.ip[1], 8080)); w.client.Addr() != x.ip[0] {
		t.Fatalf("pod 2 saw %s, want pod 1", w.client)
	}
	if s := x.stats(0); s.Out != 0 || s.In != 0 {
		t.Fatalf("counters %+v before any pod is on the fast path", s)
	}
	x.addPod(0)
	x.addPod(1)
	br := [2]uint64{x.bridgePackets(0), x.bridgePackets(1)}
	const conns = 20
	for range conns {
		w := x.tcp(x.pods[0], netip.AddrPortFrom(x.ip[1], 8080))
		if w.client.Addr() != x.ip[0] || w.backend.Addr() != x.ip[1] {
			t.Fatalf("pod 2 answered %+v, want pod 2 seeing pod 1", w)
		}
	}
	for i := range 2 {
		s := x.stats(i)
		// Each connection is at least 3 packets each way.
		if s.Out < 3*conns || s.In < 3*conns {
			t.Errorf("node %d: counters %+v after %d connections", i+1, s, conns)
		}
		// A neighbour probe may still cross the bridge.
		if moved := x.bridgePackets(i) - br[i]; moved > 4 {
			t.Errorf("node %d: the bridge carried %d packets", i+1, moved)
		}
	}
}

func TestFwd_otherTrafficTakesTheStack(t *testing.T) {
	x := newFwdTest(t)
	x.addPod(0)
	x.addPod(1)
	before := [2]FwdStats{x.stats(0), x.stats(1)}
	// Pod to the other node, node to the other node's pod, pod to its
	// own node: none of it is pod to pod across nodes.
	for _, c := range []struct {
		from ns.NetNS
		to   string
	}{{x.pods[0], "192.0.2.2:8080"}, {x.pods[0], "192.0.2.1:8080"}, {x.nodes[1], "10.244.1.2:8080"}} {
		x.tcp(c.from, netip.MustParseAddrPort(c.to))
	}
	s0, s1 := x.stats(0), x.stats(1)
	if s0.Out != before[0].Out || s1.Out != before[1].Out {
		t.Errorf("pod traffic to nodes took the fast path: %+v, %+v", s0, s1)
	}
	// The node's connection to pod 1 arrives by the uplink and goes in.
	if s0.In == before[0].In {
		t.Errorf("node 2 to pod 1 did not go straight into the pod: %+v", s0)
	}
}

func TestFwd_publishedPortRepliesTakeTheStack(t *testing.T) {
	x := newFwdTest(t)
	x.addPod(0)
	x.addPod(1, FwdPort{Port: 8080, Protocol: "TCP"})
	before := x.stats(1)
	if w := x.tcp(x.pods[0], netip.AddrPortFrom(x.ip[1], 8080)); w.client.Addr() != x.ip[0] {
		t.Fatalf("pod 2 saw %s, want pod 1", w.client)
	}
	s := x.stats(1)
	if s.Out != before.Out || s.OutPassed < before.OutPassed+3 {
		t.Errorf("replies from a published port: counters %+v, were %+v", s, before)
	}
}

func TestFwd_removedPodAndPins(t *testing.T) {
	x := newFwdTest(t)
	x.addPod(0)
	x.addPod(1)
	// Every handle closed: the pins keep the fast path, and a second
	// load takes it over.
	for i := range 2 {
		x.fwd[i].Close()
		x.fwd[i] = nil
	}
	x.tcp(x.pods[0], netip.AddrPortFrom(x.ip[1], 8080))
	x.load(0)
	x.load(1)
	if s := x.stats(0); s.Out == 0 || s.In == 0 {
		t.Errorf("pinned fast path did not carry the connection: %+v", s)
	}
	pods, err := x.fwd[1].Pods()
	if err != nil || len(pods) != 1 || pods[0].Addr != x.ip[1] {
		t.Fatalf("pods after a reload: %+v, %v", pods, err)
	}
	x.in(x.nodes[1], func() error { return x.fwd[1].RemovePod(x.ip[1]) })
	if _, err := os.Stat(filepath.Join(x.pins[1], fwdPodPin+"pv2")); !os.IsNotExist(err) {
		t.Errorf("pod link pin after removal: %v", err)
	}
	before := x.stats(1)
	x.tcp(x.pods[0], netip.AddrPortFrom(x.ip[1], 8080))
	if s := x.stats(1); s.In != before.In || s.Out != before.Out {
		t.Errorf("removed pod still on the fast path: %+v, was %+v", s, before)
	}
	// A veth that is gone takes its pod off the map at the next change.
	sh(t, x.nodes[0], "ip link del pv1")
	x.in(x.nodes[0], func() error { return x.fwd[0].Prune() })
	if pods, err := x.fwd[0].Pods(); err != nil || len(pods) != 0 {
		t.Errorf("pods after the veth went: %+v, %v", pods, err)
	}
	// Uninstalled, the fast path is gone and the service pins are not
	// touched.
	x.fwd[0].Close()
	x.fwd[0] = nil
	if err := UninstallFwd(x.pins[0]); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(x.pins[0]); len(left) != 0 {
		t.Errorf("pins left after UninstallFwd: %v", left)
	}
}

// FuzzFwd_packets runs the fast path's programs on arbitrary frames
// (BPF_PROG_TEST_RUN, attached nowhere): they pass, drop or redirect,
// and never fail.
func FuzzFwd_packets(f *testing.F) {
	frame := func(src, dst string, proto uint8) []byte {
		b := make([]byte, 14+20+20)
		b[12], b[13] = 0x08, 0x00
		ip := b[14:]
		ip[0] = 0x45
		ip[3] = 40
		ip[8] = 64
		ip[9] = proto
		copy(ip[12:16], netip.MustParseAddr(src).AsSlice())
		copy(ip[16:20], netip.MustParseAddr(dst).AsSlice())
		ip[20], ip[21], ip[22], ip[23] = 0x1f, 0x90, 0x9c, 0x40
		return b
	}
	f.Add(frame("10.244.1.2", "10.244.2.2", TCP))
	f.Add(frame("10.244.2.2", "10.244.1.2", UDP))
	f.Add(frame("10.244.1.3", "10.244.2.2", TCP))
	f.Add(frame("10.244.1.2", "8.8.8.8", 1))
	requirePrivileged(f)
	pinDir := testBPFFS(f)
	if err := os.MkdirAll(pinDir, 0o700); err != nil {
		f.Fatal(err)
	}
	spec, err := loadFwd()
	if err != nil {
		f.Fatal(err)
	}
	n, m := prefix4(fwdCluster)
	pn, pm := prefix4(netip.MustParsePrefix("10.244.1.0/24"))
	for name, v := range map[string]uint32{"cluster_net": n, "cluster_mask": m, "pod_net": pn, "pod_mask": pm} {
		if err := spec.Variables[name].Set(v); err != nil {
			f.Fatal(err)
		}
	}
	var objs fwdObjects
	if err := spec.LoadAndAssign(&objs, &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: pinDir}}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { objs.Close() })
	key, _ := addr4(netip.MustParseAddr("10.244.1.2"))
	if err := objs.KeelFwdPods.Put(&key, &fwdFwdPod{Ifindex: 1}); err != nil {
		f.Fatal(err)
	}
	hp := fwdFwdPort{Addr: key, Port: htons(8080), Proto: TCP}
	if err := objs.KeelFwdHostports.Put(&hp, uint8(1)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The kernel runs programs only on frames of an Ethernet and an
		// IPv6 header at least (IPv4's, when the type says IPv4), and of
		// at most a page.
		if len(data) < 14+40 {
			data = append(data, make([]byte, 14+40-len(data))...)
		}
		data = data[:min(len(data), 1500)]
		for _, p := range []*ebpf.Program{objs.KeelFwdPod, objs.KeelFwdIn} {
			ret, err := p.Run(&ebpf.RunOptions{Data: data})
			if err != nil {
				t.Fatalf("%s on %x: %v", p, data, err)
			}
			switch ret {
			case 0, 2, 7, 0xffffffff: // TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT, TC_ACT_UNSPEC
			default:
				t.Fatalf("%s on %x returned %d", p, data, ret)
			}
		}
	})
}
