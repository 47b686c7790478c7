// Package bench measures a real single-node agent through its HTTPS API
// and, beside it, raw bbolt on the same disk, and prints the figures as one
// table at the end of the run:
//
//	go test -run '^$' -bench . -benchtime 2s ./tests/bench/
//
// It owns the benchmark programs only. It reaches the agent through public
// surfaces (the binary, the kubeconfig, the API, /proc) and must not import
// the coordinator's packages. Speed targets are never asserted here: the
// figures are printed for people to read and quote. Without -bench, or with
// -short, nothing heavy runs.
package bench
