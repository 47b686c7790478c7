package runc

import "github.com/keel-edge/keel/runtimeapi"

// The runtime's value types are runtimeapi's, the contract it shares with
// the node loop.
type (
	SandboxSpec    = runtimeapi.SandboxSpec
	Sandbox        = runtimeapi.Sandbox
	ContainerSpec  = runtimeapi.ContainerSpec
	Mount          = runtimeapi.Mount
	Resources      = runtimeapi.Resources
	Security       = runtimeapi.Security
	ContainerState = runtimeapi.ContainerState
	Streams        = runtimeapi.Streams
	TermSize       = runtimeapi.TermSize
)
