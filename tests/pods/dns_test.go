package pods

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/miekg/dns"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

const dnsServices = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
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
apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  type: ExternalName
  externalName: www.example.com
`

const dnsPods = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 1
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: localhost/busybox:v1
        command: ["sh", "-c", "while true; do sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/busybox:v1
    command: ["sh", "-c", "while true; do sleep 1; done"]
    env:
    - {name: WEB_URL, value: "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT_HTTP)/"}
---
apiVersion: v1
kind: Pod
metadata:
  name: nolinks
spec:
  enableServiceLinks: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/busybox:v1
    command: ["sh", "-c", "while true; do sleep 1; done"]
`

// upstreamDNS serves, on the loopback of network namespace netns, the
// resolver the node forwards to: www.example.com is 192.0.2.80, other
// names do not exist. It returns its address.
func upstreamDNS(t *testing.T, netns string) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		m.RecursionAvailable = true
		switch q := req.Question[0]; {
		case strings.EqualFold(q.Name, "www.example.com.") && q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR("www.example.com. 60 IN A 192.0.2.80")
			m.Answer = []dns.RR{rr}
		case strings.EqualFold(q.Name, "www.example.com."):
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	target, err := ns.GetNS("/run/netns/" + netns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	var pc net.PacketConn
	var ln net.Listener
	err = target.Do(func(ns.NetNS) (err error) {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		return err
	})
	if err != nil {
		t.Fatalf("upstream DNS in %s: %v", netns, err)
	}
	udp, tcp := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return pc.LocalAddr().String()
}

// TestPods_clusterDNS: pods resolve a ClusterIP service, a headless
// StatefulSet pod by name, an ExternalName and a name outside the cluster
// (forwarded to the node's upstream) through the agent's cluster DNS,
// with the kubelet's resolv.conf, and get the service variables.
func TestPods_clusterDNS(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	netns := harness.NetNS(t)
	up := upstreamDNS(t, netns)
	data := t.TempDir()
	harness.PreloadImages(t, data)
	a := harness.StartAgent(t, harness.AgentOptions{DataDir: data, RunPods: true, NetNS: netns, Args: []string{"--dns-upstream", up}})
	n := &node{t: t, agent: a, netns: netns, kubectl: kc}

	apply := func(name, manifest string) {
		file := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		n.k("apply", "-f", file)
	}
	// The services exist before the pods start, so the pods get their
	// variables.
	apply("services.yaml", dnsServices)
	webIP := strings.TrimSpace(n.k("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))
	apply("pods.yaml", dnsPods)
	n.k("wait", "--for=condition=Ready", "pod/client", "pod/nolinks", "pod/db-0", "--timeout=120s")
	dbIP := strings.TrimSpace(n.k("get", "pod", "db-0", "-o", "jsonpath={.status.podIP}"))

	if out := n.k("exec", "client", "--", "cat", "/etc/resolv.conf"); out !=
		"nameserver 169.254.20.10\nnameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n" {
		t.Errorf("pod resolv.conf:\n%s", out)
	}

	// nslookup runs until the name resolves: the DNS view follows the
	// API within moments of a change.
	lookup := func(name string, want ...string) {
		t.Helper()
		var out string
		for deadline := time.Now().Add(60 * time.Second); ; {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, _ = a.Run(ctx, kc, "exec", "client", "--", "nslookup", name)
			cancel()
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(out, w)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("nslookup %s: want %q in\n%s", name, want, out)
				return
			}
			time.Sleep(time.Second)
		}
	}
	lookup("web.default.svc.cluster.local", "Address: "+webIP)
	lookup("db-0.db.default.svc.cluster.local", "Address: "+dbIP)
	lookup("db.default.svc.cluster.local", "Address: "+dbIP)
	// The C library's resolver walks the search path: "db-0.db" is the
	// StatefulSet pod (nslookup does not search). Only the name's
	// resolution matters here, not the ping.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	out, _ := a.Run(ctx, kc, "exec", "client", "--", "ping", "-c1", "-W1", "db-0.db")
	cancel()
	if !strings.Contains(out, "PING db-0.db ("+dbIP+")") {
		t.Errorf("ping db-0.db through the search path: want it resolved to %s:\n%s", dbIP, out)
	}
	lookup("ext.default.svc.cluster.local", "canonical name = www.example.com", "Address: 192.0.2.80")
	lookup("www.example.com", "Address: 192.0.2.80")

	env := n.k("exec", "client", "--", "env")
	for _, want := range []string{
		"WEB_SERVICE_HOST=" + webIP + "\n",
		"WEB_SERVICE_PORT=80\n",
		"WEB_SERVICE_PORT_HTTP=80\n",
		"WEB_PORT=tcp://" + webIP + ":80\n",
		"WEB_PORT_80_TCP=tcp://" + webIP + ":80\n",
		"WEB_PORT_80_TCP_PROTO=tcp\n",
		"WEB_PORT_80_TCP_PORT=80\n",
		"WEB_PORT_80_TCP_ADDR=" + webIP + "\n",
		"WEB_URL=http://" + webIP + ":80/\n",
		"KUBERNETES_SERVICE_HOST=10.96.0.1\n",
		"KUBERNETES_SERVICE_PORT=443\n",
	} {
		if !strings.Contains(env, want) {
			t.Errorf("client env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "DB_SERVICE_HOST") || strings.Contains(env, "EXT_SERVICE_HOST") {
		t.Errorf("variables for services without a cluster IP:\n%s", env)
	}
	env = n.k("exec", "nolinks", "--", "env")
	if strings.Contains(env, "WEB_SERVICE_HOST") || !strings.Contains(env, "KUBERNETES_SERVICE_HOST=10.96.0.1\n") {
		t.Errorf("enableServiceLinks false: want only the kubernetes service's variables:\n%s", env)
	}
}
