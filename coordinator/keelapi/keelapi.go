// Package keelapi holds the wire types and paths of the coordinator's
// endpoints that are not Kubernetes', so clients use them without
// importing the API server.
package keelapi

// Paths served beside the Kubernetes API, to admin users only.
const (
	// StatusPath answers a ClusterStatus.
	StatusPath = "/keel/v1/status"
	// KubeconfigPath answers an admin kubeconfig (YAML) whose server is the
	// API's advertised HTTPS address.
	KubeconfigPath = "/keel/v1/kubeconfig"
	// NodesPath prefixes a node's own resources: NodesPath+NODE+"/images"
	// lists (GET) the node's images, imports (POST) a tarball into it and
	// removes (DELETE ?ref=REF) one.
	NodesPath = "/keel/v1/nodes/"
)

// Image is one stored image of a node, as NodesPath/NODE/images lists it.
type Image struct {
	Ref    string `json:"Ref"`
	Digest string `json:"Digest"`
}

// ClusterStatus is the answer of GET StatusPath: who serves the API and how
// far the store has come.
type ClusterStatus struct {
	// Coordinator is the node name of the active coordinator.
	Coordinator string `json:"coordinator"`
	// APIAddress is the coordinator's HTTPS API URL.
	APIAddress string `json:"apiAddress"`
	// Node is the name of the node whose agent answered: the local node
	// when asked over its unix socket.
	Node string `json:"node,omitempty"`
	// Version is the coordinator's build version.
	Version string `json:"version"`
	// Revision is the store's current revision.
	Revision int64 `json:"revision"`
	// CAHash is the hex SHA-256 of the cluster CA certificate, as join
	// tokens carry it.
	CAHash string `json:"caHash,omitempty"`
}
