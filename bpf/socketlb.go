package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// TableSize is the number of slots in a service port's lookup table
// (TABLE_SIZE in c/sock.c): a prime, so Maglev permutations cover it.
const TableSize = len(sockTable{}.Slot)

// Config says where the socket load balancer lives.
type Config struct {
	// PinDir is a directory in a bpffs mount where maps and links are
	// pinned, e.g. /sys/fs/bpf/keel. It is created when missing.
	PinDir string
	// Cgroup is the cgroup v2 directory whose processes (and those of
	// its descendants) have their service connections balanced.
	Cgroup string
}

// Validate says what is wrong with the configuration.
func (c Config) Validate() error {
	if c.PinDir == "" {
		return errors.New("socket lb: no bpffs pin directory")
	}
	if c.Cgroup == "" {
		return errors.New("socket lb: no cgroup v2 directory to attach to")
	}
	return nil
}

// hooks are the programs and where they attach, with the name their
// link is pinned under.
var hooks = []struct {
	pin    string
	attach ebpf.AttachType
	prog   func(*sockObjects) *ebpf.Program
}{
	{"link_connect4", ebpf.AttachCGroupInet4Connect, func(o *sockObjects) *ebpf.Program { return o.KeelConnect4 }},
	{"link_sendmsg4", ebpf.AttachCGroupUDP4Sendmsg, func(o *sockObjects) *ebpf.Program { return o.KeelSendmsg4 }},
	{"link_recvmsg4", ebpf.AttachCGroupUDP4Recvmsg, func(o *sockObjects) *ebpf.Program { return o.KeelRecvmsg4 }},
	{"link_getpeername4", ebpf.AttachCgroupInet4GetPeername, func(o *sockObjects) *ebpf.Program { return o.KeelGetpeername4 }},
}

// SocketLB is the socket-level service load balancer: programs on a
// cgroup's connect4, sendmsg4, recvmsg4 and getpeername4 hooks that
// translate service addresses to backends, and the maps they read. Maps
// and links are pinned, so they keep working after Close and after the
// process exits; Load reopens them.
type SocketLB struct {
	cfg   Config
	objs  sockObjects
	links []link.Link

	mu sync.Mutex
	// backends are the addresses of the backends this process wrote or
	// read, so that a table write looks up none of them in the kernel.
	backends map[uint32]sockBackend
}

// Load opens (or creates) the pinned maps, loads the programs and makes
// sure each hook of the cgroup runs them: a pinned link is updated to the
// new program, a missing one is attached and pinned. Maps whose layout
// changed since they were pinned are replaced empty, so the caller must
// reconcile their content (it must anyway: see Dump).
func Load(cfg Config) (*SocketLB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.PinDir, 0o700); err != nil {
		return nil, fmt.Errorf("socket lb: %w", err)
	}
	if err := isBPFFS(cfg.PinDir); err != nil {
		return nil, err
	}
	cg, err := cgroupID(cfg.Cgroup)
	if err != nil {
		return nil, err
	}
	s := &SocketLB{cfg: cfg, backends: map[uint32]sockBackend{}}
	if err := s.loadObjects(); err != nil {
		return nil, err
	}
	for _, h := range hooks {
		l, err := s.hook(h.pin, h.attach, h.prog(&s.objs), cg)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.links = append(s.links, l)
	}
	return s, nil
}

func (s *SocketLB) loadObjects() error {
	spec, err := loadSock()
	if err != nil {
		return fmt.Errorf("socket lb: %w", err)
	}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: s.cfg.PinDir}}
	err = spec.LoadAndAssign(&s.objs, opts)
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		// An older layout: start over with empty maps.
		for name := range spec.Maps {
			if err := os.Remove(filepath.Join(s.cfg.PinDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("socket lb: replace map %s: %w", name, err)
			}
		}
		err = spec.LoadAndAssign(&s.objs, opts)
	}
	if err != nil {
		return fmt.Errorf("socket lb: load programs into %s: %w", s.cfg.PinDir, err)
	}
	return nil
}

// hook returns the pinned link of a hook, running prog and attached to
// the cgroup cg; a pinned link on another cgroup is replaced.
func (s *SocketLB) hook(pin string, attach ebpf.AttachType, prog *ebpf.Program, cg uint64) (link.Link, error) {
	path := filepath.Join(s.cfg.PinDir, pin)
	l, err := link.LoadPinnedLink(path, nil)
	switch {
	case err == nil:
		if same, ierr := onCgroup(l, cg); ierr != nil || !same {
			// Attached elsewhere (the flag changed, or the cgroup was
			// made anew): detach it and attach here.
			_ = l.Unpin()
			_ = l.Close()
			break
		}
		if err := l.Update(prog); err != nil {
			l.Close()
			return nil, fmt.Errorf("socket lb: update %s: %w", pin, err)
		}
		return l, nil
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("socket lb: open %s: %w", path, err)
	}
	l, err = link.AttachCgroup(link.CgroupOptions{Path: s.cfg.Cgroup, Attach: attach, Program: prog})
	if err != nil {
		return nil, fmt.Errorf("socket lb: attach %s to %s: %w", attach, s.cfg.Cgroup, err)
	}
	if err := l.Pin(path); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket lb: pin %s: %w", path, err)
	}
	return l, nil
}

func onCgroup(l link.Link, cg uint64) (bool, error) {
	info, err := l.Info()
	if err != nil {
		return false, err
	}
	ci := info.Cgroup()
	if ci == nil {
		return false, nil
	}
	return ci.CgroupId == cg, nil
}

// cgroupID is a cgroup v2 directory's id: its inode number.
func cgroupID(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("socket lb: cgroup %s: %w", dir, err)
	}
	const cgroup2Magic = 0x63677270
	if st.Type != cgroup2Magic {
		return 0, fmt.Errorf("socket lb: %s is not in a cgroup v2 hierarchy", dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("socket lb: cgroup %s: %w", dir, err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

func isBPFFS(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("socket lb: %s: %w", dir, err)
	}
	const bpffsMagic = 0xcafe4a11
	if uint32(st.Type) != bpffsMagic {
		return fmt.Errorf("socket lb: %s is not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)", dir)
	}
	return nil
}

// Close releases this process's handles. Pinned maps and links stay, and
// so does the load balancing.
func (s *SocketLB) Close() error {
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
	return s.objs.Close()
}

// Uninstall removes every pin of a socket load balancer (and of its tc
// programs) in dir, which
// detaches its programs and frees its maps once no process holds them,
// and then dir itself if it is empty. A missing dir is not an error.
func Uninstall(dir string) error {
	names := []string{}
	for _, h := range hooks {
		names = append(names, h.pin)
	}
	spec, err := loadSock()
	if err != nil {
		return fmt.Errorf("socket lb: %w", err)
	}
	for name := range spec.Maps {
		names = append(names, name)
	}
	names = append(names, tcPins()...)
	names = append(names, fwdPins(dir)...)
	var errs []error
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("socket lb: uninstall %s: %w", dir, errors.Join(errs...))
	}
	return nil
}

// CgroupV2Root is where the cgroup v2 hierarchy is mounted:
// /sys/fs/cgroup on a unified system, /sys/fs/cgroup/unified on a hybrid
// one (v1 controllers, v2 for process tracking).
func CgroupV2Root() (string, error) {
	const cgroup2Magic = 0x63677270
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err == nil && st.Type == cgroup2Magic {
			return dir, nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}
