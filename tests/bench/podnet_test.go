package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/keel-edge/keel/bpf"
	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/internal/netnstest"
	"github.com/keel-edge/keel/tests/harness"
)

// podNetRoundTrips is how many one-byte round trips a latency figure is
// taken over.
const podNetRoundTrips = 2000

// BenchmarkPodNetwork measures pod-to-pod TCP throughput and round-trip
// latency across two nodes, with the pod routes cni.SyncNodeRoutes
// makes in direct and in vxlan mode, each also with the eBPF pod fast
// path the agent loads (direct+bpf, vxlan+bpf), against two namespaces
// joined by a veth (the machine's limit). Nodes and pods are network namespaces that
// the agent's own pieces set up, without containers: the keel-cni plugin
// (the agent binary, through libcni) attaches each pod to its node's
// bridge with the MTU of the mode, and each node has the egress
// masquerade and the node addresses the agent installs.
//
// On a shared machine one path measured after another meets different
// load, so "interleaved" streams over all of them in turn, many rounds,
// and reports each path's throughput next to the veth's measured in the
// same rounds.
func BenchmarkPodNetwork(b *testing.B) {
	if testing.Short() {
		b.Skip("makes network namespaces")
	}
	if os.Geteuid() != 0 {
		b.Skip("network namespaces need root")
	}
	b.Run("veth", func(b *testing.B) {
		measurePodNet(b, vethPath(b))
	})
	for _, m := range podNetModes {
		b.Run(m.name(), func(b *testing.B) {
			w := twoNodePods(b, m)
			measurePodNet(b, w.path(b, m))
			w.checkFastPath(b)
			if m.mode != cni.RoutingVXLAN {
				return
			}
			netnstest.In(b, w.nodes[0], func() error {
				vx, err := netlink.LinkByName(cni.VXLANDevice)
				if err != nil {
					return err
				}
				if sent := vx.Attrs().Statistics.TxBytes; sent < uint64(b.N)<<20 {
					return fmt.Errorf("%s sent %d bytes of the %d MiB streamed", cni.VXLANDevice, sent, b.N)
				}
				return nil
			})
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		paths := []*podNetPath{vethPath(b)}
		var worlds []podNetWorld
		for _, m := range podNetModes {
			w := twoNodePods(b, m)
			worlds = append(worlds, w)
			paths = append(paths, w.path(b, m))
		}
		const mib = 64
		b.SetBytes(int64(len(paths)) * mib << 20)
		b.ResetTimer()
		for range b.N {
			for _, p := range paths {
				p.stream(b, mib)
			}
		}
		b.StopTimer()
		veth := paths[0]
		for _, p := range paths {
			figures.set(secPods, p.name+", interleaved with the others, TCP throughput", fmt.Sprintf("%.2f Gbit/s (%.2f of veth's), CPU %.0f ms/GiB (%.2f of veth's)",
				p.gbits(), p.gbits()/veth.gbits(), p.cpuPerGiB(), p.cpuPerGiB()/veth.cpuPerGiB()))
		}
		for _, w := range worlds {
			w.checkFastPath(b)
		}
	})
}

// podNetMode is a routing mode, with or without the pod fast path.
type podNetMode struct {
	mode cni.RoutingMode
	bpf  bool
}

var podNetModes = []podNetMode{
	{cni.RoutingDirect, false}, {cni.RoutingDirect, true},
	{cni.RoutingVXLAN, false}, {cni.RoutingVXLAN, true},
}

func (m podNetMode) name() string {
	if m.bpf {
		return string(m.mode) + "+bpf"
	}
	return string(m.mode)
}

// vethPath is two namespaces joined by a veth.
func vethPath(b *testing.B) *podNetPath {
	x, y := benchNS(b), benchNS(b)
	netnstest.Plug(b, x, y, "eth0", "eth0", "10.244.1.5/24", "10.244.1.6/24")
	return servePodNet(b, "veth between two namespaces", x, y, netip.MustParseAddr("10.244.1.6"))
}

// podNetWorld is two nodes with a pod each, and their fast paths.
type podNetWorld struct {
	nodes, pods [2]ns.NetNS
	podIPs      [2]netip.Addr
	fwd         [2]*bpf.Fwd
}

// path serves on the second pod for the first.
func (w podNetWorld) path(b *testing.B, m podNetMode) *podNetPath {
	return servePodNet(b, "pod to pod on another node, "+m.name(), w.pods[0], w.pods[1], w.podIPs[1])
}

// checkFastPath fails the benchmark when a fast path carried nothing:
// its figures would be the stack's.
func (w podNetWorld) checkFastPath(b *testing.B) {
	for i, f := range w.fwd {
		if f == nil {
			continue
		}
		s, err := f.Stats()
		if err != nil {
			b.Fatal(err)
		}
		if s.Out == 0 || s.In == 0 {
			b.Fatalf("node %d: the pod fast path carried nothing: %+v", i+1, s)
		}
	}
}

// twoNodePods makes two node namespaces joined by a veth (192.0.2.1 and
// .2), a pod attached by keel-cni behind each (pod CIDRs 10.244.1.0/24
// and 10.244.2.0/24), the nodes' egress masquerade and node addresses,
// the pod routes of mode between the nodes and, with m.bpf, each node's
// pod fast path (pinned in a bpffs of the benchmark's own) with its pod
// on it, as the agent loads it.
func twoNodePods(b *testing.B, m podNetMode) podNetWorld {
	mode := m.mode
	nodeA, nodeB := benchNS(b), benchNS(b)
	netnstest.Plug(b, nodeA, nodeB, "eth0", "eth0", "192.0.2.1/24", "192.0.2.2/24")
	agent, _ := harness.Build(b)
	nodes := []ns.NetNS{nodeA, nodeB}
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	cidrs := []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("10.244.2.0/24")}
	var pods []ns.NetNS
	var podIPs []netip.Addr
	for i, node := range nodes {
		pod := benchNS(b)
		root := b.TempDir()
		netnstest.In(b, node, func() error {
			uplink, err := cni.FindUplink(addrs[i])
			if err != nil {
				return err
			}
			cfg := cni.TestConfig(root, cidrs[i].String())
			cfg.PluginBinary = agent
			if cfg.MTU, err = cni.PodMTU(mode, uplink.MTU); err != nil {
				return err
			}
			network, err := cni.New(cfg)
			if err != nil {
				return err
			}
			if err := cni.SetupEgress(cidrs[i].String(), "10.244.0.0/16"); err != nil {
				return err
			}
			if err := cni.SetNodeAddrs(addrs); err != nil {
				return err
			}
			ips, err := network.Attach(context.Background(), fmt.Sprintf("bench-pod-%d", i), "bench", "pod", pod.Path(), nil)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(ips[0])
			podIPs = append(podIPs, ip)
			return err
		})
		pods = append(pods, pod)
	}
	netnstest.In(b, nodeA, func() error {
		_, err := cni.SyncNodeRoutes([]cni.NodeRoute{{PodCIDR: cidrs[1], Via: addrs[1]}}, cidrs[0], mode)
		return err
	})
	netnstest.In(b, nodeB, func() error {
		_, err := cni.SyncNodeRoutes([]cni.NodeRoute{{PodCIDR: cidrs[0], Via: addrs[0]}}, cidrs[1], mode)
		return err
	})
	w := podNetWorld{nodes: [2]ns.NetNS{nodeA, nodeB}, pods: [2]ns.NetNS{pods[0], pods[1]}, podIPs: [2]netip.Addr{podIPs[0], podIPs[1]}}
	if !m.bpf {
		return w
	}
	pins := benchBPFFS(b)
	for i, node := range nodes {
		netnstest.In(b, node, func() error {
			f, err := bpf.LoadFwd(bpf.FwdConfig{
				PinDir:      fmt.Sprintf("%s/node%d", pins, i+1),
				Uplinks:     []string{"eth0", cni.VXLANDevice},
				ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
				PodCIDR:     cidrs[i],
			})
			if err != nil {
				return err
			}
			b.Cleanup(func() { f.Close() })
			w.fwd[i] = f
			p, err := bpf.FindPod(pods[i].Path(), podIPs[i])
			if err != nil {
				return err
			}
			return f.AddPod(p)
		})
	}
	return w
}

// benchBPFFS mounts a bpffs of the benchmark's own, unmounted (which
// drops its pins) at the end.
func benchBPFFS(b *testing.B) string {
	dir := b.TempDir()
	if err := syscall.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		b.Fatalf("mount bpffs on %s: %v", dir, err)
	}
	b.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			b.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// podNetPath is a client namespace and a server listening in another,
// with what was streamed over it so far.
type podNetPath struct {
	name   string
	client ns.NetNS
	addr   string
	// mib, elapsed and cpu add up the streams.
	mib          int
	elapsed, cpu time.Duration
}

// servePodNet listens at addr in server (podNetServe) until the
// benchmark ends.
func servePodNet(b *testing.B, name string, client, server ns.NetNS, addr netip.Addr) *podNetPath {
	var ln net.Listener
	netnstest.In(b, server, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	})
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go podNetServe(c)
		}
	}()
	return &podNetPath{name: name, client: client, addr: ln.Addr().String()}
}

// dial connects from the client and says what for.
func (p *podNetPath) dial(b *testing.B, kind byte) net.Conn {
	var c net.Conn
	netnstest.In(b, p.client, func() (err error) {
		c, err = net.DialTimeout("tcp", p.addr, 5*time.Second)
		return err
	})
	if _, err := c.Write([]byte{kind}); err != nil {
		b.Fatal(err)
	}
	return c
}

// stream sends mib MiB one way on a new connection, timed until the
// server acknowledges having read the last byte, and adds the time and
// the CPU time (both ends and the kernel's work on their behalf,
// softirqs included) to p's.
func (p *podNetPath) stream(b *testing.B, mib int) {
	c := p.dial(b, 's')
	defer c.Close()
	if _, err := c.Write(binary.BigEndian.AppendUint64(nil, uint64(mib)<<20)); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	cpu0 := cpuTime(b)
	start := time.Now()
	for range mib {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := io.ReadFull(c, chunk[:1]); err != nil {
		b.Fatalf("read the acknowledgement: %v", err)
	}
	p.elapsed += time.Since(start)
	p.cpu += cpuTime(b) - cpu0
	p.mib += mib
}

func (p *podNetPath) gbits() float64 {
	return float64(p.mib<<20) * 8 / p.elapsed.Seconds() / 1e9
}

func (p *podNetPath) cpuPerGiB() float64 {
	return float64(p.cpu.Milliseconds()) * 1024 / float64(p.mib)
}

// measurePodNet streams b.N MiB over p and then times podNetRoundTrips
// one-byte round trips on a second connection.
func measurePodNet(b *testing.B, p *podNetPath) {
	b.SetBytes(1 << 20)
	b.ResetTimer()
	p.stream(b, b.N)
	b.StopTimer()
	figures.set(secPods, p.name+", TCP throughput, one stream", fmt.Sprintf("%.2f Gbit/s", p.gbits()))
	// CPU time per GiB moves far less than throughput on a busy machine.
	figures.set(secPods, p.name+", CPU time per GiB streamed", fmt.Sprintf("%.0f ms", p.cpuPerGiB()))

	// Latency: one byte there and back, one at a time.
	rt := p.dial(b, 'e')
	defer rt.Close()
	lat := make([]time.Duration, 0, podNetRoundTrips)
	one := []byte{1}
	for range podNetRoundTrips {
		t0 := time.Now()
		if _, err := rt.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(rt, one); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	figures.set(secPods, p.name+", TCP round trip p50 / p99",
		fmt.Sprintf("%.0f / %.0f µs", us(quantile(lat, 0.50)), us(quantile(lat, 0.99))))
}

// podNetServe serves one connection: after an 'e' it echoes; after an
// 's' it reads a big-endian 8-byte length, discards that many bytes and
// answers one byte.
func podNetServe(c net.Conn) {
	defer c.Close()
	kind := make([]byte, 8)
	if _, err := io.ReadFull(c, kind[:1]); err != nil {
		return
	}
	switch kind[0] {
	case 'e':
		_, _ = io.Copy(c, c)
	case 's':
		if _, err := io.ReadFull(c, kind); err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint64(kind))); err != nil {
			return
		}
		_, _ = c.Write([]byte{1})
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// benchNS makes a network namespace removed when the benchmark ends.
func benchNS(b *testing.B) ns.NetNS {
	b.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		b.Fatalf("create netns: %v", err)
	}
	b.Cleanup(func() {
		_ = n.Close()
		if err := testutils.UnmountNS(n); err != nil {
			b.Errorf("remove netns %s: %v", n.Path(), err)
		}
	})
	return n
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
