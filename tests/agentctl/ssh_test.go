package agentctl

import (
	"bufio"
	"context"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/keel-edge/keel/tests/sshd"
)

// TestAgentctl_overSSH reaches an agent through a real OpenSSH server and
// the system ssh client, as an operator on a workstation would.
func TestAgentctl_overSSH(t *testing.T) {
	agent, ctl := startAgent(t)
	server := sshd.Start(t)
	sshFlags := []string{
		"--ssh", server.Destination(),
		"--ssh-config", server.ClientConfig,
		"--ssh-agentctl", ctl,
		"--remote-socket", agent.Socket,
	}

	t.Run("get ns", func(t *testing.T) {
		out := mustRun(t, "", ctl, append(slices.Clone(sshFlags), "get", "ns")...)
		names := firstColumn(out)
		if !slices.Contains(names, "default") || !slices.Contains(names, "kube-system") {
			t.Errorf("get ns over ssh:\n%s", out)
		}
	})

	t.Run("ssh://user@host:port form", func(t *testing.T) {
		flags := slices.Clone(sshFlags)
		flags[1] = "ssh://" + server.Destination() + ":" + itoa(server.Port)
		out := mustRun(t, "", ctl, append(flags, "status")...)
		if !strings.Contains(out, "Coordinator:     node-1") {
			t.Errorf("status over ssh:\n%s", out)
		}
	})

	t.Run("a failing ssh is named", func(t *testing.T) {
		flags := slices.Clone(sshFlags)
		flags[1] = "nobody@" + server.Host
		r := run(t, "", ctl, append(flags, "get", "ns")...)
		if r.err == nil {
			t.Fatalf("get ns as nobody succeeded:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "ssh -F "+server.ClientConfig+" -T nobody@127.0.0.1 -- "+ctl+" dial-stdio") ||
			!strings.Contains(r.stderr, "exit status 255") || !strings.Contains(r.stderr, "Permission denied") {
			t.Errorf("stderr does not name the ssh command and its failure:\n%s", r.stderr)
		}
	})

	t.Run("kubeconfig forward with kubectl", func(t *testing.T) {
		kubectl := kubectlBinary(t)
		file := filepath.Join(t.TempDir(), "keel.kubeconfig")
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		fwd := exec.CommandContext(ctx, ctl, append(slices.Clone(sshFlags), "kubeconfig", "-o", file)...)
		fwd.Env = cleanEnv(t)
		var stderr lockedBuffer
		fwd.Stderr = &stderr
		stdout, err := fwd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := fwd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		defer func() {
			fwd.Process.Kill()
			<-exited
			if t.Failed() {
				t.Logf("agentctl kubeconfig --ssh stderr:\n%s", stderr.String())
			}
		}()
		lines := bufio.NewReader(stdout)
		line, err := lines.ReadString('\n')
		go func() {
			io.Copy(io.Discard, lines)
			exited <- fwd.Wait()
		}()
		if err != nil || line != "export KUBECONFIG="+file+"\n" {
			t.Fatalf("first line %q, %v; stderr:\n%s", line, err, stderr.String())
		}

		cfg, err := clientcmd.LoadFromFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
		if !strings.HasPrefix(cluster.Server, "https://127.0.0.1:") || cluster.TLSServerName != "kubernetes" {
			t.Errorf("forward kubeconfig cluster: server %q, tls-server-name %q", cluster.Server, cluster.TLSServerName)
		}

		for range 2 { // each kubectl run opens new connections, each a new ssh
			out := mustRun(t, "", kubectl, "--kubeconfig", file, "get", "ns")
			if names := firstColumn(out); !slices.Contains(names, "default") || !slices.Contains(names, "kube-system") {
				t.Errorf("kubectl get ns through the forward:\n%s", out)
			}
		}

		if err := fwd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			exited <- err // for the deferred cleanup
			if err != nil {
				t.Errorf("kubeconfig --ssh after SIGINT: %v, want exit 0; stderr:\n%s", err, stderr.String())
			}
		case <-ctx.Done():
			t.Fatalf("kubeconfig --ssh did not exit after SIGINT")
		}
		addr := strings.TrimPrefix(cluster.Server, "https://")
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after the forward ended", addr)
		}
	})
}
