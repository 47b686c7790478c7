// Package agent is the node loop: it registers this machine as a Node and
// keeps its status true; later it runs the node's pods. It reaches the
// runtime, network and eBPF adapters only through small interfaces it
// declares, and the coordinator only through the API.
package agent
