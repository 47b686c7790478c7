// Package version holds the build's version, set at link time.
package version

// Version is the release this binary was built from, set with
// -ldflags "-X github.com/keel-edge/keel/internal/version.Version=...".
var Version = "v0.1.0-dev"
