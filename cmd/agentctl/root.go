package main

import (
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// globalFlags are the flags every command takes: where the API is and
// which namespace to use.
type globalFlags struct {
	// namespace is -n/--namespace.
	namespace string
	// context is --context, a kubeconfig context name.
	context string
	// kubeconfig is --kubeconfig.
	kubeconfig string
	// socket is --socket; socketSet says it was given explicitly.
	socket    string
	socketSet bool
	// ssh is --ssh, [ssh://]user@host[:port].
	ssh string
	// sshConfig is --ssh-config, passed to ssh -F.
	sshConfig string
	// sshOpts are --ssh-option values, passed to ssh -o.
	sshOpts []string
	// sshAgentctl is --ssh-agentctl, the remote agentctl command.
	sshAgentctl string
	// remoteSocket is --remote-socket, the agent socket on the ssh host.
	remoteSocket string
	// requestTimeout is --request-timeout; 0 means none.
	requestTimeout time.Duration
}

// sshOptions is the ssh part of the flags.
func (f *globalFlags) sshOptions() sshOptions {
	return sshOptions{
		Config:         f.sshConfig,
		Options:        f.sshOpts,
		RemoteAgentctl: f.sshAgentctl,
		RemoteSocket:   f.remoteSocket,
	}
}

// newRootCmd builds agentctl with all its commands. lookupEnv reads the
// environment (os.LookupEnv outside tests).
func newRootCmd(streams genericiooptions.IOStreams, lookupEnv func(string) (string, bool)) *cobra.Command {
	flags := &globalFlags{}
	getter := &clientGetter{flags: flags, lookupEnv: lookupEnv, stderr: streams.ErrOut}
	root := &cobra.Command{
		Use:   "agentctl",
		Short: "agentctl controls a keel cluster",
		Long: `agentctl controls a keel cluster.

It reaches the API, in this order of preference, through:
  --ssh user@host     the system ssh client running "agentctl dial-stdio" there
  --kubeconfig FILE   HTTPS as the file says (also $KUBECONFIG)
  --socket PATH       the agent's unix socket on this node (default ` + defaultSocket + `, or $KEEL_SOCKET)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			flags.socketSet = cmd.Flags().Changed("socket")
			rest.SetDefaultWarningHandler(rest.NewWarningWriter(streams.ErrOut, rest.WarningWriterOptions{Deduplicate: true}))
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	pf := root.PersistentFlags()
	pf.StringVarP(&flags.namespace, "namespace", "n", "", "The namespace for this request")
	pf.StringVar(&flags.context, "context", "", "The kubeconfig context to use (with --kubeconfig or $KUBECONFIG)")
	pf.StringVar(&flags.kubeconfig, "kubeconfig", "", "Reach the API over HTTPS as this kubeconfig file says")
	pf.StringVar(&flags.socket, "socket", defaultSocket, "The agent's unix socket ($KEEL_SOCKET)")
	pf.StringVar(&flags.ssh, "ssh", "", "Reach the API through ssh: [ssh://]user@host[:port]")
	pf.StringVar(&flags.sshConfig, "ssh-config", "", "An ssh client config file, passed to ssh -F")
	pf.StringArrayVar(&flags.sshOpts, "ssh-option", nil, "An ssh option, passed to ssh -o (repeatable)")
	pf.StringVar(&flags.sshAgentctl, "ssh-agentctl", "agentctl", `The command that runs agentctl on the ssh host, e.g. "sudo agentctl"`)
	pf.StringVar(&flags.remoteSocket, "remote-socket", "", "The agent's unix socket on the ssh host (default: the remote agentctl's default)")
	pf.DurationVar(&flags.requestTimeout, "request-timeout", 0, "How long to wait for a single request (0: no limit)")

	f := cmdutil.NewFactory(getter)
	root.AddCommand(
		newGetCmd(f, getter, streams),
		newDescribeCmd(f, getter, streams),
		newApplyCmd(f, getter, streams),
		newDeleteCmd(f, getter, streams),
		newAPIResourcesCmd(f, getter, streams),
		newStatusCmd(getter, streams),
		newImageCmd(getter, streams),
		newKubeconfigCmd(getter, streams),
		newDialStdioCmd(flags, lookupEnv, streams),
		newVersionCmd(getter, streams),
		newTokenCmd(getter, streams),
	)
	return root
}
