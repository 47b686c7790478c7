// Package harness starts real agents for the end-to-end suites: it builds
// the binaries once per test process (or uses KEEL_BIN_DIR), runs agents
// in the background with their own data directories, and stops them and
// removes their files when the test ends, even when it fails.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Root is the repository's top directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build returns the paths of the agent and agentctl binaries: those in
// KEEL_BIN_DIR when it is set, otherwise built once per test process.
func Build(t testing.TB) (agentBin, agentctlBin string) {
	t.Helper()
	if dir := os.Getenv("KEEL_BIN_DIR"); dir != "" {
		return filepath.Join(dir, "agent"), filepath.Join(dir, "agentctl")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "keel-bin-")
		if buildErr != nil {
			return
		}
		for _, c := range []string{"agent", "agentctl"} {
			// The Makefile's tags: seccomp for the default profile pods get.
			cmd := exec.Command("go", "build", "-tags", "seccomp netgo osusergo", "-o", filepath.Join(buildDir, c), "./cmd/"+c)
			cmd.Dir = Root()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./cmd/%s: %v\n%s", c, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "agent"), filepath.Join(buildDir, "agentctl")
}

// AgentOptions adjust a started agent.
type AgentOptions struct {
	// DataDir reuses a data directory (a restart); a new one when empty.
	DataDir string
	// Socket reuses a socket path; a new one when empty.
	Socket string
	// APIAddr is the listen address; 127.0.0.1:0 when empty.
	APIAddr string
	// NodeName is the node's name; "node-1" when empty.
	NodeName string
	// Args are appended to the command line.
	Args []string
	// RunPods runs pods with real containers; it needs NetNS so the pod
	// network stays inside the test's own network namespace. Off, the
	// agent serves the API and stores pods without running them.
	RunPods bool
	// NetNS runs the agent in this network namespace (see NetNS).
	NetNS string
	// Cluster runs a member of a multi-node cluster instead of a
	// single-node one (Args then say how it joins); StartAgent returns
	// without waiting for an API. See StartCluster.
	Cluster bool
	// Advertise is the address the agent advertises when it runs pods;
	// 127.0.0.1 when empty.
	Advertise string
	// NodeAPIAddr is the node API's listen address when it runs pods;
	// 127.0.0.1:0 when empty.
	NodeAPIAddr string
}

// Agent is a running agent process.
type Agent struct {
	t          testing.TB
	NodeName   string
	DataDir    string
	Socket     string
	Kubeconfig string
	// APIAddr is the host:port the API actually listens on.
	APIAddr string
	// Server is the API URL from the kubeconfig.
	Server string
	// CgroupParent is the cgroup under which the agent runs its pods
	// (with RunPods).
	CgroupParent string

	log   *bytes.Buffer
	cmd   *exec.Cmd
	netns string
	done  chan struct{}
	mu    sync.Mutex
}

// StartAgent starts a single-node agent and waits until its API serves.
// It is stopped when the test ends.
func StartAgent(t testing.TB, o AgentOptions) *Agent {
	t.Helper()
	agentBin, _ := Build(t)
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Socket == "" {
		dir, err := os.MkdirTemp("", "keel-sock-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		o.Socket = filepath.Join(dir, "agent.sock")
	}
	if o.APIAddr == "" {
		o.APIAddr = "127.0.0.1:0"
	}
	if o.NodeName == "" {
		o.NodeName = "node-1"
	}
	a := &Agent{t: t, DataDir: o.DataDir, Socket: o.Socket, Kubeconfig: filepath.Join(o.DataDir, "admin.kubeconfig"),
		log: &bytes.Buffer{}, done: make(chan struct{})}
	os.Remove(a.Kubeconfig)
	args := []string{"run", "--data-dir", o.DataDir, "--api-addr", o.APIAddr,
		"--socket", o.Socket, "--node-name", o.NodeName}
	if !o.Cluster {
		args = append(args, "--single-node")
	}
	a.NodeName = o.NodeName
	if o.RunPods {
		if o.NetNS == "" {
			t.Fatal("harness: RunPods needs NetNS")
		}
		runDir := filepath.Join(filepath.Dir(o.Socket), "run")
		cgroup := "keel-test-" + filepath.Base(filepath.Dir(o.Socket))
		a.CgroupParent = cgroup
		if o.Advertise == "" {
			o.Advertise = "127.0.0.1"
		}
		if o.NodeAPIAddr == "" {
			o.NodeAPIAddr = "127.0.0.1:0"
		}
		recordCgroup(t, cgroup)
		recordDir(t, o.DataDir, runDir)
		args = append(args, "--run-dir", runDir, "--cni-conf-dir", filepath.Join(o.DataDir, "cni-conf"),
			"--node-api-addr", o.NodeAPIAddr, "--advertise-addr", o.Advertise, "--cgroup-parent", cgroup)
		t.Cleanup(func() {
			killInNetNS(o.NetNS)
			killInCgroups(cgroup)
			unmountUnder(o.DataDir)
			unmountUnder(runDir)
			removeCgroups(cgroup)
			os.RemoveAll(filepath.Join("/sys/fs/bpf", cgroup)) // the service load balancer's pins
		})
	} else {
		args = append(args, "--run-pods=false")
	}
	a.netns = o.NetNS
	argv := inNetNS(o.NetNS, append([]string{agentBin}, append(args, o.Args...)...))
	a.cmd = exec.Command(argv[0], argv[1:]...)
	a.cmd.Stdout = syncWriter{a}
	a.cmd.Stderr = syncWriter{a}
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start agent: %v", err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			t.Logf("agent log (%s):\n%s", o.NodeName, a.Log())
		}
	})
	if o.Cluster {
		return a
	}
	a.waitReady(60 * time.Second)
	if o.RunPods {
		a.WaitNodeReady(o.NodeName, 60*time.Second)
	}
	return a
}

type syncWriter struct{ a *Agent }

func (w syncWriter) Write(p []byte) (int, error) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	return w.a.log.Write(p)
}

// PID is the agent process's id (nsenter execs it in place).
func (a *Agent) PID() int { return a.cmd.Process.Pid }

// Log is what the agent printed so far.
func (a *Agent) Log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

func (a *Agent) waitReady(timeout time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			a.t.Fatalf("agent exited before serving:\n%s", a.Log())
		default:
		}
		if cfg, err := clientcmd.LoadFromFile(a.Kubeconfig); err == nil {
			for _, c := range cfg.Clusters {
				a.Server = c.Server
				a.APIAddr = strings.TrimPrefix(c.Server, "https://")
			}
			if _, err := os.Stat(a.Socket); err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("agent did not write %s within %s:\n%s", a.Kubeconfig, timeout, a.Log())
}

// WaitNodeReady waits until node name is registered and reports Ready,
// asking the API over this agent's socket.
func (a *Agent) WaitNodeReady(name string, timeout time.Duration) {
	a.t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", a.Socket)
	}}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	last := "no answer yet"
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-a.done:
			a.t.Fatalf("agent exited before its node was ready:\n%s", a.Log())
		default:
		}
		resp, err := c.Get("http://localhost/api/v1/nodes/" + name)
		if err != nil {
			last = err.Error()
			continue
		}
		var n corev1.Node
		err = json.NewDecoder(resp.Body).Decode(&n)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			last = fmt.Sprintf("%s: %v", resp.Status, err)
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return
			}
		}
		last = "node not Ready"
	}
	a.t.Fatalf("node %s not ready within %s (%s):\n%s", name, timeout, last, a.Log())
}

// Stop ends the agent gracefully (SIGTERM, then SIGKILL after 10 s).
// Stopping twice is harmless.
func (a *Agent) Stop() {
	a.signal(syscall.SIGTERM, 10*time.Second)
}

// Kill ends the agent with SIGKILL, as a crash would.
func (a *Agent) Kill() {
	a.signal(syscall.SIGKILL, 10*time.Second)
}

func (a *Agent) signal(sig syscall.Signal, grace time.Duration) {
	select {
	case <-a.done:
		return
	default:
	}
	syscall.Kill(-a.cmd.Process.Pid, sig)
	select {
	case <-a.done:
	case <-time.After(grace):
		syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.done
	}
}

// Run runs a command with the agent's admin kubeconfig in its environment
// and returns its combined output.
func (a *Agent) Run(ctx context.Context, name string, args ...string) (string, error) {
	argv := inNetNS(a.netns, append([]string{name}, args...))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+a.Kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
