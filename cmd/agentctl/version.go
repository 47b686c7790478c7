package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"

	"github.com/keel-edge/keel/internal/version"
)

// newVersionCmd prints agentctl's version and, unless --client, the
// server's from /version.
func newVersionCmd(getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the agentctl and server versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(streams.Out, "Client Version: %s\n", version.Version)
			if clientOnly {
				return nil
			}
			if err := getter.check(cmd.Context()); err != nil {
				return err
			}
			cfg, err := getter.ToRESTConfig()
			if err != nil {
				return err
			}
			dc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return fmt.Errorf("discovery client: %w", err)
			}
			sv, err := dc.ServerVersion()
			if err != nil {
				return fmt.Errorf("get /version: %w", err)
			}
			fmt.Fprintf(streams.Out, "Server Version: %s\n", sv.GitVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "Print only the client version; do not contact the server")
	return cmd
}
