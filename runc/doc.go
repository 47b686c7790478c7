// Package runc runs a node's containers with libcontainer inside the agent
// process; it does not shell out to a runc binary and it imports nothing of
// ours that uses it (the agent reaches it through the Runtime interface it
// declares).
//
// # Re-exec
//
// The agent binary is also the container init, the per-container shim and
// nothing else: main calls [Init] first thing, which returns at once in a
// normal run and never returns when the process was re-executed as one of
// those roles. libcontainer's nsenter (cgo) must be linked into main.
//
// # Sandboxes
//
// A pod sandbox is a set of bind-mounted namespace files under
// StateDir/sandboxes/<uid>/: net (unless host network), ipc and uts (with
// the pod's hostname set, loopback up). A short-lived holder (the binary
// re-executed, born in the new namespaces) sets them up and exits once the
// files are bind-mounted, so no pause process has to be kept alive,
// restarted, reaped or accounted for, and the namespaces survive an agent
// restart for free. App containers join them by path. The price is that
// RemoveSandbox must unmount the files; a crash between creating and
// recording a sandbox leaves files that the next RemoveSandbox cleans.
//
// # Shims and logs
//
// Every container is started by a small shim (the same binary, re-executed)
// that runs in its own session, owns the container's stdout and stderr
// pipes, writes them to the CRI log file with size rotation, waits for the
// init process and records its exit (code, OOM kill) in the state
// directory. It also serves the container's attach socket (attach.sock,
// root only): output fanned out to every attacher, input from any of them
// to the container's stdin (a pipe it holds open, or the terminal's
// master side), terminal resizes; see attachframe.go for the protocol.
// The agent can therefore exit, crash or be upgraded while containers
// keep running, logging and attachable; a new Runtime on the same
// StateDir lists them, signals them through libcontainer's state and
// reads their exit later.
//
// # Security defaults
//
// Containers get Docker's default capability set (adjusted by CapAdd and
// CapDrop), no_new_privs when asked, masked and read-only /proc and /sys
// paths, the default seccomp profile (see seccompprofile.go) unless
// unconfined, and their own PID, mount and cgroup namespaces. Privileged
// containers get every capability, the host's devices and no masks or
// seccomp filter. No file descriptor of the agent reaches a container.
package runc
