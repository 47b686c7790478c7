// Command agent is the one binary every machine of a cluster runs: the
// node loop, and on coordinator nodes the control plane.
package main

import (
	"path/filepath"

	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/runc"

	"context"
	"fmt"
	"os"
)

func main() {
	// A re-executed container init, log shim or namespace holder runs its
	// role and never returns; so does the CNI plugin.
	runc.Init()
	if filepath.Base(os.Args[0]) == cni.PluginName {
		cni.PluginMain()
		return
	}
	if err := newRootCmd().ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}
