package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

// One replica, so that every other node reaches it through another node.
const nodePortManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: whoami
spec:
  replicas: 1
  selector:
    matchLabels: {app: whoami}
  template:
    metadata:
      labels: {app: whoami}
    spec:
      containers:
      - name: demo
        image: localhost/demo:v1
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: cluster
spec:
  type: NodePort
  selector: {app: whoami}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata:
  name: local
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: whoami}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
---
apiVersion: v1
kind: Service
metadata:
  name: lb
spec:
  type: LoadBalancer
  selector: {app: whoami}
  ports: [{port: 80, targetPort: 8080}]
`

// TestCluster_nodePort reaches a Deployment from a machine outside the
// cluster (the switch's namespace) through a NodePort on every node, with
// externalTrafficPolicy Local through the node that runs the pod (the pod
// sees the outside client's address; the other nodes drop), and through a
// LoadBalancer service's pool address; with pods routed directly and over
// VXLAN.
func TestCluster_nodePort(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	for _, routing := range []string{"direct", "vxlan"} {
		t.Run(routing, func(t *testing.T) { testNodePort(t, kc, routing) })
	}
}

func testNodePort(t *testing.T, kc, routing string) {
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 3, Coordinators: 1, RunPods: true,
		Args: []string{"--loadbalancer-pool", "10.77.0.200-10.77.0.209", "--pod-routing", routing}})
	manifest := t.TempDir() + "/nodeport.yaml"
	writeFile(t, manifest, nodePortManifest)
	k(t, c.Nodes[0], kc, "apply", "-f", manifest)
	k(t, c.Nodes[0], kc, "rollout", "status", "deployment/whoami", "--timeout=120s")
	podNode := strings.TrimSpace(k(t, c.Nodes[0], kc, "get", "pods", "-l", "app=whoami", "-o", "jsonpath={.items[0].spec.nodeName}"))

	c.Outside("") // gives the switch an address on the nodes' network
	client := netip.MustParseAddr("10.77.0.254")
	outside, err := ns.GetNS("/run/netns/" + c.Switch)
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	// whoami asks the demo, from outside, which client address it sees.
	whoami := func(url string) (netip.AddrPort, error) {
		tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := outside.Do(func(ns.NetNS) error {
				var err error
				conn, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Get(url + "/whoami")
		if err != nil {
			return netip.AddrPort{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return netip.AddrPort{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return netip.AddrPort{}, fmt.Errorf("%s: %s", resp.Status, body)
		}
		return netip.ParseAddrPort(strings.TrimSpace(string(body)))
	}
	// reach waits until url answers and returns the client address seen.
	reach := func(url string) netip.AddrPort {
		t.Helper()
		var seen netip.AddrPort
		var last error
		waitFor(t, url+" to answer from outside", 60*time.Second, func() bool {
			seen, last = whoami(url)
			return last == nil
		})
		return seen
	}

	t.Run("node port on every node", func(t *testing.T) {
		for i, n := range c.Nodes {
			seen := reach(fmt.Sprintf("http://%s:30080", c.IPs[i]))
			// A pod on the node sees the client; one on another node
			// sees the node that forwarded it.
			want := client
			if n.NodeName != podNode {
				want = netip.MustParseAddr(c.IPs[i])
			}
			if seen.Addr() != want {
				t.Errorf("through %s (pod on %s): the pod saw %s, want %s", n.NodeName, podNode, seen, want)
			}
			t.Logf("through %s (pod on %s): the pod saw %s", n.NodeName, podNode, seen)
		}
	})
	t.Run("external traffic policy Local keeps the client address", func(t *testing.T) {
		for i, n := range c.Nodes {
			url := fmt.Sprintf("http://%s:30081", c.IPs[i])
			if n.NodeName == podNode {
				if seen := reach(url); seen.Addr() != client {
					t.Errorf("through %s: the pod saw %s, want the outside client %s", n.NodeName, seen, client)
				}
				continue
			}
			if seen, err := whoami(url); err == nil {
				t.Errorf("through %s, which has no endpoint of the service, the pod answered (it saw %s)", n.NodeName, seen)
			}
		}
	})
	t.Run("load balancer address", func(t *testing.T) {
		waitFor(t, "a load balancer address", 30*time.Second, func() bool {
			return k(t, c.Nodes[0], kc, "get", "svc", "lb", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}") == "10.77.0.200"
		})
		t.Logf("through 10.77.0.200: the pod saw %s", reach("http://10.77.0.200"))
	})
}
