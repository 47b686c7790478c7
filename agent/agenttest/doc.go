// Package agenttest holds in-memory twins of the adapters the node loop
// drives: a Runtime whose containers are state a test moves (exit, OOM,
// failing starts, exec results), an Images store and a Network. They do
// no I/O and need no root, so any package's tests can run the pod
// lifecycle end to end. Nothing here may be used outside tests.
package agenttest

import "github.com/keel-edge/keel/agent"

var (
	_ agent.Runtime = (*Runtime)(nil)
	_ agent.Images  = (*Images)(nil)
	_ agent.Network = (*Network)(nil)
)
