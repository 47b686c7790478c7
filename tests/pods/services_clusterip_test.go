package pods

import (
	"context"
	"os"
	"path/filepath"
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
// to every ready replica, and refuses connections to a service without
// endpoints.
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
}
