package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keel-edge/keel/internal/version"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "agent",
		Short:         "Run a node of a keel cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), &cobra.Command{
		Use:   "version",
		Short: "Print the agent's version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), version.Version) },
	})
	return root
}
