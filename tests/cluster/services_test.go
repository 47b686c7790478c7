package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/miekg/dns"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

// The demo replicas stay off node-2, where the client pod the test kills
// the agent under runs, so every request crosses nodes. Each workload
// sleeps for its own number of seconds, by which the test finds its
// processes on the machine.
const servicesManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/hostname, operator: NotIn, values: [node-2]}]
      containers:
      - name: demo
        image: localhost/demo:v1
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: client
spec:
  selector:
    matchLabels: {app: client}
  template:
    metadata:
      labels: {app: client}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: sh
        image: localhost/busybox:v1
        command: ["sleep", "86400"]
---
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: sh
        image: localhost/busybox:v1
        command: ["sleep", "86402"]
---
apiVersion: v1
kind: Pod
metadata:
  name: udp
  labels: {app: udp}
spec:
  nodeSelector: {kubernetes.io/hostname: node-3}
  terminationGracePeriodSeconds: 0
  containers:
  - name: sh
    image: localhost/busybox:v1
    command: ["sleep", "86401"]
---
apiVersion: v1
kind: Service
metadata:
  name: udp
spec:
  selector: {app: udp}
  ports: [{name: dns, port: 53, protocol: UDP, targetPort: 5353}]
`

// podRow is a pod's name, node and address.
type podRow struct{ name, node, ip string }

func podRows(t *testing.T, api *harness.Agent, kc, selector string) []podRow {
	t.Helper()
	out := k(t, api, kc, "get", "pods", "-l", selector, "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP}{"\n"}{end}`)
	var rows []podRow
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("pods %s:\n%s", selector, out)
		}
		rows = append(rows, podRow{f[0], f[1], f[2]})
	}
	return rows
}

// TestCluster_services drives Services across three nodes with real
// containers: a ClusterIP service reached by name from a pod on another
// node, spread over its ready replicas and leaving out one that fails
// readiness; a headless StatefulSet pod resolved by name; UDP through a
// cluster IP; the kube-dns service's endpoints; and a client pod whose
// agent is killed still resolving names and reaching the service.
func TestCluster_services(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 3, Coordinators: 1, RunPods: true})
	api := c.Nodes[0]
	kubectl := func(args ...string) string { return k(t, api, kc, args...) }
	manifest := t.TempDir() + "/services.yaml"
	writeFile(t, manifest, servicesManifest)
	kubectl("apply", "-f", manifest)
	kubectl("rollout", "status", "deployment/web", "--timeout=180s")
	kubectl("rollout", "status", "daemonset/client", "--timeout=120s")
	kubectl("rollout", "status", "statefulset/db", "--timeout=120s")
	kubectl("wait", "--for=condition=Ready", "pod/udp", "--timeout=120s")

	webs := podRows(t, api, kc, "app=web")
	onNode := map[string]int{}
	for _, w := range webs {
		onNode[w.node]++
	}
	if len(webs) != 4 || onNode["node-1"] == 0 || onNode["node-3"] == 0 || onNode["node-2"] != 0 {
		t.Fatalf("web replicas per node: %v", onNode)
	}
	clients := map[string]podRow{} // node to its client pod
	for _, p := range podRows(t, api, kc, "app=client") {
		clients[p.node] = p
	}
	client := clients["node-2"].name
	if client == "" {
		t.Fatalf("no client pod on node-2: %v", clients)
	}
	webIP := strings.TrimSpace(kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))

	// ask fetches url n times from the client pod and counts the answers
	// (a replica's hostname, or "failed").
	ask := func(t *testing.T, url string, n int) map[string]int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := api.Run(ctx, kc, "exec", client, "--", "sh", "-c",
			fmt.Sprintf("for i in $(seq %d); do timeout 5 wget -qO- %s 2>/dev/null || echo failed; done", n, url))
		if err != nil {
			t.Fatalf("exec in %s: %v\n%s", client, err, out)
		}
		got := map[string]int{}
		for _, line := range strings.Fields(out) {
			got[line]++
		}
		return got
	}

	t.Run("kube-dns has one endpoint per node, at its pod bridge", func(t *testing.T) {
		if ip := kubectl("get", "svc", "-n", "kube-system", "kube-dns", "-o", "jsonpath={.spec.clusterIP}"); ip != "10.96.0.10" {
			t.Fatalf("kube-dns cluster IP %q, want 10.96.0.10", ip)
		}
		// nodeName=address:ready for every endpoint, and every node's
		// first pod CIDR address.
		var eps, want string
		defer func() {
			if t.Failed() {
				t.Logf("kube-dns endpoints %q, want %q", eps, want)
			}
		}()
		waitFor(t, "kube-dns endpoints of every node", 30*time.Second, func() bool {
			eps = strings.TrimSpace(k(t, api, kc, "get", "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns", "-o",
				`jsonpath={range .items[*].endpoints[*]}{.nodeName}={.addresses[0]}:{.conditions.ready} {end}`))
			var w []string
			for _, line := range strings.Split(strings.TrimSpace(k(t, api, kc, "get", "nodes", "-o",
				`jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR}{"\n"}{end}`)), "\n") {
				f := strings.Fields(line)
				if len(f) != 2 {
					return false
				}
				gw := strings.TrimSuffix(f[1], "0/24") + "1"
				w = append(w, f[0]+"="+gw+":true")
			}
			got := strings.Fields(eps)
			slices.Sort(got)
			slices.Sort(w)
			eps, want = strings.Join(got, " "), strings.Join(w, " ")
			return eps == want
		})
		t.Logf("kube-dns endpoints: %s", eps)
	})

	t.Run("reached by name from another node", func(t *testing.T) {
		// The service reaches node-2's DNS view and maps moments after
		// the rollout.
		var got map[string]int
		waitFor(t, "web.default.svc.cluster.local to answer", 60*time.Second, func() bool {
			got = ask(t, "http://web.default.svc.cluster.local/", 1)
			return got["failed"] == 0
		})
		for _, url := range []string{"http://web.default.svc.cluster.local/", "http://web/", "http://" + webIP + "/"} {
			got = ask(t, url, 3)
			for name, n := range got {
				if !hasPod(webs, name) {
					t.Fatalf("%s from %s on node-2: %d answers %q (all: %v)", url, client, n, name, got)
				}
			}
		}
	})

	t.Run("requests spread over every ready replica", func(t *testing.T) {
		got := ask(t, "http://web/", 40)
		for _, w := range webs {
			if got[w.name] == 0 {
				t.Errorf("replica %s on %s never answered: %v", w.name, w.node, got)
			}
		}
		if got["failed"] != 0 {
			t.Errorf("failed requests: %v", got)
		}
		t.Logf("40 requests from node-2: %v", got)
	})

	t.Run("a replica failing readiness gets no traffic until it recovers", func(t *testing.T) {
		var victim podRow
		for _, w := range webs {
			if w.node == "node-3" {
				victim = w
			}
		}
		control := func(path string) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := api.Run(ctx, kc, "exec", client, "--", "timeout", "5", "wget", "-qO-", "http://"+victim.ip+":8080/"+path)
			if err != nil {
				t.Fatalf("%s on %s: %v\n%s", path, victim.name, err, out)
			}
		}
		// slice is the web service's endpoints as "IP=READY" words.
		slice := func() string {
			return " " + k(t, api, kc, "get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o",
				`jsonpath={range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready} {end}`)
		}
		control("fail")
		took := waitFor(t, victim.name+" not ready in the EndpointSlice", 60*time.Second, func() bool {
			s := slice()
			return !strings.Contains(s, " "+victim.ip+"=true ")
		})
		t.Logf("%s failing /healthz, out of the EndpointSlice's ready endpoints after %s", victim.name, took.Round(10*time.Millisecond))
		got := ask(t, "http://web/", 40)
		if got[victim.name] != 0 || got["failed"] != 0 {
			t.Fatalf("40 requests after %s turned not ready: %v", victim.name, got)
		}
		for _, w := range webs {
			if w != victim && got[w.name] == 0 {
				t.Errorf("ready replica %s never answered: %v", w.name, got)
			}
		}

		control("recover")
		waitFor(t, victim.name+" ready in the EndpointSlice", 60*time.Second, func() bool {
			return strings.Contains(slice(), " "+victim.ip+"=true ")
		})
		got = ask(t, "http://web/", 40)
		if got[victim.name] == 0 || got["failed"] != 0 {
			t.Fatalf("40 requests after %s recovered: %v", victim.name, got)
		}
	})

	t.Run("a headless statefulset pod resolves by name from another node", func(t *testing.T) {
		var db0 podRow
		for _, p := range podRows(t, api, kc, "app=db") {
			if p.name == "db-0" {
				db0 = p
			}
		}
		var from podRow
		for node, p := range clients {
			if node != db0.node {
				from = p
			}
		}
		var out string
		waitFor(t, "db-0.db.default.svc.cluster.local to resolve", 60*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, _ = api.Run(ctx, kc, "exec", from.name, "--", "nslookup", "db-0.db.default.svc.cluster.local")
			return strings.Contains(out, "Address: "+db0.ip+"\n")
		})
		t.Logf("db-0 on %s resolved from %s on %s", db0.node, from.name, from.node)
	})

	udpIP := strings.TrimSpace(kubectl("get", "svc", "udp", "-o", "jsonpath={.spec.clusterIP}"))
	// A DNS server in the udp pod's network namespace on node-3 is the udp
	// service's backend, until the test ends.
	udpPid, _, err := c.Nodes[2].PodProcess("sleep\x0086401")
	if err != nil {
		t.Fatal(err)
	}
	sources := serveDNSIn(t, fmt.Sprintf("/proc/%d/ns/net", udpPid))
	t.Run("UDP through a cluster IP across nodes", func(t *testing.T) {
		var out string
		waitFor(t, "a DNS answer through "+udpIP, 60*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, _ = api.Run(ctx, kc, "exec", client, "--", "nslookup", "-type=a", "udp.test", udpIP)
			return strings.Contains(out, "Address: 192.0.2.53")
		})
		if got := sources(); !strings.Contains(got, clients["node-2"].ip+":") {
			t.Errorf("queries came from %s, want the client pod %s (no NAT on the way)", got, clients["node-2"].ip)
		}
	})

	t.Run("service traffic survives the client node's agent", func(t *testing.T) {
		node := c.Nodes[1]
		pid, cgroup, err := node.PodProcess("sleep\x0086400")
		if err != nil {
			t.Fatal(err)
		}
		// A shell in the client pod's cgroup and network namespace: what
		// the pod's own processes see, with nobody left on the node to
		// exec them.
		inPod := func(cmd string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			return node.Run(ctx, "sh", "-c", fmt.Sprintf("echo $$ > %s/cgroup.procs && exec nsenter -t %d -n sh -c '%s'", cgroup, pid, cmd))
		}
		// The same with the pod's files: its resolv.conf and busybox.
		inPodFS := func(cmd string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			return node.Run(ctx, "sh", "-c", fmt.Sprintf("echo $$ > %s/cgroup.procs && exec nsenter -t %d -n -m /bin/busybox sh -c '%s'", cgroup, pid, cmd))
		}
		node.Kill()
		// Wait until the cluster has noticed: gossip has declared the
		// member failed, so the other nodes act on it.
		took := waitFor(t, "node-2 NotReady", 60*time.Second, func() bool {
			return k(t, api, kc, "get", "node", "node-2", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`) == "Unknown"
		})
		t.Logf("node-2's agent killed, its node Unknown after %s", took.Round(10*time.Millisecond))
		out, err := inPod("for i in $(seq 20); do timeout 5 busybox wget -qO- http://" + webIP + "/ 2>/dev/null || { echo failed; break; }; done")
		if err != nil {
			t.Fatalf("requests to %s with node-2's agent killed: %v\n%s", webIP, err, out)
		}
		got := map[string]int{}
		for _, name := range strings.Fields(out) {
			got[name]++
		}
		for name := range got {
			if !hasPod(webs, name) {
				t.Fatalf("with node-2's agent killed, 20 requests to %s: %v", webIP, got)
			}
		}
		t.Logf("with node-2's agent killed, 20 requests to %s: %v", webIP, got)
		out, err = inPod("timeout 5 busybox nslookup -type=a udp.test " + udpIP)
		if err != nil || !strings.Contains(out, "Address: 192.0.2.53") {
			t.Errorf("UDP through %s with node-2's agent killed: %v\n%s", udpIP, err, out)
		}
		// The node's own DNS died with its agent: 169.254.20.10 refuses,
		// and the resolver moves on to the kube-dns service, which the
		// pinned maps send to another node's DNS.
		if out, err := inPod("timeout 5 busybox nslookup web.default.svc.cluster.local 169.254.20.10"); err == nil {
			t.Errorf("node-2's own cluster DNS answers with its agent killed:\n%s", out)
		}
		// busybox nslookup waits out its 5 s timeout on a refusing server
		// before it asks the next; the C library moves on at the refusal,
		// which the kernel sends at most once a second to a pod after a
		// burst (net.ipv4.icmp_ratelimit), else after 5 s.
		start := time.Now()
		out, err = inPodFS("timeout 30 nslookup -type=a web.default.svc.cluster.local")
		if err != nil || !strings.Contains(out, "Address: "+webIP) {
			t.Fatalf("web.default.svc.cluster.local with node-2's agent killed: %v\n%s", err, out)
		}
		t.Logf("nslookup with node-2's agent killed answered in %s", time.Since(start).Round(10*time.Millisecond))
		start = time.Now()
		out, err = inPodFS("for i in $(seq 10); do timeout 15 wget -qO- http://web/ 2>/dev/null || { echo failed; break; }; done")
		if err != nil {
			t.Fatalf("requests to http://web/ with node-2's agent killed: %v\n%s", err, out)
		}
		got = map[string]int{}
		for _, name := range strings.Fields(out) {
			got[name]++
		}
		for name := range got {
			if !hasPod(webs, name) {
				t.Fatalf("with node-2's agent killed, 10 requests to http://web/: %v", got)
			}
		}
		t.Logf("with node-2's agent killed, 10 requests to http://web/ in %s: %v", time.Since(start).Round(10*time.Millisecond), got)
	})
}

func hasPod(rows []podRow, name string) bool {
	for _, r := range rows {
		if r.name == name {
			return true
		}
	}
	return false
}

// serveDNSIn serves DNS over UDP on port 5353 in the network namespace at
// nsPath until the test ends: every A question gets 192.0.2.53, other
// types an empty answer. It returns a function listing the addresses
// questions came from.
func serveDNSIn(t *testing.T, nsPath string) func() string {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		mu.Lock()
		seen[w.RemoteAddr().String()] = true
		mu.Unlock()
		m := new(dns.Msg).SetReply(req)
		m.Authoritative = true
		if q := req.Question; len(q) == 1 && q[0].Qtype == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5},
				A: net.IPv4(192, 0, 2, 53)}}
		}
		w.WriteMsg(m)
	})
	target, err := ns.GetNS(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	var pc net.PacketConn
	err = target.Do(func(ns.NetNS) (err error) {
		pc, err = net.ListenPacket("udp4", ":5353")
		return err
	})
	if err != nil {
		t.Fatalf("DNS server in %s: %v", nsPath, err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for a := range seen {
			out = append(out, a)
		}
		return strings.Join(out, " ")
	}
}
