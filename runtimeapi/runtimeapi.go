// Package runtimeapi is the contract between the node loop and its
// adapters, as plain values: what a pod sandbox, a container, its state and
// an image are. The agent declares the interfaces (agent/runtime.go); the
// runtime (runc/) and the image store (runc/images/) implement them with
// these types, so neither side imports the other, as kubelets and container
// runtimes share the CRI types. It holds no logic and imports nothing of
// ours.
package runtimeapi

import (
	"errors"
	"io"
	"time"
)

// ErrNoSandbox is wrapped by a runtime's errors for a pod whose sandbox
// does not exist (never made, removed, or lost with the runtime's state
// directory): the pod needs a new one.
var ErrNoSandbox = errors.New("no such pod sandbox")

// SandboxSpec describes a pod's sandbox.
type SandboxSpec struct {
	PodUID, Namespace, Name string
	// Hostname is the pod's hostname (its name, or spec.hostname).
	Hostname string
	// HostNetwork shares the node's network (and UTS) namespace.
	HostNetwork bool
}

// Sandbox is a created pod sandbox.
type Sandbox struct {
	PodUID string
	// NetNSPath is the network namespace file, for the network plugin;
	// empty with host network.
	NetNSPath string
}

// ContainerSpec is everything needed to run one container of a pod.
type ContainerSpec struct {
	PodUID string
	// Name is the container's name in the pod; Attempt counts restarts.
	Name    string
	Attempt int
	// RootFS is the mounted root filesystem.
	RootFS string
	// Args is the full command line.
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
	// TTY gives the container a terminal: its output is one stream
	// (stdout) and attachers may resize it.
	TTY bool
	// Stdin keeps the container's stdin open for attachers to write to;
	// without it the container reads /dev/null.
	Stdin bool
	// StdinOnce closes the container's stdin once the first attacher
	// that wrote to it ends its input or detaches (without a terminal).
	StdinOnce bool
	// LogPath is the CRI-format log file.
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
	// ("NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" drops or adds all).
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
	// Reason and Message explain a start failure or an odd exit.
	Reason, Message string
}

// Streams are a process's standard streams; nil ones are not attached.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// TermSize is a terminal's size.
type TermSize struct{ Width, Height uint16 }

// Image is a stored image and its config. It has the shape of the agent's
// Image, so either converts to the other.
type Image struct {
	// Ref is the reference it was stored under; Digest its manifest digest.
	Ref, Digest string
	// Entrypoint and Cmd are the config's entrypoint and command.
	Entrypoint []string
	Cmd        []string
	// Env is the config's environment ("KEY=value").
	Env []string
	// WorkingDir is the config's working directory.
	WorkingDir string
	// User is the config's user ("1000", "1000:1000" or a name).
	User string
}

// RegistryAuth is one set of registry credentials (from imagePullSecrets).
// It has the shape of the agent's RegistryAuth.
type RegistryAuth struct {
	// Registry is the registry host ("registry.example:5000"); a scheme or
	// path ("https://index.docker.io/v1/") is ignored.
	Registry string
	// Username and Password are basic credentials.
	Username, Password string
	// IdentityToken is a registry token, when the secret has one.
	IdentityToken string
}
