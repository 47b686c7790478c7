package agent

import (
	"context"
	"io"
	"time"
)

// The node loop reaches the container runtime, the image store and pod
// networking only through the interfaces below; runc/, runc/images and
// cni/ implement them without importing this package's other parts, and
// this package never imports them.

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
}

// SandboxSpec describes a pod's sandbox.
type SandboxSpec struct {
	PodUID, Namespace, Name string
	// Hostname is the pod's hostname (its name, or spec.hostname).
	Hostname string
	// HostNetwork shares the node's network namespace.
	HostNetwork bool
}

// Sandbox is a created pod sandbox.
type Sandbox struct {
	PodUID string
	// NetNSPath is the network namespace, for the network plugin.
	NetNSPath string
}

// ContainerSpec is everything needed to run one container of a pod.
type ContainerSpec struct {
	PodUID string
	// Name is the container's name in the pod; Attempt counts restarts.
	Name    string
	Attempt int
	// RootFS is the mounted root filesystem (from Images.Mount).
	RootFS string
	// Args is the full command line (entrypoint and arguments resolved).
	Args       []string
	Env        []string
	WorkingDir string
	// User and Group are the numeric ids to run as.
	User, Group uint32
	// AdditionalGroups are supplementary group ids.
	AdditionalGroups []uint32
	Mounts           []Mount
	// Resources become cgroup limits.
	Resources Resources
	Security  Security
	TTY       bool
	// Stdin keeps stdin open (for attach).
	Stdin bool
	// LogPath is the CRI-format log file (rotated by the runtime's log
	// writer); the file must survive an agent restart and keep receiving.
	LogPath string
}

// Mount is a bind or tmpfs mount into a container.
type Mount struct {
	Source, Destination string
	// Type is "bind" or "tmpfs".
	Type     string
	ReadOnly bool
	// Options are extra mount options (tmpfs size=...).
	Options []string
}

// Resources are a container's cgroup limits; zero means unlimited.
type Resources struct {
	// CPUQuotaMicros per CPUPeriodMicros (100000 when zero).
	CPUQuotaMicros, CPUPeriodMicros int64
	// CPUShares weights the container against others.
	CPUShares   uint64
	MemoryBytes int64
	PidsLimit   int64
}

// Security is a container's security context, already resolved.
type Security struct {
	Privileged bool
	// CapAdd and CapDrop adjust the default capability set
	// ("NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" in CapDrop drops all).
	CapAdd, CapDrop        []string
	ReadOnlyRootFilesystem bool
	// NoNewPrivileges is set unless allowPrivilegeEscalation is true.
	NoNewPrivileges bool
	// SeccompUnconfined disables the default seccomp profile.
	SeccompUnconfined bool
}

// ContainerState is what the runtime knows of a container.
type ContainerState struct {
	ID     string
	PodUID string
	Name   string
	// Attempt is ContainerSpec.Attempt.
	Attempt   int
	Running   bool
	StartedAt time.Time
	// FinishedAt, ExitCode and OOMKilled are set once it exited.
	FinishedAt time.Time
	ExitCode   int
	OOMKilled  bool
	// Reason and Message explain a start failure ("StartError",
	// "executable file not found in $PATH").
	Reason, Message string
}

// Streams are a process's standard streams; nil ones are not attached.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// TermSize is a terminal's size.
type TermSize struct{ Width, Height uint16 }

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

// Image is a stored image and its config.
type Image struct {
	// Ref is the reference it was stored under; Digest its manifest digest.
	Ref, Digest string
	Entrypoint  []string
	Cmd         []string
	Env         []string
	WorkingDir  string
	// User is the config's user ("1000", "1000:1000" or a name).
	User string
}

// RegistryAuth is one set of registry credentials (from imagePullSecrets).
type RegistryAuth struct {
	Registry           string
	Username, Password string
	// IdentityToken is a registry token, when the secret has one.
	IdentityToken string
}

// Network attaches pod sandboxes to the pod network.
type Network interface {
	// Attach gives the sandbox's network namespace an interface eth0 with
	// an address from the node's pod CIDR, and returns the pod IPs.
	Attach(ctx context.Context, podUID, namespace, name, netnsPath string) ([]string, error)
	// Detach releases the pod's address and interface; detaching twice is
	// not an error.
	Detach(ctx context.Context, podUID, namespace, name, netnsPath string) error
}
