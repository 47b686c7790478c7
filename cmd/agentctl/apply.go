package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/cmd/apply"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// newApplyCmd is kubectl apply: -f files, directories, URLs or stdin,
// client-side three-way merge or --server-side.
func newApplyCmd(f cmdutil.Factory, getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	return mountKubectl(apply.NewCmdApply("agentctl", f, streams), getter)
}
