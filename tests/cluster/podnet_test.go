package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

// podNetPods places pods by name: two demo pods on node-1 and one on
// node-2, and on each node a demo pod in the node's network namespace
// (hostNetwork) listening on port 18080 of the node's addresses.
const podNetPods = `apiVersion: v1
kind: Pod
metadata: {name: a1, labels: {app: podnet}}
spec:
  nodeName: node-1
  containers: [{name: demo, image: localhost/demo:v1}]
---
apiVersion: v1
kind: Pod
metadata: {name: a2, labels: {app: podnet}}
spec:
  nodeName: node-1
  containers: [{name: demo, image: localhost/demo:v1}]
---
apiVersion: v1
kind: Pod
metadata: {name: b1, labels: {app: podnet}}
spec:
  nodeName: node-2
  containers: [{name: demo, image: localhost/demo:v1}]
---
apiVersion: v1
kind: Pod
metadata: {name: host1, labels: {app: podnet}}
spec:
  nodeName: node-1
  hostNetwork: true
  containers: [{name: demo, image: localhost/demo:v1, args: ["-listen", ":18080"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: host2, labels: {app: podnet}}
spec:
  nodeName: node-2
  hostNetwork: true
  containers: [{name: demo, image: localhost/demo:v1, args: ["-listen", ":18080"]}]
`

// podIPs maps the pods of a label selector to their IPs once every one
// is Ready.
func podIPs(t *testing.T, c *harness.Cluster, kc, selector string) map[string]string {
	t.Helper()
	k(t, c.Nodes[0], kc, "wait", "--for=condition=Ready", "pod", "-l", selector, "--timeout=120s")
	out := k(t, c.Nodes[0], kc, "get", "pods", "-l", selector, "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}`)
	ips := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			ips[f[0]] = f[1]
		}
	}
	return ips
}

// fetch runs busybox wget in pod for url and returns the body.
func fetch(t *testing.T, c *harness.Cluster, kc, pod, url string) string {
	t.Helper()
	return k(t, c.Nodes[0], kc, "exec", pod, "--", "timeout", "10", "wget", "-qO-", url)
}

// clientIP is the host part of a /whoami answer.
func clientIP(t *testing.T, whoami string) string {
	t.Helper()
	host, _, err := net.SplitHostPort(strings.TrimSpace(whoami))
	if err != nil {
		t.Fatalf("/whoami answered %q: %v", whoami, err)
	}
	return host
}

// TestCluster_podNetwork checks every path of the pod network on two
// nodes in the default routing mode (auto: the nodes share a subnet, so
// routes are direct): pod to pod on one node and across nodes, pod to
// node (another node and its own), node to pod and pod egress. Traffic
// within the cluster keeps the pod's address: the receiver sees the
// caller's pod IP, in its answer and in its log. When the cluster is
// gone, nothing it made is left on the host.
func TestCluster_podNetwork(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 2, Coordinators: 1, RunPods: true})
	manifest := t.TempDir() + "/pods.yaml"
	writeFile(t, manifest, podNetPods)
	k(t, c.Nodes[0], kc, "apply", "-f", manifest)
	ips := podIPs(t, c, kc, "app=podnet")
	node1, node2 := c.IPs[0], c.IPs[1]
	if ips["host1"] != node1 || ips["host2"] != node2 {
		t.Fatalf("hostNetwork pods' IPs %s and %s, want the nodes' %s and %s", ips["host1"], ips["host2"], node1, node2)
	}

	for _, tt := range []struct {
		name, from, url, want string
	}{
		{"pod to pod on one node", "a1", "http://" + ips["a2"] + ":8080/whoami", ips["a1"]},
		{"pod to pod across nodes", "a1", "http://" + ips["b1"] + ":8080/whoami", ips["a1"]},
		{"pod to pod across nodes, back", "b1", "http://" + ips["a1"] + ":8080/whoami", ips["b1"]},
		{"pod to another node", "a1", "http://" + node2 + ":18080/whoami", ips["a1"]},
		{"pod to its own node", "a1", "http://" + node1 + ":18080/whoami", ips["a1"]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientIP(t, fetch(t, c, kc, tt.from, tt.url)); got != tt.want {
				t.Fatalf("%s asked %s and was seen as %s, want its own address %s", tt.from, tt.url, got, tt.want)
			}
		})
	}
	t.Run("the receivers log the callers' pod IPs", func(t *testing.T) {
		for _, tt := range []struct{ pod, caller string }{{"a2", "a1"}, {"b1", "a1"}, {"host2", "a1"}, {"a1", "b1"}} {
			logs := k(t, c.Nodes[0], kc, "logs", tt.pod)
			if !strings.Contains(logs, "GET /whoami 200 from "+ips[tt.caller]+":") {
				t.Errorf("%s's log lacks a request from %s (%s):\n%s", tt.pod, tt.caller, ips[tt.caller], logs)
			}
		}
	})
	t.Run("node to pod", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := c.Nodes[1].Run(ctx, "busybox", "sh", "-c", "timeout 10 busybox wget -qO- http://"+ips["a1"]+":8080/whoami")
		if err != nil {
			t.Fatalf("node-2 asked a1 (%s): %v %s", ips["a1"], err, out)
		}
		if got := clientIP(t, out); got != node2 {
			t.Fatalf("node-2 was seen by a1 as %s, want %s", got, node2)
		}
	})
	t.Run("pod egress", func(t *testing.T) {
		url := c.Outside("outside\n")
		for _, pod := range []string{"a1", "b1"} {
			if got := fetch(t, c, kc, pod, url); got != "outside\n" {
				t.Fatalf("%s fetched %q from %s", pod, got, url)
			}
		}
	})
	t.Run("pods leave room for the overlay", func(t *testing.T) {
		// auto may route through VXLAN: 1500 on the nodes' eth0 less 50.
		for _, pod := range []string{"a1", "b1"} {
			if got := strings.TrimSpace(k(t, c.Nodes[0], kc, "exec", pod, "--", "cat", "/sys/class/net/eth0/mtu")); got != "1450" {
				t.Errorf("%s's eth0 MTU is %s, want 1450", pod, got)
			}
		}
	})
}

// nodeNet lists, in a node's network namespace, the agent's routes to
// other nodes' pods and the VXLAN device's permanent neighbours and
// forwarding entries.
func nodeNet(t *testing.T, n *harness.Agent) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	for _, argv := range [][]string{
		{"ip", "-4", "route", "show", "proto", "0x4b"},
		{"ip", "-4", "neigh", "show", "dev", "keel.vxlan", "nud", "permanent"},
		{"bridge", "fdb", "show", "dev", "keel.vxlan"},
	} {
		out, err := n.Run(ctx, argv[0], argv[1:]...)
		if err != nil {
			t.Fatalf("%s on %s: %v %s", strings.Join(argv, " "), n.NodeName, err, out)
		}
		fmt.Fprintf(&b, "%s:\n%s", strings.Join(argv, " "), out)
	}
	return b.String()
}
