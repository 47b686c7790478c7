package apiserver

// ClusterStatus is the answer of GET /keel/v1/status: who serves the API and
// how far the store has come.
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
