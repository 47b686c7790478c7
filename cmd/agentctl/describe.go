package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/cmd/describe"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// newDescribeCmd is kubectl describe, with its per-kind describers and
// events.
func newDescribeCmd(f cmdutil.Factory, getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	return mountKubectl(describe.NewCmdDescribe("agentctl", f, streams), getter)
}
