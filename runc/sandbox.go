package runc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// sandboxRecord is a sandbox as recorded in sandboxes/<uid>/sandbox.json.
type sandboxRecord struct {
	Spec SandboxSpec `json:"spec"`
	// NS holds the namespace files containers join.
	NS nsPaths `json:"ns"`
}

func (r *Runtime) sandboxDir(uid string) string {
	return filepath.Join(r.cfg.StateDir, "sandboxes", uid)
}

// CreateSandbox makes the pod's namespaces: a network namespace (unless
// host network), an IPC namespace and a UTS namespace with the pod's
// hostname (host network pods keep the node's UTS, as in Kubernetes).
// Calling it again for the same UID returns the existing sandbox.
func (r *Runtime) CreateSandbox(ctx context.Context, spec SandboxSpec) (Sandbox, error) {
	if err := validName("pod UID", spec.PodUID); err != nil {
		return Sandbox{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	dir := r.sandboxDir(spec.PodUID)
	var rec sandboxRecord
	if err := readJSON(filepath.Join(dir, "sandbox.json"), &rec); err == nil {
		return Sandbox{PodUID: spec.PodUID, NetNSPath: rec.NS.Net}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Sandbox{}, fmt.Errorf("sandbox dir: %w", err)
	}
	flags := unix.CLONE_NEWIPC
	want := map[string]string{"ipc": filepath.Join(dir, "ipc")}
	if !spec.HostNetwork {
		flags |= unix.CLONE_NEWNET | unix.CLONE_NEWUTS
		want["net"] = filepath.Join(dir, "net")
		want["uts"] = filepath.Join(dir, "uts")
	}
	if err := makeNamespaces(flags, spec.Hostname, want); err != nil {
		_ = removeSandboxFiles(dir)
		return Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.PodUID, err)
	}
	rec = sandboxRecord{Spec: spec, NS: nsPaths{Net: want["net"], IPC: want["ipc"], UTS: want["uts"]}}
	if err := writeJSONAtomic(filepath.Join(dir, "sandbox.json"), rec); err != nil {
		_ = removeSandboxFiles(dir)
		return Sandbox{}, err
	}
	return Sandbox{PodUID: spec.PodUID, NetNSPath: rec.NS.Net}, nil
}

// makeNamespaces starts a holder (this binary re-executed) born in new
// namespaces (flags), which sets the hostname and brings loopback up, then
// bind-mounts each of its namespaces (by /proc name) onto its file and
// lets it exit. A child process rather than an unshared thread keeps the
// agent's own threads, and /proc/self/ns, in the node's namespaces.
func makeNamespaces(flags int, hostname string, files map[string]string) error {
	for _, f := range files {
		fd, err := os.OpenFile(f, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
		if err != nil {
			return fmt.Errorf("namespace file: %w", err)
		}
		fd.Close()
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("own executable: %w", err)
	}
	if flags&unix.CLONE_NEWUTS == 0 {
		hostname = "" // never rename the node
	}
	cmd := exec.Command(exe, nsHolderArg, hostname)
	cmd.SysProcAttr = &unix.SysProcAttr{Unshareflags: uintptr(flags), Pdeathsig: unix.SIGKILL}
	cmd.Env = []string{}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start namespace holder: %w", err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		_ = cmd.Wait()
		return fmt.Errorf("namespace holder: %s", strings.TrimSpace(stderr.String()))
	}
	for kind, f := range files {
		src := fmt.Sprintf("/proc/%d/ns/%s", cmd.Process.Pid, kind)
		if err := unix.Mount(src, f, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s namespace: %w", kind, err)
		}
	}
	return nil
}

// nsHolderMain runs in the holder: set up the new namespaces, say ready,
// and wait for the parent to close stdin.
func nsHolderMain(hostname string) int {
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			fmt.Fprintf(os.Stderr, "sethostname %q: %v\n", hostname, err)
			return 1
		}
	}
	if lo, err := netlink.LinkByName("lo"); err == nil {
		if err := netlink.LinkSetUp(lo); err != nil {
			fmt.Fprintf(os.Stderr, "set lo up: %v\n", err)
			return 1
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// RemoveSandbox stops the pod's remaining containers and removes its
// namespaces; a missing sandbox is not an error.
func (r *Runtime) RemoveSandbox(ctx context.Context, podUID string) error {
	if err := validName("pod UID", podUID); err != nil {
		return err
	}
	states, err := r.Containers(ctx)
	if err != nil {
		return err
	}
	for _, s := range states {
		if s.PodUID != podUID {
			continue
		}
		if s.Running {
			if err := r.StopContainer(ctx, s.ID, 0); err != nil {
				return fmt.Errorf("stop %s: %w", s.ID, err)
			}
		}
		if err := r.RemoveContainer(ctx, s.ID); err != nil {
			return fmt.Errorf("remove %s: %w", s.ID, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return removeSandboxFiles(r.sandboxDir(podUID))
}

// removeSandboxFiles unmounts and deletes a sandbox directory.
func removeSandboxFiles(dir string) error {
	var errs []error
	for _, kind := range []string{"net", "ipc", "uts"} {
		f := filepath.Join(dir, kind)
		if err := unix.Unmount(f, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", f, err))
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}
