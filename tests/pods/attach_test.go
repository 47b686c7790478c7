package pods

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const attachManifests = `apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: localhost/busybox:v1
    command: ["sh"]
    stdin: true
    tty: true
---
apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/busybox:v1
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
`

func TestPods_kubectlAttach(t *testing.T) {
	for _, version := range []string{"1.27", "1.33"} {
		t.Run(version, func(t *testing.T) {
			n := startNode(t, version)
			file := filepath.Join(t.TempDir(), "attach.yaml")
			if err := os.WriteFile(file, []byte(attachManifests), 0o644); err != nil {
				t.Fatal(err)
			}
			n.k("apply", "-f", file)
			n.k("wait", "--for=condition=Ready", "pod/shell", "pod/ticker", "--timeout=60s")

			// A terminal with stdin: a command typed in is run by the
			// shell (the arithmetic shows it was, not just echoed), and
			// the end of input detaches, leaving the shell running.
			a := n.start("attach", "-i", "shell")
			a.waitFor("hello-42", func() { a.write("echo hello-$((40+2))\n") })
			a.closeStdin()
			if err := a.wait(); err != nil {
				t.Fatalf("kubectl attach -i after the input ended: %v\n%s", err, a.output())
			}
			if r := n.k("get", "pod", "shell", "-o", "jsonpath={.status.containerStatuses[0].restartCount} {.status.phase}"); r != "0 Running" {
				t.Fatalf("shell after a detach: %s", r)
			}

			// No stdin: attach streams what the container prints from now on.
			o := n.start("attach", "ticker")
			o.waitFor("tick", nil)
			o.stop()
			seen := o.output()
			seen = seen[:strings.LastIndex(seen, "\n")+1] // whole lines
			for _, line := range strings.Split(strings.TrimSpace(seen), "\n") {
				if !strings.HasPrefix(line, "tick ") && !strings.Contains(line, "If you don't see a command prompt") {
					t.Fatalf("attach to ticker printed %q:\n%s", line, o.output())
				}
			}

			// kubectl run -i attaches to the new pod's stdin (stdinOnce):
			// the input reaches the command, its end closes stdin, and the
			// pod is removed once the command exits.
			r := n.start("run", "runner", "-i", "--rm", "--restart=Never", "--image=localhost/busybox:v1", "--", "sh", "-c", "read x; echo hi $x; cat; echo stdin closed")
			r.write("there\nmore\n")
			r.closeStdin()
			if err := r.wait(); err != nil {
				t.Fatalf("kubectl run -i: %v\n%s", err, r.output())
			}
			if out := r.output(); !strings.Contains(out, "hi there\nmore\nstdin closed\n") || !strings.Contains(out, `pod "runner" deleted`) {
				t.Fatalf("kubectl run -i printed:\n%s", out)
			}

			n.k("delete", "pod", "shell", "ticker", "--wait=true")
		})
	}
}

// session is a kubectl command running in the node's network namespace
// with a pipe to its stdin and its output collected.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdin  io.WriteCloser
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan error
}

func (s *session) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// start runs kubectl with args; the test stops it when it ends.
func (n *node) start(args ...string) *session {
	t := n.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	argv := append([]string{"nsenter", "--net=/run/netns/" + n.netns, "--", n.kubectl}, args...)
	s := &session{t: t, cancel: cancel, done: make(chan error, 1)}
	s.cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	s.cmd.Env = append(os.Environ(), "KUBECONFIG="+n.agent.Kubeconfig)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = stdin
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(s.stop)
	return s
}

func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *session) write(text string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, text); err != nil {
		s.t.Fatalf("kubectl stdin: %v\n%s", err, s.output())
	}
}

func (s *session) closeStdin() { s.stdin.Close() }

// waitFor waits until the output holds want, calling poke (when not nil)
// every half second meanwhile: what it types is lost until kubectl has
// attached.
func (s *session) waitFor(want string, poke func()) {
	s.t.Helper()
	for i := 0; !strings.Contains(s.output(), want); i++ {
		if i == 120 {
			s.t.Fatalf("kubectl never printed %q:\n%s", want, s.output())
		}
		if poke != nil && i%5 == 0 {
			poke()
		}
		select {
		case err := <-s.done:
			s.done <- err
			if !strings.Contains(s.output(), want) {
				s.t.Fatalf("kubectl ended (%v) without printing %q:\n%s", err, want, s.output())
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// wait waits for kubectl to exit.
func (s *session) wait() error {
	err := <-s.done
	s.done <- err
	return err
}

// stop kills kubectl if it still runs.
func (s *session) stop() {
	s.cancel()
	<-s.done
	s.done <- nil
}
