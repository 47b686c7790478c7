package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// defaultSocket is where the agent serves its API to local root.
const defaultSocket = "/run/keel/agent.sock"

// transportKind says how agentctl reaches the API.
type transportKind int

const (
	// transportSocket is plain HTTP over the agent's unix socket.
	transportSocket transportKind = iota + 1
	// transportKubeconfig is HTTPS as described by kubeconfig files.
	transportKubeconfig
	// transportSSH is plain HTTP over "ssh host agentctl dial-stdio".
	transportSSH
)

func (k transportKind) String() string {
	switch k {
	case transportSocket:
		return "socket"
	case transportKubeconfig:
		return "kubeconfig"
	case transportSSH:
		return "ssh"
	}
	return fmt.Sprintf("transportKind(%d)", int(k))
}

// transportInput is everything transport selection looks at: flags as
// given and the environment.
type transportInput struct {
	// SSH is --ssh.
	SSH string
	// Kubeconfig is --kubeconfig.
	Kubeconfig string
	// Socket is --socket; SocketSet says whether it was given explicitly.
	Socket    string
	SocketSet bool
	// EnvKubeconfig is $KUBECONFIG, a list of files.
	EnvKubeconfig string
	// EnvSocket is $KEEL_SOCKET.
	EnvSocket string
}

// transportChoice is the selected transport and what it needs.
type transportChoice struct {
	kind transportKind
	// socket is the unix socket path (transportSocket).
	socket string
	// kubeconfigs are the files to load, first wins (transportKubeconfig).
	kubeconfigs []string
	// ssh is the destination (transportSSH).
	ssh sshDestination
}

// describe says in a few words where the choice leads, for errors.
func (c transportChoice) describe() string {
	switch c.kind {
	case transportSocket:
		return c.socket
	case transportKubeconfig:
		return "the server in " + strings.Join(c.kubeconfigs, ", ")
	case transportSSH:
		return "ssh " + c.ssh.String()
	}
	return c.kind.String()
}

// selectTransport picks the transport: --ssh, then --kubeconfig, then an
// explicit --socket, then $KUBECONFIG, then the socket from $KEEL_SOCKET or
// the default path when it exists. exists reports whether a path exists.
func selectTransport(in transportInput, exists func(string) bool) (transportChoice, error) {
	switch {
	case in.SSH != "":
		dest, err := parseSSHDestination(in.SSH)
		if err != nil {
			return transportChoice{}, err
		}
		return transportChoice{kind: transportSSH, ssh: dest}, nil
	case in.Kubeconfig != "":
		return transportChoice{kind: transportKubeconfig, kubeconfigs: []string{in.Kubeconfig}}, nil
	case in.SocketSet && in.Socket != "":
		return transportChoice{kind: transportSocket, socket: in.Socket}, nil
	}
	if files := splitKubeconfigEnv(in.EnvKubeconfig); len(files) > 0 {
		return transportChoice{kind: transportKubeconfig, kubeconfigs: files}, nil
	}
	socket := in.EnvSocket
	if socket == "" {
		socket = defaultSocket
	}
	if exists(socket) {
		return transportChoice{kind: transportSocket, socket: socket}, nil
	}
	return transportChoice{}, &noTransportError{socket: socket}
}

// splitKubeconfigEnv splits $KUBECONFIG the way kubectl does, dropping
// empty entries.
func splitKubeconfigEnv(v string) []string {
	var files []string
	for _, f := range filepath.SplitList(v) {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// noTransportError says that nothing told agentctl where the API is.
type noTransportError struct {
	socket string
}

func (e *noTransportError) Error() string {
	return fmt.Sprintf("no API to talk to: no --ssh or --kubeconfig given, $KUBECONFIG is empty, "+
		"and the agent socket %s does not exist; on a node, run where the agent runs "+
		"(or pass --socket PATH), otherwise pass --kubeconfig FILE or --ssh user@host", e.socket)
}

// pathExists is the exists function selectTransport uses outside tests.
func pathExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
