package pods

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/internal/kubectlbin"
	"github.com/keel-edge/keel/tests/harness"
)

// testImages returns a directory holding busybox.tar and demo.tar.
func testImages(t *testing.T) string { return harness.Images(t) }

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("real pods need root, and CI runs as root: this must not happen there")
	}
	t.Skip("real pods need root (containers, namespaces, cgroups)")
}

// node is an agent running pods in its own network namespace.
type node struct {
	t       *testing.T
	agent   *harness.Agent
	netns   string
	kubectl string
}

func startNode(t *testing.T, version string) *node {
	requireRoot(t)
	kc := kubectlbin.Require(t, version)
	netns := harness.NetNS(t)
	data := t.TempDir()
	harness.PreloadImages(t, data)
	a := harness.StartAgent(t, harness.AgentOptions{DataDir: data, RunPods: true, NetNS: netns})
	return &node{t: t, agent: a, netns: netns, kubectl: kc}
}

// k runs kubectl in the node's network namespace and returns its output;
// a failure fails the test unless allowFail.
func (n *node) k(args ...string) string {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := n.agent.Run(ctx, n.kubectl, args...)
	if err != nil {
		n.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

const manifests = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: demo
        image: localhost/demo:v1
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: bb
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: localhost/busybox:v1
    command: ["sh", "-c", "echo hello from $(hostname); while true; do sleep 1; done"]
`

func TestPods_kubectlScenario(t *testing.T) {
	for _, version := range []string{"1.27", "1.33"} {
		t.Run(version, func(t *testing.T) {
			n := startNode(t, version)
			file := filepath.Join(t.TempDir(), "app.yaml")
			os.WriteFile(file, []byte(manifests), 0o644)
			n.k("apply", "-f", file)
			if out := n.k("rollout", "status", "deployment/demo", "--timeout=120s"); !strings.Contains(out, `deployment "demo" successfully rolled out`) {
				t.Fatalf("rollout status: %s", out)
			}
			n.k("wait", "--for=condition=Ready", "pod/bb", "--timeout=60s")
			wide := n.k("get", "pods", "-o", "wide")
			if strings.Count(wide, "Running") != 3 || strings.Count(wide, "10.244.0.") != 3 {
				t.Fatalf("pods:\n%s", wide)
			}

			if out := n.k("logs", "bb"); out != "hello from bb\n" {
				t.Fatalf("logs: %q", out)
			}
			if out := n.k("exec", "bb", "--", "sh", "-c", "hostname; cat /etc/hostname; grep -c localhost /etc/hosts"); out != "bb\nbb\n2\n" {
				t.Fatalf("exec hostname: %q", out)
			}
			local := filepath.Join(t.TempDir(), "note.txt")
			os.WriteFile(local, []byte("copied in\n"), 0o644)
			n.k("cp", local, "bb:/tmp/note.txt")
			if out := n.k("exec", "bb", "--", "cat", "/tmp/note.txt"); out != "copied in\n" {
				t.Fatalf("kubectl cp into the pod: %q", out)
			}
			back := filepath.Join(t.TempDir(), "back.txt")
			n.k("cp", "bb:/tmp/note.txt", back)
			if data, _ := os.ReadFile(back); string(data) != "copied in\n" {
				t.Fatalf("kubectl cp out of the pod: %q", data)
			}

			pod := strings.TrimSpace(n.k("get", "pods", "-l", "app=demo", "-o", "jsonpath={.items[0].metadata.name}"))
			if out := n.k("exec", pod, "--", "wget", "-qO-", "http://localhost:8080/"); strings.TrimSpace(out) != pod {
				t.Fatalf("demo answers %q, want its hostname %q", out, pod)
			}
			if out := n.k("logs", pod, "--tail=1"); !strings.Contains(out, "GET /") {
				t.Fatalf("demo logs: %q", out)
			}

			n.portForward(pod)

			// Failing readiness takes the pod out of Ready, without a restart.
			n.k("exec", pod, "--", "wget", "-qO-", "http://127.0.0.1:8080/fail")
			n.k("wait", "--for=condition=Ready=false", "pod/"+pod, "--timeout=30s")
			if r := n.k("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].restartCount}"); r != "0" {
				t.Fatalf("restarts after readiness failure: %s", r)
			}

			n.k("delete", "deployment", "demo", "--wait=true")
			n.k("delete", "pod", "bb", "--wait=true")
			n.k("wait", "--for=delete", "pod", "-l", "app=demo", "--timeout=60s")
			if out := n.k("get", "pods", "-o", "name"); strings.TrimSpace(out) != "" {
				t.Fatalf("pods left: %s", out)
			}
		})
	}
}

var forwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)

// portForward runs kubectl port-forward to the pod and reads / through it.
func (n *node) portForward(pod string) {
	t := n.t
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := []string{"nsenter", "--net=/run/netns/" + n.netns, "--", n.kubectl, "port-forward", "pod/" + pod, "0:8080"}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.agent.Kubeconfig)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var port string
	buf := make([]byte, 4096)
	var seen strings.Builder
	for port == "" {
		k, err := stdout.Read(buf)
		seen.Write(buf[:k])
		if m := forwarding.FindStringSubmatch(seen.String()); m != nil {
			port = m[1]
		}
		if err != nil {
			t.Fatalf("port-forward: %v: %s", err, seen.String())
		}
	}
	go io.Copy(io.Discard, stdout)
	script := fmt.Sprintf(`exec 3<>/dev/tcp/127.0.0.1/%s; printf 'GET / HTTP/1.0\r\n\r\n' >&3; cat <&3`, port)
	out, err := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+n.netns, "--", "bash", "-c", script).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "200 OK") || !strings.Contains(string(out), pod) {
		t.Fatalf("through port-forward: %v\n%s", err, out)
	}
}
