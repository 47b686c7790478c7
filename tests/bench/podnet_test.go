package bench

import (
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
)

// podNetRoundTrips is how many one-byte round trips a latency figure is
// taken over.
const podNetRoundTrips = 2000

// BenchmarkPodNetwork measures pod-to-pod TCP throughput and round-trip
// latency across two nodes, with the pod routes cni.SyncNodeRoutes
// makes in direct and in vxlan mode, against two namespaces joined by a
// veth (the machine's limit). Nodes and pods are network namespaces set
// up as the agent and its CNI plugin set them up (the pod's veth, its
// default route through the node), without containers.
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
			nodeA, podA, podB := twoNodePods(b, mode)
			measurePodNet(b, "pod to pod on another node, "+string(mode), podA, podB, netip.MustParseAddr("10.244.2.5"))
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

// twoNodePods makes two node namespaces joined by a veth, a pod behind
// each (10.244.1.5 and 10.244.2.5) and the pod routes of mode between
// the nodes; it returns the first node's namespace and the pods'.
func twoNodePods(b *testing.B, mode cni.RoutingMode) (ns.NetNS, ns.NetNS, ns.NetNS) {
	nodeA, nodeB := benchNS(b), benchNS(b)
	netnstest.Plug(b, nodeA, nodeB, "eth0", "eth0", "192.0.2.1/24", "192.0.2.2/24")
	var pods []ns.NetNS
	for i, node := range []ns.NetNS{nodeA, nodeB} {
		pod := benchNS(b)
		netnstest.Plug(b, pod, node, "eth0", "pod", fmt.Sprintf("10.244.%d.5/24", i+1), fmt.Sprintf("10.244.%d.1/24", i+1))
		netnstest.In(b, pod, func() error {
			return netlink.RouteAdd(&netlink.Route{Gw: net.ParseIP(fmt.Sprintf("10.244.%d.1", i+1))})
		})
		pods = append(pods, pod)
	}
	cidrA, cidrB := netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("10.244.2.0/24")
	netnstest.In(b, nodeA, func() error {
		_, err := cni.SyncNodeRoutes([]cni.NodeRoute{{PodCIDR: cidrB, Via: netip.MustParseAddr("192.0.2.2")}}, cidrA, mode)
		return err
	})
	netnstest.In(b, nodeB, func() error {
		_, err := cni.SyncNodeRoutes([]cni.NodeRoute{{PodCIDR: cidrA, Via: netip.MustParseAddr("192.0.2.1")}}, cidrB, mode)
		return err
	})
	return nodeA, pods[0], pods[1]
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
