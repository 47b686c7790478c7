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
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/internal/netnstest"
	"github.com/keel-edge/keel/tests/harness"
)

// podNetRoundTrips is how many one-byte round trips a latency figure is
// taken over.
const podNetRoundTrips = 2000

// BenchmarkPodNetwork measures pod-to-pod TCP throughput and round-trip
// latency across two nodes, with the pod routes cni.SyncNodeRoutes
// makes in direct and in vxlan mode, against two namespaces joined by a
// veth (the machine's limit). Nodes and pods are network namespaces that
// the agent's own pieces set up, without containers: the keel-cni plugin
// (the agent binary, through libcni) attaches each pod to its node's
// bridge with the MTU of the mode, and each node has the egress
// masquerade and the node addresses the agent installs.
func BenchmarkPodNetwork(b *testing.B) {
	if testing.Short() {
		b.Skip("makes network namespaces")
	}
	if os.Geteuid() != 0 {
		b.Skip("network namespaces need root")
	}
	b.Run("veth", func(b *testing.B) {
		x, y := benchNS(b), benchNS(b)
		netnstest.Plug(b, x, y, "eth0", "eth0", "10.244.1.5/24", "10.244.1.6/24")
		measurePodNet(b, "veth between two namespaces", x, y, netip.MustParseAddr("10.244.1.6"))
	})
	for _, mode := range []cni.RoutingMode{cni.RoutingDirect, cni.RoutingVXLAN} {
		b.Run(string(mode), func(b *testing.B) {
			nodeA, podA, podB, addrB := twoNodePods(b, mode)
			measurePodNet(b, "pod to pod on another node, "+string(mode), podA, podB, addrB)
			if mode != cni.RoutingVXLAN {
				return
			}
			netnstest.In(b, nodeA, func() error {
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
}

// twoNodePods makes two node namespaces joined by a veth (192.0.2.1 and
// .2), a pod attached by keel-cni behind each (pod CIDRs 10.244.1.0/24
// and 10.244.2.0/24), the nodes' egress masquerade and node addresses,
// and the pod routes of mode between the nodes; it returns the first
// node's namespace, the pods' and the second pod's address.
func twoNodePods(b *testing.B, mode cni.RoutingMode) (ns.NetNS, ns.NetNS, ns.NetNS, netip.Addr) {
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
	return nodeA, pods[0], pods[1], podIPs[1]
}

// measurePodNet streams b.N MiB over TCP from client to server (at
// addr) and then times podNetRoundTrips one-byte round trips on a second
// connection.
func measurePodNet(b *testing.B, name string, client, server ns.NetNS, addr netip.Addr) {
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
	dial := func(kind byte) net.Conn {
		var c net.Conn
		netnstest.In(b, client, func() (err error) {
			c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			return err
		})
		if _, err := c.Write([]byte{kind}); err != nil {
			b.Fatal(err)
		}
		return c
	}

	// Throughput: b.N MiB one way, timed until the server acknowledges
	// having read the last byte.
	stream := dial('s')
	defer stream.Close()
	if _, err := stream.Write(binary.BigEndian.AppendUint64(nil, uint64(b.N)<<20)); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := stream.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := io.ReadFull(stream, chunk[:1]); err != nil {
		b.Fatalf("read the acknowledgement: %v", err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	gbits := float64(b.N<<20) * 8 / elapsed.Seconds() / 1e9
	figures.set(secPods, name+", TCP throughput, one stream", fmt.Sprintf("%.2f Gbit/s", gbits))

	// Latency: one byte there and back, one at a time.
	rt := dial('e')
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
	figures.set(secPods, name+", TCP round trip p50 / p99",
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
