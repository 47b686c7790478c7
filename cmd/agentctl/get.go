package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/cmd/get"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// newGetCmd is kubectl get: tables from the server, -o wide|yaml|json|
// jsonpath, label and field selectors, -f, --watch.
func newGetCmd(f cmdutil.Factory, getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	return mountKubectl(get.NewCmdGet("agentctl", f, streams), getter)
}
