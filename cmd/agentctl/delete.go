package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmddelete "k8s.io/kubectl/pkg/cmd/delete"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// newDeleteCmd is kubectl delete: by name, selector, --all or -f.
func newDeleteCmd(f cmdutil.Factory, getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	return mountKubectl(cmddelete.NewCmdDelete(f, streams), getter)
}
