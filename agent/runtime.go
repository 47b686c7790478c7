package agent

import (
	"context"
	"time"

	"github.com/keel-edge/keel/runtimeapi"
)

// The node loop reaches the container runtime, the image store and pod
// networking only through the interfaces below; runc/, runc/images and
// cni/ implement them with the plain values of runtimeapi, never importing
// this package, and this package never imports them.

// Runtime runs containers grouped into pod sandboxes.
type Runtime interface {
	// CreateSandbox creates the pod's shared namespaces (network, IPC, UTS
	// with hostname = pod name) and returns them. Idempotent for a UID.
	CreateSandbox(ctx context.Context, spec SandboxSpec) (Sandbox, error)
	// RemoveSandbox stops everything left in the pod and removes its
	// namespaces. Removing a missing sandbox is not an error.
	RemoveSandbox(ctx context.Context, podUID string) error
	// StartContainer creates and starts a container in a sandbox.
	StartContainer(ctx context.Context, spec ContainerSpec) (ContainerState, error)
	// StopContainer sends SIGTERM, waits up to grace, then SIGKILL; it
	// returns once the container has exited.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer deletes an exited container's state (not its logs).
	RemoveContainer(ctx context.Context, id string) error
	// Containers lists every container the runtime knows, running or
	// exited, so an agent restart adopts them instead of restarting them.
	Containers(ctx context.Context) ([]ContainerState, error)
	// Exec runs a process in a running container, wiring its stdio to
	// streams; with tty, resize carries terminal sizes. It returns the
	// process's exit code.
	Exec(ctx context.Context, id string, cmd []string, streams Streams, tty bool, resize <-chan TermSize) (int, error)
	// Attach connects streams to a running container: its output from
	// now on, and its stdin when the container keeps one open; with tty,
	// resize carries terminal sizes. It returns when the output ends or
	// the attacher's stdin ends (as Kubernetes detaches).
	Attach(ctx context.Context, id string, streams Streams, tty bool, resize <-chan TermSize) error
}

// The value types are runtimeapi's, shared with the adapters.
type (
	SandboxSpec    = runtimeapi.SandboxSpec
	Sandbox        = runtimeapi.Sandbox
	ContainerSpec  = runtimeapi.ContainerSpec
	Mount          = runtimeapi.Mount
	Resources      = runtimeapi.Resources
	Security       = runtimeapi.Security
	ContainerState = runtimeapi.ContainerState
	Streams        = runtimeapi.Streams
	TermSize       = runtimeapi.TermSize
)

// Images keeps the node's OCI images.
type Images interface {
	// Pull fetches ref (tag or digest) with the given registry
	// credentials, reporting progress, and returns the image.
	Pull(ctx context.Context, ref string, auth []RegistryAuth, progress func(string)) (Image, error)
	// Get finds a stored image by reference; os.ErrNotExist if absent.
	Get(ref string) (Image, error)
	// Mount stacks the image's layers with overlayfs under a new writable
	// layer for containerID and returns the root filesystem path.
	Mount(ctx context.Context, img Image, containerID string) (string, error)
	// Unmount removes containerID's root filesystem and writable layer.
	Unmount(ctx context.Context, containerID string) error
}

// Image and RegistryAuth are runtimeapi's, shared with the image store.
type (
	Image        = runtimeapi.Image
	RegistryAuth = runtimeapi.RegistryAuth
)

// PortMapping is runtimeapi's, shared with the network driver.
type PortMapping = runtimeapi.PortMapping

// Network attaches pod sandboxes to the pod network.
type Network interface {
	// Attach gives the sandbox's network namespace an interface eth0 with
	// an address from the node's pod CIDR, publishes ports on the node,
	// and returns the pod IPs.
	Attach(ctx context.Context, podUID, namespace, name, netnsPath string, ports []PortMapping) ([]string, error)
	// Detach releases the pod's address, interface and published ports;
	// detaching twice is not an error.
	Detach(ctx context.Context, podUID, namespace, name, netnsPath string) error
}
