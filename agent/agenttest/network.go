package agenttest

import (
	"context"
	"fmt"
	"sync"
)

// Network is an in-memory agent.Network handing out 10.244.0.x addresses.
type Network struct {
	mu    sync.Mutex
	next  int
	ips   map[string]string
	calls int
}

// NewNetwork returns an empty network.
func NewNetwork() *Network { return &Network{next: 2, ips: map[string]string{}} }

// Attach returns the pod's address, allocating one the first time.
func (n *Network) Attach(_ context.Context, podUID, _, _, _ string) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
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
	return nil
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
