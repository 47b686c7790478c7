package pods

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const statefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 2
  serviceName: web
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: c
        image: localhost/busybox:v1
        command: ["sh", "-c", "while true; do sleep 1; done"]
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
`

// TestPods_statefulSetKeepsItsVolume runs a StatefulSet whose pods get
// local-path volumes on the node; a pod deleted and made again under the
// same name finds what it wrote.
func TestPods_statefulSetKeepsItsVolume(t *testing.T) {
	n := startNode(t, "1.33")
	// Volumes go under the test's directory, not the host's /var/lib/keel.
	volumes := filepath.Join(t.TempDir(), "volumes")
	n.k("annotate", "node", "node-1", "volumes.keel.dev/local-path-dir="+volumes)
	file := filepath.Join(t.TempDir(), "sts.yaml")
	if err := os.WriteFile(file, []byte(statefulSet), 0o644); err != nil {
		t.Fatal(err)
	}
	n.k("apply", "-f", file)
	if out := n.k("rollout", "status", "sts/web", "--timeout=180s"); !strings.Contains(out, "complete") {
		t.Fatalf("rollout status: %s", out)
	}
	pvcs := n.k("get", "pvc", "-o", "custom-columns=NAME:.metadata.name,STATUS:.status.phase,VOLUME:.spec.volumeName", "--no-headers")
	if strings.Count(pvcs, "Bound") != 2 || !strings.Contains(pvcs, "data-web-0") || !strings.Contains(pvcs, "data-web-1") {
		t.Fatalf("claims:\n%s", pvcs)
	}
	volume := strings.TrimSpace(n.k("get", "pvc", "data-web-0", "-o", "jsonpath={.spec.volumeName}"))
	path := strings.TrimSpace(n.k("get", "pv", volume, "-o", "jsonpath={.spec.local.path}"))
	if path != filepath.Join(volumes, volume) {
		t.Fatalf("volume path %s, want it under %s", path, volumes)
	}

	n.k("exec", "web-0", "--", "sh", "-c", "hostname > /data/who")
	if data, err := os.ReadFile(filepath.Join(path, "who")); err != nil || string(data) != "web-0\n" {
		t.Fatalf("file on the node: %q %v", data, err)
	}
	uid := n.k("get", "pod", "web-0", "-o", "jsonpath={.metadata.uid}")
	n.k("delete", "pod", "web-0", "--wait=true")
	n.k("wait", "--for=condition=Ready", "pod/web-0", "--timeout=120s")
	if again := n.k("get", "pod", "web-0", "-o", "jsonpath={.metadata.uid}"); again == uid {
		t.Fatal("web-0 was not made again")
	}
	if out := n.k("exec", "web-0", "--", "cat", "/data/who"); out != "web-0\n" {
		t.Fatalf("after the pod was made again: %q", out)
	}
	if out := n.k("exec", "web-1", "--", "ls", "/data"); strings.TrimSpace(out) != "" {
		t.Fatalf("web-1 sees another pod's volume: %q", out)
	}

	n.k("delete", "sts", "web", "--wait=true")
	n.k("wait", "--for=delete", "pod/web-0", "pod/web-1", "--timeout=60s")
	n.k("delete", "pvc", "data-web-0", "data-web-1", "--wait=true")
	n.k("wait", "--for=delete", "pv", "--all", "--timeout=60s")
	// Reclaim policy Delete: the node removes the directories too.
	deadline := time.Now().Add(30 * time.Second)
	for {
		left, err := os.ReadDir(volumes)
		if err == nil && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume directories left on the node: %v %v", left, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
