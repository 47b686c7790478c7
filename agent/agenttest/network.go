package agenttest

import (
	"context"
	"fmt"
	"sync"

	"github.com/keel-edge/keel/agent"
)

// Network is an in-memory agent.Network handing out 10.244.0.x addresses.
type Network struct {
	mu    sync.Mutex
	next  int
	ips   map[string]string
	calls int
	ports map[string][]agent.PortMapping
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{next: 2, ips: map[string]string{}, ports: map[string][]agent.PortMapping{}}
}

// Attach returns the pod's address, allocating one the first time, and
// records its port mappings.
func (n *Network) Attach(_ context.Context, podUID, _, _, _ string, ports []agent.PortMapping) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	n.ports[podUID] = ports
	ip, ok := n.ips[podUID]
	if !ok {
		ip = fmt.Sprintf("10.244.0.%d", n.next)
		n.next++
		n.ips[podUID] = ip
	}
	return []string{ip}, nil
}

// Detach releases the pod's address.
func (n *Network) Detach(_ context.Context, podUID, _, _, _ string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.ips, podUID)
	delete(n.ports, podUID)
	return nil
}

// Ports returns the port mappings of the pod's last Attach.
func (n *Network) Ports(podUID string) []agent.PortMapping {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ports[podUID]
}

// Attached reports whether the pod holds an address.
func (n *Network) Attached(podUID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.ips[podUID]
	return ok
}

// Attaches counts Attach calls.
func (n *Network) Attaches() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls
}
