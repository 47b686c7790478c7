// Package agent is the node loop: it registers this machine as a Node and
// keeps its status true, runs the node's pods, and announces the load
// balancer addresses this node owns (LoadBalancerOwners: rendezvous hashing
// over the Ready nodes, computed alike on every node). It reaches the
// runtime, network and eBPF adapters only through small interfaces it
// declares, and the coordinator only through the API.
package agent
