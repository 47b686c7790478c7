package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/cmd/apiresources"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// newAPIResourcesCmd is kubectl api-resources: what the API serves, from
// discovery.
func newAPIResourcesCmd(f cmdutil.Factory, getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	return mountKubectl(apiresources.NewCmdAPIResources(f, streams), getter)
}
