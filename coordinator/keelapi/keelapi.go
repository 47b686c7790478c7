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
)

// ClusterStatus is the answer of GET StatusPath: who serves the API and how
// far the store has come.
type ClusterStatus struct {
	// Coordinator is the node name of the active coordinator.
	Coordinator string `json:"coordinator"`
	// APIAddress is the coordinator's HTTPS API URL.
	APIAddress string `json:"apiAddress"`
	// Version is the coordinator's build version.
	Version string `json:"version"`
	// Revision is the store's current revision.
	Revision int64 `json:"revision"`
}
