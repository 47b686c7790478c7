package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

const lbManifest = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`

// TestCluster_loadBalancer gives a LoadBalancer service an address of the
// coordinator's pool and has a machine outside the cluster (the switch's
// namespace) resolve it by ARP: exactly one node answers, and when that
// node dies another one takes over.
func TestCluster_loadBalancer(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 3, Coordinators: 1,
		Args: []string{"--loadbalancer-pool", "10.77.0.200-10.77.0.209"}})
	// The coordinator stays out of it, so killing the owner leaves the
	// cluster a coordinator to notice.
	k(t, c.Nodes[0], kc, "label", "node", c.Nodes[0].NodeName, "node.kubernetes.io/exclude-from-external-load-balancers=")
	manifest := t.TempDir() + "/lb.yaml"
	writeFile(t, manifest, lbManifest)
	k(t, c.Nodes[0], kc, "apply", "-f", manifest)
	waitFor(t, "an external IP", 30*time.Second, func() bool {
		return k(t, c.Nodes[0], kc, "get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}") == "10.77.0.200"
	})
	if out := k(t, c.Nodes[0], kc, "get", "svc", "web", "--no-headers"); !strings.Contains(out, "LoadBalancer") || !strings.Contains(out, "10.77.0.200") {
		t.Fatalf("kubectl get svc:\n%s", out)
	}
	vip := netip.MustParseAddr("10.77.0.200")

	macs := map[string]int{} // eth0 MAC of each node to its index
	for i, n := range c.Nodes {
		out, err := n.Run(context.Background(), "ip", "-o", "link", "show", "eth0")
		f := strings.Fields(out)
		for j := range f {
			if f[j] == "link/ether" && j+1 < len(f) && err == nil {
				macs[f[j+1]] = i
			}
		}
	}
	if len(macs) != len(c.Nodes) {
		t.Fatalf("node MACs %v", macs)
	}

	c.Outside("") // gives the switch an address on the nodes' network
	outside, err := ns.GetNS("/run/netns/" + c.Switch)
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	var answers []string
	waitFor(t, "an ARP answer for "+vip.String(), 30*time.Second, func() bool {
		answers = askARP(t, outside, vip)
		return len(answers) > 0
	})
	owner, ok := macs[answers[0]]
	if len(answers) != 1 || !ok || owner == 0 {
		t.Fatalf("ARP answers %v; node MACs %v (node-1 is excluded)", answers, macs)
	}
	t.Logf("%s is announced by %s (%s)", vip, c.Nodes[owner].NodeName, answers[0])

	garps := listenARP(t, outside)
	c.Nodes[owner].Kill()
	took := waitFor(t, "another node answering", 60*time.Second, func() bool {
		answers = askARP(t, outside, vip)
		return len(answers) == 1 && macs[answers[0]] != owner
	})
	next, ok := macs[answers[0]]
	if !ok || next == 0 || next == owner {
		t.Fatalf("after %s died, ARP answers %v", c.Nodes[owner].NodeName, answers)
	}
	if from := gratuitous(garps, vip); from != answers[0] {
		t.Fatalf("gratuitous ARPs for %s after the failover came from [%s], want %s", vip, from, answers[0])
	}
	t.Logf("failover: %s killed, %s answers for %s after %s", c.Nodes[owner].NodeName, c.Nodes[next].NodeName, vip, took.Round(10*time.Millisecond))
	for range 3 {
		if again := askARP(t, outside, vip); len(again) != 1 || again[0] != answers[0] {
			t.Fatalf("ARP answers %v, want %s alone", again, answers[0])
		}
	}
}

// listenARP opens an ARP socket on the switch's bridge, which queues what
// it receives until read.
func listenARP(t *testing.T, sw ns.NetNS) *packet.Conn {
	t.Helper()
	var conn *packet.Conn
	err := sw.Do(func(ns.NetNS) error {
		ifi, err := net.InterfaceByName("br0")
		if err != nil {
			return err
		}
		conn, err = packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
		return err
	})
	if err != nil {
		t.Fatalf("ARP socket in the switch namespace: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// gratuitous reads what conn queued and returns the senders of gratuitous
// ARPs for ip (sender and target address both ip), space-separated.
func gratuitous(conn *packet.Conn, ip netip.Addr) string {
	a := ip.As4()
	var from []string
	buf := make([]byte, 1500)
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return strings.Join(from, " ")
		}
		if b := buf[:n]; n >= 28 && bytes.Equal(b[14:18], a[:]) && bytes.Equal(b[24:28], a[:]) {
			from = append(from, net.HardwareAddr(b[8:14]).String())
		}
	}
}

// askARP sends one ARP request for ip on the switch's bridge and returns
// the MACs that answered within a second, one per answer.
func askARP(t *testing.T, sw ns.NetNS, ip netip.Addr) []string {
	t.Helper()
	var macs []string
	err := sw.Do(func(ns.NetNS) error {
		ifi, err := net.InterfaceByName("br0")
		if err != nil {
			return err
		}
		conn, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
		if err != nil {
			return err
		}
		defer conn.Close()
		from := netip.MustParseAddr("10.77.0.254").As4()
		to := ip.As4()
		req := make([]byte, 28)
		binary.BigEndian.PutUint16(req[0:], 1)
		binary.BigEndian.PutUint16(req[2:], unix.ETH_P_IP)
		req[4], req[5] = 6, 4
		binary.BigEndian.PutUint16(req[6:], 1) // request
		copy(req[8:], ifi.HardwareAddr)
		copy(req[14:], from[:])
		copy(req[24:], to[:])
		if _, err := conn.WriteTo(req, &packet.Addr{HardwareAddr: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return nil
			}
			b := buf[:n]
			// A reply (2) from ip to this bridge.
			if n >= 28 && binary.BigEndian.Uint16(b[6:]) == 2 && bytes.Equal(b[14:18], to[:]) && bytes.Equal(b[18:24], ifi.HardwareAddr) {
				macs = append(macs, net.HardwareAddr(b[8:14]).String())
			}
		}
	})
	if err != nil {
		t.Fatalf("ARP request in the switch namespace: %v", err)
	}
	return macs
}
