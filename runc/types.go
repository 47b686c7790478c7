package runc

import (
	"io"
	"time"
)

// The value types below have the same shape as the agent's Runtime
// contract; they are declared here because an adapter must not import the
// agent package. A thin conversion layer in main connects the two.

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
	TTY       bool
	// Stdin keeps stdin open (for attach); not supported yet.
	Stdin bool
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
