package cluster

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

const workloads = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 6
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: demo
        image: localhost/demo:v1
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agentd
spec:
  selector:
    matchLabels: {app: agentd}
  template:
    metadata:
      labels: {app: agentd}
    spec:
      containers:
      - name: sleep
        image: localhost/busybox:v1
        command: ["sleep", "3600"]
---
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: demo
        image: localhost/demo:v1
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: echo
        image: localhost/busybox:v1
        command: ["sh", "-c", "echo done"]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "@every 5s"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: echo
            image: localhost/busybox:v1
            command: ["sh", "-c", "echo tick"]
`

// perNode counts the pods of a selector on each node.
func perNode(t *testing.T, c *harness.Cluster, kc, selector string) map[string]int {
	t.Helper()
	out := k(t, c.Nodes[0], kc, "get", "pods", "-l", selector, "--field-selector", "status.phase=Running",
		"-o", `jsonpath={range .items[*]}{.spec.nodeName}{"\n"}{end}`)
	counts := map[string]int{}
	for _, n := range strings.Fields(out) {
		counts[n]++
	}
	return counts
}

// TestCluster_workloads runs every workload controller on three nodes with
// real containers, then kills a worker and times its pods' replacement.
func TestCluster_workloads(t *testing.T) {
	requireRoot(t)
	kc := kubectlbin.Require(t, "1.33")
	c := harness.StartCluster(t, harness.ClusterOptions{Nodes: 3, Coordinators: 1, RunPods: true})
	first := c.Nodes[0]
	kubectlIn := func(args ...string) string { return k(t, first, kc, args...) }
	manifest := t.TempDir() + "/workloads.yaml"
	writeFile(t, manifest, workloads)
	kubectlIn("apply", "-f", manifest)

	t.Run("deployment spreads 2/2/2", func(t *testing.T) {
		kubectlIn("rollout", "status", "deployment/web", "--timeout=120s")
		got := perNode(t, c, kc, "app=web")
		if len(got) != 3 || got["node-1"] != 2 || got["node-2"] != 2 || got["node-3"] != 2 {
			t.Fatalf("web pods per node: %v", got)
		}
	})
	t.Run("daemonset on every node, and on a node that joins", func(t *testing.T) {
		kubectlIn("rollout", "status", "daemonset/agentd", "--timeout=120s")
		if got := perNode(t, c, kc, "app=agentd"); len(got) != 3 {
			t.Fatalf("daemon pods per node: %v", got)
		}
		c.AddNode()
		first.WaitNodeReady("node-4", 90*time.Second)
		waitFor(t, "a daemon pod on node-4", 120*time.Second, func() bool {
			return perNode(t, c, kc, "app=agentd")["node-4"] == 1
		})
	})
	t.Run("statefulset in order with stable names", func(t *testing.T) {
		kubectlIn("rollout", "status", "statefulset/db", "--timeout=180s")
		out := kubectlIn("get", "pods", "-l", "app=db", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.metadata.creationTimestamp} {.spec.hostname}.{.spec.subdomain}{"\n"}{end}`)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		sort.Slice(lines, func(i, j int) bool { return strings.Fields(lines[i])[1] < strings.Fields(lines[j])[1] })
		var names []string
		for _, l := range lines {
			f := strings.Fields(l)
			names = append(names, f[0])
			if f[2] != f[0]+".db" {
				t.Errorf("%s: hostname.subdomain %s", f[0], f[2])
			}
		}
		if strings.Join(names, ",") != "db-0,db-1,db-2" {
			t.Fatalf("statefulset pods in creation order: %v", names)
		}
	})
	t.Run("job completes", func(t *testing.T) {
		kubectlIn("wait", "--for=condition=complete", "job/once", "--timeout=120s")
		if out := kubectlIn("logs", "job/once"); out != "done\n" {
			t.Fatalf("job logs: %q", out)
		}
	})
	t.Run("cronjob fires", func(t *testing.T) {
		waitFor(t, "a job of cronjob tick to complete", 120*time.Second, func() bool {
			out := kubectlIn("get", "jobs", "-o", `jsonpath={range .items[?(@.status.succeeded==1)]}{.metadata.ownerReferences[0].name}{"\n"}{end}`)
			return strings.Contains(out, "tick")
		})
	})
	t.Run("pods reach pods on other nodes", func(t *testing.T) {
		targets := kubectlIn("get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.spec.nodeName} {.metadata.name} {.status.podIP}{"\n"}{end}`)
		client := strings.TrimSpace(kubectlIn("get", "pods", "-l", "app=agentd", "--field-selector", "spec.nodeName=node-1", "-o", "jsonpath={.items[0].metadata.name}"))
		reached := 0
		for _, line := range strings.Split(strings.TrimSpace(targets), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || f[0] == "node-1" {
				continue
			}
			got := kubectlIn("exec", client, "--", "timeout", "5", "wget", "-qO-", "http://"+f[2]+":8080/")
			if !strings.Contains(got, f[1]) {
				t.Fatalf("%s on node-1 asked %s (%s on %s) and got %q", client, f[2], f[1], f[0], got)
			}
			reached++
		}
		if reached < 2 {
			t.Fatalf("only %d pods on other nodes to reach:\n%s", reached, targets)
		}
	})
	t.Run("pods reach the outside, nodes reach pods", func(t *testing.T) {
		url := c.Outside("outside\n")
		for _, node := range []string{"node-1", "node-2", "node-3"} {
			pod := strings.TrimSpace(kubectlIn("get", "pods", "-l", "app=agentd", "--field-selector", "spec.nodeName="+node, "-o", "jsonpath={.items[0].metadata.name}"))
			if got := kubectlIn("exec", pod, "--", "timeout", "5", "wget", "-qO-", url); got != "outside\n" {
				t.Fatalf("%s on %s fetched %q from %s", pod, node, got, url)
			}
		}
		target := strings.Fields(kubectlIn("get", "pods", "-l", "app=web", "--field-selector", "spec.nodeName=node-1", "-o",
			`jsonpath={.items[0].metadata.name} {.items[0].status.podIP}`))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := c.Nodes[1].Run(ctx, "busybox", "sh", "-c", "timeout 5 busybox wget -qO- http://"+target[1]+":8080/")
		if err != nil || !strings.Contains(got, target[0]) {
			t.Fatalf("node-2 asked %s (%s on node-1): %v %q", target[1], target[0], err, got)
		}
	})
	t.Run("a killed worker's pods run elsewhere", func(t *testing.T) {
		victim := c.Nodes[2]
		before := perNode(t, c, kc, "app=web")["node-3"]
		if before == 0 {
			t.Fatal("node-3 runs no web pod")
		}
		victim.Kill()
		took := waitFor(t, "6 ready web pods off node-3", 120*time.Second, func() bool {
			out := kubectlIn("get", "pods", "-l", "app=web", "-o",
				`jsonpath={range .items[*]}{.spec.nodeName}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
			ready := 0
			for _, l := range strings.Fields(out) {
				if !strings.HasPrefix(l, "node-3=") && strings.HasSuffix(l, "=True") {
					ready++
				}
			}
			return ready >= 6
		})
		t.Logf("node death to replacement pods Running and Ready elsewhere: %s (%d pods were on node-3)", took.Round(100*time.Millisecond), before)
	})
}
