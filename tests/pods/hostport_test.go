package pods

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const hostPortPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: demo
    image: localhost/demo:v1
    ports: [{containerPort: 8080, hostPort: 18080}]
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
`

// TestPods_hostPort publishes the demo pod's port 8080 on the node's
// port 18080 and reaches it at the node's address from the node's
// network namespace; deleting the pod unpublishes it.
func TestPods_hostPort(t *testing.T) {
	n := startNode(t, "1.33")
	file := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(file, []byte(hostPortPod), 0o644); err != nil {
		t.Fatal(err)
	}
	n.k("apply", "-f", file)
	n.k("wait", "--for=condition=Ready", "pod/web", "--timeout=120s")

	get := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return n.agent.Run(ctx, "timeout", "5", "busybox", "wget", "-qO-", "http://127.0.0.1:18080/")
	}
	if out, err := get(); err != nil || strings.TrimSpace(out) != "web" {
		t.Fatalf("node 127.0.0.1:18080 = %q, %v; want the pod's hostname web", out, err)
	}

	n.k("delete", "pod", "web", "--wait=true")
	if out, err := get(); err == nil {
		t.Fatalf("node 127.0.0.1:18080 still answers after the pod is deleted: %q", out)
	}
}
