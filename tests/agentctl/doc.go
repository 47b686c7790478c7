// Package agentctl holds the end-to-end tests of the agentctl binary
// against a real agent: over the agent's unix socket, and through a real
// OpenSSH server with the system ssh client, including the kubeconfig
// forward used by the real kubectl.
//
// The tests use only public surfaces: the built binaries, the API and the
// files the agent writes. They need root (the socket serves uid 0 only, and
// the ssh tests log in as root) and skip, or on CI fail, through the
// helpers in tests/sshd and this package.
package agentctl
