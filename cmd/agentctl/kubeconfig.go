package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/keel-edge/keel/coordinator/keelapi"
)

// kubeconfigPath is the agent's admin kubeconfig endpoint.
const kubeconfigPath = keelapi.KubeconfigPath

// forwardServerName is the TLS name a forwarded kubeconfig verifies the
// server as; the API's serving certificate always carries it.
const forwardServerName = "kubernetes"

// kubeconfigOptions are the kubeconfig command's own flags.
type kubeconfigOptions struct {
	// output is -o/--output, the file to write.
	output string
	// listen is --listen, the local forward address (with --ssh).
	listen string
}

// newKubeconfigCmd prints the admin kubeconfig, or with --ssh forwards the
// API to a local port and writes a kubeconfig that uses the forward.
func newKubeconfigCmd(getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &kubeconfigOptions{}
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the admin kubeconfig, or forward the API over ssh for kubectl",
		Long: `Print the cluster's admin kubeconfig.

With --ssh user@host, agentctl fetches the kubeconfig over ssh, listens on a
local loopback port, writes a kubeconfig whose server is that port (TLS is kept
end to end, verified as "` + forwardServerName + `"), prints the export line for
it, and forwards every connection through "ssh ... agentctl dial-stdio --api"
until interrupted.`,
		Example: `  # On a node, as root
  agentctl kubeconfig > admin.kubeconfig

  # From a workstation: forward, then use kubectl in another shell
  agentctl kubeconfig --ssh root@node1
  export KUBECONFIG=$HOME/.kube/keel-node1.kubeconfig
  kubectl get nodes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := getter.check(cmd.Context()); err != nil {
				return err
			}
			raw, err := fetchKubeconfig(cmd.Context(), getter)
			if err != nil {
				return err
			}
			choice, err := getter.transport()
			if err != nil {
				return err
			}
			if choice.kind != transportSSH {
				if o.output == "" {
					_, err := streams.Out.Write(raw)
					return err
				}
				return writePrivateFile(o.output, raw)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runForward(ctx, o, getter, choice.ssh, raw, streams)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Write the kubeconfig to this file (with --ssh: default $HOME/.kube/keel-HOST.kubeconfig)")
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:0", "With --ssh: the loopback address to forward the API from")
	return cmd
}

// fetchKubeconfig reads GET /keel/v1/kubeconfig.
func fetchKubeconfig(ctx context.Context, getter *clientGetter) ([]byte, error) {
	cfg, err := getter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath(kubeconfigPath).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", kubeconfigPath, err)
	}
	return raw, nil
}

// runForward listens, writes the rewritten kubeconfig and forwards until
// ctx ends.
func runForward(ctx context.Context, o *kubeconfigOptions, getter *clientGetter, dest sshDestination, raw []byte, streams genericiooptions.IOStreams) error {
	if err := checkLoopback(o.listen); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	defer ln.Close()
	rewritten, err := rewriteKubeconfig(raw, "https://"+ln.Addr().String())
	if err != nil {
		return err
	}
	path := o.output
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("find the home directory for the kubeconfig (pass -o FILE): %w", err)
		}
		path = defaultForwardKubeconfig(home, dest.Host)
	}
	if err := writePrivateFile(path, rewritten); err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "export KUBECONFIG=%s\n", shellQuote(path))
	fmt.Fprintf(streams.ErrOut, "Forwarding %s to the API of %s; press Ctrl-C to stop.\n", ln.Addr(), dest)
	d := &sshDialer{dest: dest, opts: getter.flags.sshOptions(), api: true, stderr: streams.ErrOut}
	fw := &forwarder{
		ln:     ln,
		dial:   func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "ssh", "") },
		errOut: streams.ErrOut,
	}
	return fw.Run(ctx)
}

// rewriteKubeconfig points the current context's cluster at server and
// makes it verify the serving certificate as forwardServerName (unless
// the kubeconfig names a TLS server name already).
func rewriteKubeconfig(raw []byte, server string) ([]byte, error) {
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("parse the server's kubeconfig: %w", err)
	}
	kctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok || kctx == nil {
		return nil, fmt.Errorf("the server's kubeconfig has no current context %q", cfg.CurrentContext)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok || cluster == nil {
		return nil, fmt.Errorf("the server's kubeconfig has no cluster %q for context %q", kctx.Cluster, cfg.CurrentContext)
	}
	if u, err := url.Parse(cluster.Server); err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("the server's kubeconfig has server %q; forwarding keeps TLS and needs https", cluster.Server)
	}
	cluster.Server = server
	if cluster.TLSServerName == "" {
		cluster.TLSServerName = forwardServerName
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return out, nil
}

// checkLoopback refuses a forward address that is not on loopback.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: want HOST:PORT on loopback, e.g. 127.0.0.1:0", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--listen %q: the forward listens on loopback only (127.0.0.1 or ::1)", addr)
}

// defaultForwardKubeconfig is $HOME/.kube/keel-HOST.kubeconfig.
func defaultForwardKubeconfig(home, host string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, host)
	return filepath.Join(home, ".kube", "keel-"+safe+".kubeconfig")
}

// writePrivateFile writes data to path with mode 0600, creating the
// directory (0700) if needed and replacing the file atomically.
func writePrivateFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
