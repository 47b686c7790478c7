package cni

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrExhausted means the subnet has no free address left.
var ErrExhausted = errors.New("no free address in subnet")

// maxScan bounds one allocation's search, so a huge IPv6 subnet cannot
// turn an ADD into an endless walk.
const maxScan = 1 << 20

// Store hands out addresses of one subnet, one file per allocated address
// (named by the address, holding the container ID and interface name) in
// a directory per network. Every operation holds an exclusive flock on
// the directory's lock file, so plugin processes running at once never
// hand out the same address, and allocations survive restarts.
type Store struct {
	dir    string
	prefix netip.Prefix
}

// Allocation is one address held by a container's interface.
type Allocation struct {
	Addr        netip.Addr
	ContainerID string
	IfName      string
}

const (
	lockFile = "lock"
	lastFile = "last_reserved"
)

// OpenStore opens (creating if needed) the allocations of network under
// dataDir/networks/network for subnet prefix.
func OpenStore(dataDir, network string, prefix netip.Prefix) (*Store, error) {
	if err := validName(network); err != nil {
		return nil, fmt.Errorf("ipam network name: %w", err)
	}
	dir := filepath.Join(dataDir, "networks", network)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ipam store: %w", err)
	}
	return &Store{dir: dir, prefix: prefix.Masked()}, nil
}

// Dir is the directory holding the allocations.
func (s *Store) Dir() string { return s.dir }

// locked runs fn holding the store's exclusive lock.
func (s *Store) locked(fn func() error) error {
	path := filepath.Join(s.dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ipam lock: %w", err)
	}
	defer f.Close()
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("ipam lock %s: %w", path, err)
	}
	return fn()
}

// Allocate returns the address held by (id, ifname), reserving the next
// free one (round-robin after the last reserved) if it has none.
func (s *Store) Allocate(id, ifname string) (netip.Addr, error) {
	var got netip.Addr
	err := s.locked(func() error {
		all, err := s.list()
		if err != nil {
			return err
		}
		for _, a := range all {
			if a.ContainerID == id && a.IfName == ifname && s.prefix.Contains(a.Addr) {
				got = a.Addr
				return nil
			}
		}
		first, last := hostRange(s.prefix)
		start := first
		if b, err := os.ReadFile(filepath.Join(s.dir, lastFile)); err == nil {
			if prev, err := netip.ParseAddr(strings.TrimSpace(string(b))); err == nil && prev.Compare(first) >= 0 && prev.Compare(last) < 0 {
				start = prev.Next()
			}
		}
		a := start
		for i := 0; i < maxScan; i++ {
			ok, err := s.reserve(a, id, ifname)
			if err != nil {
				return err
			}
			if ok {
				got = a
				return writeFileSync(filepath.Join(s.dir, lastFile), []byte(a.String()+"\n"))
			}
			if a = a.Next(); a.Compare(last) > 0 {
				a = first
			}
			if a == start {
				break
			}
		}
		return fmt.Errorf("allocate in %s: %w", s.prefix, ErrExhausted)
	})
	return got, err
}

// reserve creates a's file unless it exists.
func (s *Store) reserve(a netip.Addr, id, ifname string) (bool, error) {
	path := filepath.Join(s.dir, a.String())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reserve %s: %w", a, err)
	}
	_, err = f.WriteString(id + "\n" + ifname + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return false, fmt.Errorf("reserve %s: %w", a, err)
	}
	return true, nil
}

// Lookup returns the address held by (id, ifname), if any.
func (s *Store) Lookup(id, ifname string) (netip.Addr, bool, error) {
	var got netip.Addr
	var found bool
	err := s.locked(func() error {
		all, err := s.list()
		for _, a := range all {
			if a.ContainerID == id && a.IfName == ifname {
				got, found = a.Addr, true
			}
		}
		return err
	})
	return got, found, err
}

// Release frees every address held by (id, ifname); releasing nothing is
// not an error.
func (s *Store) Release(id, ifname string) error {
	return s.locked(func() error {
		all, err := s.list()
		if err != nil {
			return err
		}
		for _, a := range all {
			if a.ContainerID == id && a.IfName == ifname {
				if err := s.remove(a.Addr); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// GC frees every allocation whose container ID keep rejects and returns
// what it freed.
func (s *Store) GC(keep func(id string) bool) ([]Allocation, error) {
	var freed []Allocation
	err := s.locked(func() error {
		all, err := s.list()
		if err != nil {
			return err
		}
		for _, a := range all {
			if keep(a.ContainerID) {
				continue
			}
			if err := s.remove(a.Addr); err != nil {
				return err
			}
			freed = append(freed, a)
		}
		return nil
	})
	return freed, err
}

// Allocations lists every allocation, in address order.
func (s *Store) Allocations() ([]Allocation, error) {
	var all []Allocation
	err := s.locked(func() error {
		var err error
		all, err = s.list()
		return err
	})
	return all, err
}

// Capacity is how many pod addresses the subnet holds (capped at maxScan).
func (s *Store) Capacity() int {
	host := s.prefix.Addr().BitLen() - s.prefix.Bits()
	if host >= 21 {
		return maxScan
	}
	n := 1<<host - 2 // network address and gateway
	if s.prefix.Addr().Is4() {
		n-- // broadcast
	}
	return n
}

func (s *Store) remove(a netip.Addr) error {
	if err := os.Remove(filepath.Join(s.dir, a.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release %s: %w", a, err)
	}
	return nil
}

// list reads every allocation file; the caller holds the lock. A file
// cut short by a crash is listed with an empty container ID, so GC frees
// it.
func (s *Store) list() ([]Allocation, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("ipam store: %w", err)
	}
	var all []Allocation
	for _, e := range entries {
		a, err := netip.ParseAddr(e.Name())
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ipam store: %w", err)
		}
		al := Allocation{Addr: a}
		sc := bufio.NewScanner(bytes.NewReader(b))
		if sc.Scan() {
			al.ContainerID = strings.TrimSpace(sc.Text())
		}
		if sc.Scan() {
			al.IfName = strings.TrimSpace(sc.Text())
		}
		all = append(all, al)
	}
	return all, nil
}

// hostRange is the first and last address pods may get: after the
// gateway, and before the IPv4 broadcast address.
func hostRange(p netip.Prefix) (first, last netip.Addr) {
	first = p.Addr().Next().Next()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ = netip.AddrFromSlice(b)
	if last.Is4() {
		last = last.Prev()
	}
	return first, last
}

// writeFileSync replaces path's content durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
