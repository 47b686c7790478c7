// Command agentctl is the operator's command line for a keel cluster.
//
// It reaches the API in one of three ways: the agent's unix socket on the
// node itself, HTTPS with a kubeconfig, or the system ssh client running
// "agentctl dial-stdio" on a node (the way docker -H ssh:// works). The
// get, describe, apply and delete commands are kubectl's own, mounted on a
// client that uses the selected transport; agentctl adds the commands that
// are keel's: status, kubeconfig and dial-stdio.
//
// agentctl owns flags, transports and output only. It must not reimplement
// what kubectl or client-go already do, and it knows the server only through
// its HTTP API.
package main

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := newRootCmd(streams, os.LookupEnv).Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "agentctl: %v\n", err)
		os.Exit(1)
	}
}
