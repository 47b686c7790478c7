package runtimeapi

// PortMapping publishes a pod port on the node: a container port's
// hostPort, as in the pod spec.
type PortMapping struct {
	// HostPort is the node's port; ContainerPort the pod's.
	HostPort, ContainerPort int32
	// Protocol is TCP or UDP (Kubernetes spelling; empty means TCP).
	Protocol string
	// HostIP restricts the mapping to one node address; empty means all.
	HostIP string
}
