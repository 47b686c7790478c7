// Package kubectl is the kubectl scenario suite: scripts in testdata/*.txt
// drive the real kubectl releases against real single-node agents and
// compare what kubectl prints with the expected output written under each
// step, after rewriting the parts that change from run to run.
//
// The package owns the script format (script.go), the rewrites (normalize.go)
// and finding the installed kubectl releases (binaries.go). It reaches the
// agent only through its public surfaces: the binary, the kubeconfig it
// writes and the API that kubectl talks to. It must not import coordinator
// or agent packages, and its expected outputs must show what kubectl prints,
// never a workaround for a server bug.
//
// Run it with `go test ./tests/kubectl/` (KEEL_BIN_DIR may name prebuilt
// binaries). `go test ./tests/kubectl/ -update` writes what kubectl printed
// into the scripts; review that diff before keeping it. Some expected
// outputs state what Kubernetes prints where the server differs today, and
// an update would overwrite them with the server's deviation.
package kubectl
