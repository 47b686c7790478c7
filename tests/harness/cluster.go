package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ClusterOptions shape a multi-node cluster.
type ClusterOptions struct {
	// Nodes is how many agents run; the first founds the cluster.
	Nodes int
	// Coordinators is how many of them (the first ones) are coordinator
	// candidates; at least 1.
	Coordinators int
	// RunPods runs real containers on every node.
	RunPods bool
	// Args are added to every agent's command line.
	Args []string
}

// Cluster is a set of agents, each in a network namespace of its own
// whose eth0 is plugged into one bridge in a namespace of its own: the
// machines of a small L2 network.
type Cluster struct {
	t testing.TB
	// Nodes are the agents, node-1 first.
	Nodes []*Agent
	// IPs are the nodes' addresses, in the same order.
	IPs []string
	// Switch is the namespace of the bridge joining them.
	Switch  string
	token   string
	opts    ClusterOptions
	subnet  string
	started int
}

// clusterSubnet holds the nodes' addresses: 10.77.0.10 and up.
const clusterSubnet = "10.77.0."

// StartCluster starts the cluster and waits until every node is Ready.
// Everything is removed when the test ends, and the test fails if
// anything is left (see CheckNoLeaks).
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	CheckNoLeaks(t)
	if o.Nodes < 1 {
		o.Nodes = 1
	}
	o.Coordinators = max(o.Coordinators, 1)
	c := &Cluster{t: t, opts: o, Switch: NetNS(t)}
	mustIP(t, "-n", c.Switch, "link", "add", "br0", "type", "bridge")
	mustIP(t, "-n", c.Switch, "link", "set", "br0", "up")
	for range o.Nodes {
		c.AddNode()
	}
	for _, a := range c.Nodes {
		c.Nodes[0].WaitNodeReady(a.NodeName, 90*time.Second)
	}
	return c
}

// AddNode starts one more agent (a coordinator candidate while fewer than
// Coordinators have been started) and returns it without waiting for it
// to be Ready.
func (c *Cluster) AddNode() *Agent {
	t := c.t
	t.Helper()
	i := c.started
	c.started++
	name := fmt.Sprintf("node-%d", i+1)
	ip := fmt.Sprintf("%s%d", clusterSubnet, 10+i)
	ns := NetNS(t)
	var b [3]byte
	rand.Read(b[:])
	host, peer := "kh"+hex.EncodeToString(b[:]), "kp"+hex.EncodeToString(b[:])
	recordLink(t, host, peer)
	mustIP(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	mustIP(t, "link", "set", host, "netns", c.Switch)
	mustIP(t, "link", "set", peer, "netns", ns)
	mustIP(t, "-n", c.Switch, "link", "set", host, "master", "br0", "up")
	mustIP(t, "-n", ns, "link", "set", peer, "name", "eth0")
	mustIP(t, "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
	mustIP(t, "-n", ns, "link", "set", "eth0", "up")

	args := append([]string{"--gossip-addr", ip + ":7946", "--fast-gossip", "--advertise-addr", ip}, c.opts.Args...)
	if i < c.opts.Coordinators {
		args = append(args, "--coordinator")
	}
	if i > 0 {
		args = append(args, "--join", c.IPs[0]+":6443", "--token", c.joinToken())
	}
	data := t.TempDir()
	if c.opts.RunPods {
		PreloadImages(t, data)
	}
	a := StartAgent(t, AgentOptions{NodeName: name, NetNS: ns, Cluster: true, RunPods: c.opts.RunPods, DataDir: data,
		APIAddr: ip + ":6443", Advertise: ip, NodeAPIAddr: ip + ":10250", Args: args})
	c.Nodes = append(c.Nodes, a)
	c.IPs = append(c.IPs, ip)
	if i == 0 {
		a.waitReady(60 * time.Second)
	}
	return a
}

// joinToken creates (once) a token admitting coordinators, through the
// first node's socket.
func (c *Cluster) joinToken() string {
	if c.token != "" {
		return c.token
	}
	_, agentctl := Build(c.t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, agentctl, "--socket", c.Nodes[0].Socket, "token", "create", "--coordinator").CombinedOutput()
	if err != nil {
		c.t.Fatalf("agentctl token create: %v\n%s", err, out)
	}
	c.token = strings.TrimSpace(string(out))
	return c.token
}

func mustIP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// outsideAddr is the switch namespace's own address: a machine on the
// nodes' network that is not a node.
const outsideAddr = clusterSubnet + "254"

// Outside serves body over HTTP from the switch namespace, a machine on
// the nodes' network that is not a node and has no route to pods, and
// returns its URL. Pods reach it only through the nodes' egress
// masquerade.
func (c *Cluster) Outside(body string) string {
	t := c.t
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	mustIP(t, "-n", c.Switch, "addr", "add", outsideAddr+"/24", "dev", "br0")
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox: %v", err)
	}
	argv := inNetNS(c.Switch, []string{busybox, "httpd", "-f", "-p", outsideAddr + ":8000", "-h", dir})
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return "http://" + outsideAddr + ":8000/"
}
