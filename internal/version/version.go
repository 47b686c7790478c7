// Package version holds the build's version, set at link time.
package version

// Version is the release this binary was built from, set with
// -ldflags "-X github.com/keel-edge/keel/internal/version.Version=...".
var Version = "v0.1.0-dev"

// APICompat is the Kubernetes release whose API keel serves and speaks.
const APICompat = "v1.33.0"

// Kubernetes is the version reported where clients expect a Kubernetes
// one (/version, a node's kubelet version): the compatible release with
// keel's own version as build metadata, as k3s does.
func Kubernetes() string { return APICompat + "+keel." + Version }
