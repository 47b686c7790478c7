package pods

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const clusterIPWorkload = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 3
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: demo
        image: localhost/demo:v1
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  selector: {app: demo}
  ports: [{name: web, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata:
  name: nothing
spec:
  selector: {app: none}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: sh
    image: localhost/busybox:v1
    command: [sleep, "3600"]
`

// TestServices_clusterIP reaches a Deployment of the demo image through
// its ClusterIP from a pod: the socket load balancer sends the requests
// to every ready replica, refuses connections to a service without
// endpoints, and keeps routing once the agent is killed.
func TestServices_clusterIP(t *testing.T) {
	n := startNode(t, "1.33")
	file := filepath.Join(t.TempDir(), "svc.yaml")
	if err := os.WriteFile(file, []byte(clusterIPWorkload), 0o644); err != nil {
		t.Fatal(err)
	}
	n.k("apply", "-f", file)
	n.k("rollout", "status", "deployment/demo", "--timeout=180s")
	n.k("wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
	ip := strings.TrimSpace(n.k("get", "service", "demo", "-o", "jsonpath={.spec.clusterIP}"))
	none := strings.TrimSpace(n.k("get", "service", "nothing", "-o", "jsonpath={.spec.clusterIP}"))
	replicas := strings.Fields(n.k("get", "pods", "-l", "app=demo", "-o", "jsonpath={.items[*].metadata.name}"))

	// The endpoints may reach the node a moment after the rollout.
	seen := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for len(seen) < len(replicas) && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, _ := n.agent.Run(ctx, n.kubectl, "exec", "client", "--", "sh", "-c",
			"for i in $(seq 30); do timeout 5 wget -qO- http://"+ip+"/; echo; done")
		cancel()
		for _, line := range strings.Fields(out) {
			seen[line]++
		}
	}
	for _, r := range replicas {
		if seen[r] == 0 {
			t.Errorf("replica %s never answered at %s: answers %v", r, ip, seen)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := n.agent.Run(ctx, n.kubectl, "exec", "client", "--", "sh", "-c",
		"timeout 5 wget -qO- http://"+none+"/ 2>&1")
	if err == nil || !strings.Contains(out, "refused") {
		t.Errorf("a service without endpoints: %v: %q, want connection refused", err, out)
	}

	// With the agent gone (and the API with it), a process in the client
	// pod's cgroup and network namespace still reaches the service.
	pid, podCgroup := podProcess(t, "keel-test-"+filepath.Base(filepath.Dir(n.agent.Socket)), "sleep\x003600")
	n.agent.Kill()
	out, err = n.agent.Run(ctx, "sh", "-c", "echo $$ > "+podCgroup+"/cgroup.procs && "+
		"exec timeout 5 nsenter -t "+pid+" -n busybox wget -qO- http://"+ip+"/")
	if err != nil || !slices.Contains(replicas, strings.TrimSpace(out)) {
		t.Errorf("with the agent killed: %v: %q, want a replica's name", err, out)
	}
}

// podProcess finds a process of the pods under cgroup parent whose
// command line (NUL-separated) starts with cmdline, and returns its pid
// and its cgroup v2 directory.
func podProcess(t *testing.T, parent, cmdline string) (string, string) {
	t.Helper()
	root := "/sys/fs/cgroup"
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err == nil {
		root = "/sys/fs/cgroup/unified"
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cg, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		if err != nil {
			continue
		}
		var path string
		for _, line := range strings.Split(string(cg), "\n") {
			if v, ok := strings.CutPrefix(line, "0::"); ok {
				path = v
			}
		}
		if !strings.HasPrefix(path, "/"+parent+"/") {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(cmd), cmdline) {
			return p.Name(), filepath.Join(root, path)
		}
	}
	t.Fatalf("no process %q in the pods of cgroup %s", cmdline, parent)
	return "", ""
}
