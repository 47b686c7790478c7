package pods

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sidecarManifests = `apiVersion: v1
kind: Pod
metadata:
  name: side
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - name: shared
    emptyDir: {}
  initContainers:
  - name: logger
    image: localhost/busybox:v1
    restartPolicy: Always
    command: ["sh", "-c", "while true; do date >> /shared/log; sleep 1; done"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    startupProbe:
      exec: {command: ["test", "-s", "/shared/log"]}
      periodSeconds: 1
    readinessProbe:
      exec: {command: ["test", "-s", "/shared/log"]}
      periodSeconds: 1
  containers:
  - name: reader
    image: localhost/busybox:v1
    command: ["sh", "-c", "echo first: $(head -n1 /shared/log); tail -f /shared/log"]
    volumeMounts: [{name: shared, mountPath: /shared}]
---
apiVersion: v1
kind: Pod
metadata:
  name: job
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: helper
    image: localhost/busybox:v1
    restartPolicy: Always
    command: ["sh", "-c", "while true; do sleep 1; done"]
  containers:
  - name: work
    image: localhost/busybox:v1
    command: ["sh", "-c", "sleep 2"]
---
apiVersion: v1
kind: Pod
metadata:
  name: fsg
spec:
  terminationGracePeriodSeconds: 2
  securityContext:
    runAsUser: 1000
    fsGroup: 2000
    supplementalGroups: [3000]
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: c
    image: localhost/busybox:v1
    command: ["sh", "-c", "echo written > /data/f; while true; do sleep 1; done"]
    volumeMounts: [{name: data, mountPath: /data}]
`

func TestPods_sidecarsAndFSGroup(t *testing.T) {
	n := startNode(t, "1.33")
	file := filepath.Join(t.TempDir(), "pods.yaml")
	if err := os.WriteFile(file, []byte(sidecarManifests), 0o644); err != nil {
		t.Fatal(err)
	}
	n.k("apply", "-f", file)

	// A sidecar runs beside the main container, which reads what it writes.
	n.k("wait", "--for=condition=Ready", "pod/side", "--timeout=90s")
	status := n.k("get", "pod", "side", "-o",
		`jsonpath={.status.initContainerStatuses[0].started} {.status.initContainerStatuses[0].ready} {.status.containerStatuses[0].ready} {.status.initContainerStatuses[0].state.running.startedAt}`)
	if !strings.HasPrefix(status, "true true true 20") {
		t.Fatalf("sidecar started, ready / reader ready: %q", status)
	}
	if out := n.k("get", "pod", "side", "--no-headers"); !strings.Contains(out, "2/2") || !strings.Contains(out, "Running") {
		t.Fatalf("kubectl get pod side: %q", out)
	}
	if out := n.k("logs", "side", "-c", "reader"); !strings.HasPrefix(out, "first: ") || len(strings.TrimSpace(out)) <= len("first:") {
		t.Fatalf("reader's logs: %q", out)
	}
	if out := n.k("exec", "side", "-c", "reader", "--", "sh", "-c", "test -s /shared/log && echo ok"); out != "ok\n" {
		t.Fatalf("shared log from the reader: %q", out)
	}

	// A Job-style pod completes when its main container is done; its
	// sidecar is then stopped.
	n.k("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/job", "--timeout=90s")
	n.k("wait", "--for=jsonpath={.status.initContainerStatuses[0].state.terminated.reason}", "pod/job", "--timeout=60s")

	// fsGroup: the process has the group, and files it writes in an
	// emptyDir belong to it.
	n.k("wait", "--for=condition=Ready", "pod/fsg", "--timeout=90s")
	id := n.k("exec", "fsg", "--", "id")
	if !strings.Contains(id, "uid=1000") || !strings.Contains(id, "2000") || !strings.Contains(id, "3000") {
		t.Fatalf("id in the fsGroup pod: %q", id)
	}
	if out := n.k("exec", "fsg", "--", "stat", "-c", "%g %A", "/data/f", "/data"); !strings.HasPrefix(out, "2000 ") || !strings.Contains(out, "\n2000 drwxrwsrwx") {
		t.Fatalf("group of the emptyDir and the file written there: %q", out)
	}

	n.k("delete", "pod", "side", "job", "fsg", "--wait=true")
	if out := n.k("get", "pods", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("pods left: %s", out)
	}
}
