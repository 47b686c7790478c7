// Package pods runs real pods on a real single-node agent inside a network
// namespace the test creates, and drives them with the real kubectl:
// apply, rollout status, logs, exec, attach, run -i, port-forward,
// readiness, delete.
// It needs root (containers, namespaces, cgroups); it skips elsewhere and
// fails instead under CI=true.
package pods
