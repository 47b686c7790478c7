package runc

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer/capabilities"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// defaultCaps is Docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// maskedPaths are hidden from unprivileged containers (bind-mounted over
// with /dev/null or an empty read-only tmpfs).
var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// readonlyPaths are remounted read-only in unprivileged containers.
var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// capSet resolves the container's capability set: Docker's defaults, or
// every capability this process holds when privileged, minus CapDrop plus
// CapAdd ("ALL" in CapAdd also means every held capability).
func capSet(sec Security) ([]string, error) {
	known := capabilities.KnownCapabilities()
	norm := func(c string) (string, error) {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "ALL" {
			return c, nil
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(known, c) {
			return "", fmt.Errorf("unknown capability %q", c)
		}
		return c, nil
	}
	all, err := heldCaps()
	if err != nil {
		return nil, err
	}
	set := slices.Clone(defaultCaps)
	if sec.Privileged {
		set = slices.Clone(all)
	}
	for _, d := range sec.CapDrop {
		c, err := norm(d)
		if err != nil {
			return nil, fmt.Errorf("capDrop: %w", err)
		}
		if c == "ALL" {
			set = nil
			continue
		}
		set = slices.DeleteFunc(set, func(s string) bool { return s == c })
	}
	for _, a := range sec.CapAdd {
		c, err := norm(a)
		if err != nil {
			return nil, fmt.Errorf("capAdd: %w", err)
		}
		if c == "ALL" {
			set = slices.Clone(all)
			continue
		}
		if !slices.Contains(set, c) {
			set = append(set, c)
		}
	}
	slices.Sort(set)
	return set, nil
}

// nsPaths are the sandbox namespaces a container joins; an empty path
// means the host's namespace of that kind.
type nsPaths struct {
	Net, IPC, UTS string
}

// buildSpec turns a ContainerSpec into an OCI runtime spec for
// libcontainer. rootfs-relative checks (working directory) happen here
// too, so a bad spec fails before anything is created.
func buildSpec(id string, cs ContainerSpec, ns nsPaths, cgroupsPath string) (*specs.Spec, error) {
	if len(cs.Args) == 0 {
		return nil, fmt.Errorf("container %s: no command", cs.Name)
	}
	cwd := cs.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if _, err := resolveInRoot(cs.RootFS, cwd); err != nil {
		return nil, fmt.Errorf("workingDir %q: %w", cs.WorkingDir, err)
	}
	caps, err := capSet(cs.Security)
	if err != nil {
		return nil, err
	}
	pcaps := &specs.LinuxCapabilities{Bounding: caps}
	if cs.User == 0 {
		pcaps.Effective, pcaps.Permitted = caps, caps
	}
	env := slices.Clone(cs.Env)
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	gids := make([]uint32, len(cs.AdditionalGroups))
	copy(gids, cs.AdditionalGroups)
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: cs.RootFS, Readonly: cs.Security.ReadOnlyRootFilesystem},
		Process: &specs.Process{
			Terminal:        cs.TTY,
			Args:            slices.Clone(cs.Args),
			Env:             env,
			Cwd:             path.Clean(cwd),
			User:            specs.User{UID: cs.User, GID: cs.Group, AdditionalGids: gids},
			Capabilities:    pcaps,
			NoNewPrivileges: cs.Security.NoNewPrivileges,
		},
		Mounts: baseMounts(cs.Security.Privileged),
		Linux: &specs.Linux{
			CgroupsPath: cgroupsPath,
			Resources:   resources(cs.Resources, cs.Security.Privileged),
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.MountNamespace},
				{Type: specs.CgroupNamespace},
			},
		},
		Annotations: map[string]string{"io.keel.container": id},
	}
	for _, n := range []struct {
		t specs.LinuxNamespaceType
		p string
	}{{specs.NetworkNamespace, ns.Net}, {specs.IPCNamespace, ns.IPC}, {specs.UTSNamespace, ns.UTS}} {
		if n.p != "" {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: n.t, Path: n.p})
		}
	}
	for _, m := range cs.Mounts {
		om, err := ociMount(m)
		if err != nil {
			return nil, err
		}
		s.Mounts = append(s.Mounts, om)
	}
	if cs.Security.Privileged {
		devs, err := hostDevices("/dev")
		if err != nil {
			return nil, err
		}
		s.Linux.Devices = devs
	} else {
		s.Linux.MaskedPaths = slices.Clone(maskedPaths)
		s.Linux.ReadonlyPaths = slices.Clone(readonlyPaths)
		if !cs.Security.SeccompUnconfined {
			s.Linux.Seccomp = defaultSeccomp(caps)
		}
	}
	return s, nil
}

// ociMount converts a bind or tmpfs mount.
func ociMount(m Mount) (specs.Mount, error) {
	if !path.IsAbs(m.Destination) {
		return specs.Mount{}, fmt.Errorf("mount destination %q: must be absolute", m.Destination)
	}
	opts := []string{"nosuid", "nodev"}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	switch m.Type {
	case "bind", "":
		if !path.IsAbs(m.Source) {
			return specs.Mount{}, fmt.Errorf("mount %s: source %q must be absolute", m.Destination, m.Source)
		}
		opts = append(opts, "rbind", "rprivate")
		return specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: append(opts, m.Options...)}, nil
	case "tmpfs":
		return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: append(opts, m.Options...)}, nil
	default:
		return specs.Mount{}, fmt.Errorf("mount %s: type %q: want bind or tmpfs", m.Destination, m.Type)
	}
}

// baseMounts are the kernel filesystems every container gets.
func baseMounts(privileged bool) []specs.Mount {
	ro := "ro"
	if privileged {
		ro = "rw"
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", ro}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", ro}},
	}
}

// resources converts limits to the OCI form; privileged containers may
// use every device.
func resources(r Resources, privileged bool) *specs.LinuxResources {
	lr := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: privileged, Access: "rwm"}},
	}
	if r.CPUQuotaMicros > 0 || r.CPUShares > 0 {
		lr.CPU = &specs.LinuxCPU{}
		if r.CPUQuotaMicros > 0 {
			q, p := r.CPUQuotaMicros, uint64(r.CPUPeriodMicros)
			if p == 0 {
				p = 100000
			}
			lr.CPU.Quota, lr.CPU.Period = &q, &p
		}
		if r.CPUShares > 0 {
			s := r.CPUShares
			lr.CPU.Shares = &s
		}
	}
	if r.MemoryBytes > 0 {
		m := r.MemoryBytes
		lr.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if r.PidsLimit > 0 {
		p := r.PidsLimit
		lr.Pids = &specs.LinuxPids{Limit: &p}
	}
	return lr
}

// heldCaps lists the capabilities in this process's bounding set: a
// privileged container cannot get more than the runtime has.
func heldCaps() ([]string, error) {
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("read own capabilities: %w", err)
	}
	if err := c.Load(); err != nil {
		return nil, fmt.Errorf("read own capabilities: %w", err)
	}
	var out []string
	for _, k := range capability.ListKnown() {
		if c.Get(capability.BOUNDING, k) {
			out = append(out, "CAP_"+strings.ToUpper(k.String()))
		}
	}
	return out, nil
}
