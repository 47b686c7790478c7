package bpf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// FwdConfig says where the pod fast path lives and which traffic it takes.
type FwdConfig struct {
	// PinDir is the bpffs directory its maps and links are pinned in.
	PinDir string
	// Uplinks are the interfaces traffic from other nodes' pods arrives
	// on: the node's uplink, and the VXLAN device with the overlay. One
	// that does not exist yet is attached when it appears (AttachUplinks).
	Uplinks []string
	// ClusterCIDR holds every node's pods; PodCIDR this node's.
	ClusterCIDR netip.Prefix
	PodCIDR     netip.Prefix
}

// Validate says what is wrong with the configuration.
func (c FwdConfig) Validate() error {
	switch {
	case c.PinDir == "":
		return errors.New("pod fast path: no bpffs pin directory")
	case len(c.Uplinks) == 0:
		return errors.New("pod fast path: no uplink interface")
	case !c.ClusterCIDR.IsValid() || !c.ClusterCIDR.Addr().Is4():
		return fmt.Errorf("pod fast path: cluster CIDR %q is not an IPv4 prefix", c.ClusterCIDR)
	case !c.PodCIDR.IsValid() || !c.PodCIDR.Addr().Is4():
		return fmt.Errorf("pod fast path: pod CIDR %q is not an IPv4 prefix", c.PodCIDR)
	case !c.ClusterCIDR.Contains(c.PodCIDR.Addr()) || c.PodCIDR.Bits() < c.ClusterCIDR.Bits():
		return fmt.Errorf("pod fast path: pod CIDR %s is not inside cluster CIDR %s", c.PodCIDR, c.ClusterCIDR)
	}
	for _, u := range c.Uplinks {
		if u == "" || strings.ContainsRune(u, '/') {
			return fmt.Errorf("pod fast path: bad uplink name %q", u)
		}
	}
	return nil
}

// FwdPod is a pod of this node as the fast path delivers to it.
type FwdPod struct {
	Addr netip.Addr
	// HostIfindex is the host side of the pod's veth.
	HostIfindex int
	// MAC is the pod interface's, GatewayMAC its gateway's (the bridge).
	MAC, GatewayMAC net.HardwareAddr
	// HostPorts are the pod's ports published on the node: replies from
	// them are left to the stack, which translates them back.
	HostPorts []FwdPort
}

// FwdPort is a pod's port and its protocol ("TCP" or "UDP").
type FwdPort struct {
	Port     uint16
	Protocol string
}

// FwdStats are the fast path's packet counters.
type FwdStats struct {
	// Out: from this node's pods to other nodes' pods, sent by the fast
	// path; OutPassed: the same traffic left to the stack (a published
	// port's replies, no route).
	Out, OutPassed uint64
	// In: delivered into this node's pods by the fast path.
	In uint64
}

const (
	fwdPodPin    = "link_fwd_pod_"
	fwdUplinkPin = "link_fwd_uplink_"
)

// fwdPinnedMaps are the maps the fast path pins.
var fwdPinnedMaps = []string{"keel_fwd_pods", "keel_fwd_hostports", "keel_fwd_stats"}

// Fwd is the pod fast path: pod traffic to other nodes' pods goes from
// the pod's veth straight to the next hop, and traffic arriving for this
// node's pods straight into them, past the bridge, netfilter and
// conntrack. Links and maps are pinned: the fast path keeps working while
// the agent restarts, and a next Fwd takes them over.
type Fwd struct {
	cfg  FwdConfig
	objs fwdObjects

	mu    sync.Mutex
	links map[string]link.Link // by pin name
}

// LoadFwd loads the fast path's programs, attaches the ingress program to
// those uplinks that exist, ahead of any other tcx program there, and
// takes over the links of pods a previous one attached.
func LoadFwd(cfg FwdConfig) (*Fwd, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.PinDir, 0o700); err != nil {
		return nil, fmt.Errorf("pod fast path: %w", err)
	}
	if err := isBPFFS(cfg.PinDir); err != nil {
		return nil, err
	}
	spec, err := loadFwd()
	if err != nil {
		return nil, fmt.Errorf("pod fast path: %w", err)
	}
	consts := map[string]uint32{}
	consts["cluster_net"], consts["cluster_mask"] = prefix4(cfg.ClusterCIDR)
	consts["pod_net"], consts["pod_mask"] = prefix4(cfg.PodCIDR)
	for name, v := range consts {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("pod fast path: %s: %w", name, err)
		}
	}
	f := &Fwd{cfg: cfg, links: map[string]link.Link{}}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: cfg.PinDir}}
	err = spec.LoadAndAssign(&f.objs, opts)
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		for _, name := range fwdPinnedMaps {
			if err := os.Remove(filepath.Join(cfg.PinDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("pod fast path: replace map %s: %w", name, err)
			}
		}
		err = spec.LoadAndAssign(&f.objs, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("pod fast path: load programs into %s: %w", cfg.PinDir, err)
	}
	if err := f.takeOverPods(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.AttachUplinks(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// prefix4 is p's network and mask as the programs compare them.
func prefix4(p netip.Prefix) (network, mask uint32) {
	n, _ := addr4(p.Masked().Addr())
	m := net.CIDRMask(p.Bits(), 32)
	mk, _ := addr4(netip.AddrFrom4([4]byte(m)))
	return n, mk
}

// AttachUplinks attaches the ingress program to the configured uplinks
// that exist and run it not yet; one that does not exist is skipped.
func (f *Fwd) AttachUplinks() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, name := range f.cfg.Uplinks {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			continue
		}
		pin := fwdUplinkPin + pinName(name)
		if l, ok := f.links[pin]; ok && onInterface(l, ifc.Index) {
			continue
		}
		l, err := f.hook(pin, f.objs.KeelFwdIn, ifc.Index, link.Head())
		if err != nil {
			return err
		}
		f.links[pin] = l
	}
	return nil
}

// hook returns the pinned link pin running prog at tcx ingress of
// ifindex: the pinned one updated when it is on that interface, else a
// new one (anchor places it among the interface's programs).
func (f *Fwd) hook(pin string, prog *ebpf.Program, ifindex int, anchor link.Anchor) (link.Link, error) {
	path := filepath.Join(f.cfg.PinDir, pin)
	if old, ok := f.links[pin]; ok {
		old.Close()
		delete(f.links, pin)
	}
	l, err := link.LoadPinnedLink(path, nil)
	switch {
	case err == nil:
		if onInterface(l, ifindex) {
			if err := l.Update(prog); err != nil {
				l.Close()
				return nil, fmt.Errorf("pod fast path: update %s: %w", pin, err)
			}
			return l, nil
		}
		_ = l.Unpin()
		_ = l.Close()
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("pod fast path: open %s: %w", path, err)
	}
	l, err = link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: ebpf.AttachTCXIngress, Anchor: anchor})
	if err != nil {
		return nil, fmt.Errorf("pod fast path: attach to interface %d: %w", ifindex, err)
	}
	if err := l.Pin(path); err != nil {
		l.Close()
		return nil, fmt.Errorf("pod fast path: pin %s: %w", path, err)
	}
	return l, nil
}

// takeOverPods updates the pod links a previous Fwd pinned to the new
// program, and removes those whose veth is gone.
func (f *Fwd) takeOverPods() error {
	entries, err := os.ReadDir(f.cfg.PinDir)
	if err != nil {
		return fmt.Errorf("pod fast path: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), fwdPodPin) {
			continue
		}
		path := filepath.Join(f.cfg.PinDir, e.Name())
		l, err := link.LoadPinnedLink(path, nil)
		if err != nil {
			_ = os.Remove(path)
			continue
		}
		info, err := l.Info()
		if err != nil || info.TCX() == nil || !ifindexExists(int(info.TCX().Ifindex)) {
			_ = l.Unpin()
			l.Close()
			continue
		}
		if err := l.Update(f.objs.KeelFwdPod); err != nil {
			l.Close()
			return fmt.Errorf("pod fast path: update %s: %w", e.Name(), err)
		}
		f.links[e.Name()] = l
	}
	return f.Prune()
}

func ifindexExists(i int) bool {
	_, err := net.InterfaceByIndex(i)
	return err == nil
}

// AddPod puts a pod on the fast path: its veth's traffic to other nodes'
// pods leaves directly, and traffic for it arriving on the uplinks goes
// directly in. Entries of pods whose veth is gone are dropped.
func (f *Fwd) AddPod(p FwdPod) error {
	key, err := addr4(p.Addr)
	if err != nil {
		return fmt.Errorf("pod fast path: pod address: %w", err)
	}
	if !f.cfg.PodCIDR.Contains(p.Addr) {
		return fmt.Errorf("pod fast path: pod address %s is not in pod CIDR %s", p.Addr, f.cfg.PodCIDR)
	}
	if len(p.MAC) != 6 || len(p.GatewayMAC) != 6 {
		return fmt.Errorf("pod fast path: pod %s: MACs %q and %q are not Ethernet", p.Addr, p.MAC, p.GatewayMAC)
	}
	ifc, err := net.InterfaceByIndex(p.HostIfindex)
	if err != nil {
		return fmt.Errorf("pod fast path: pod %s: host veth %d: %w", p.Addr, p.HostIfindex, err)
	}
	if err := f.AttachUplinks(); err != nil {
		return err
	}
	if err := f.Prune(); err != nil {
		return err
	}
	ports := make([]fwdFwdPort, 0, len(p.HostPorts))
	for _, hp := range p.HostPorts {
		var proto uint8
		switch strings.ToUpper(hp.Protocol) {
		case "TCP", "":
			proto = 6
		case "UDP":
			proto = 17
		default:
			continue // SCTP and others never reach the fast path
		}
		ports = append(ports, fwdFwdPort{Addr: key, Port: htons(hp.Port), Proto: proto})
	}
	// The published ports go in first: no reply of theirs may take the
	// fast path once the veth runs it.
	for _, k := range ports {
		if err := f.objs.KeelFwdHostports.Put(&k, uint8(1)); err != nil {
			return fmt.Errorf("pod fast path: pod %s port %d: %w", p.Addr, k.Port, err)
		}
	}
	v := fwdFwdPod{Ifindex: uint32(p.HostIfindex), Mac: [6]byte(p.MAC), GwMac: [6]byte(p.GatewayMAC)}
	if err := f.objs.KeelFwdPods.Put(&key, &v); err != nil {
		return fmt.Errorf("pod fast path: pod %s: %w", p.Addr, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pin := fwdPodPin + pinName(ifc.Name)
	l, err := f.hook(pin, f.objs.KeelFwdPod, ifc.Index, nil)
	if err != nil {
		_ = f.objs.KeelFwdPods.Delete(&key)
		return err
	}
	f.links[pin] = l
	return nil
}

// RemovePod takes a pod off the fast path; a pod not on it is fine.
func (f *Fwd) RemovePod(addr netip.Addr) error {
	key, err := addr4(addr)
	if err != nil {
		return fmt.Errorf("pod fast path: pod address: %w", err)
	}
	var v fwdFwdPod
	if err := f.objs.KeelFwdPods.Lookup(&key, &v); err == nil {
		if ifc, err := net.InterfaceByIndex(int(v.Ifindex)); err == nil {
			f.unhook(fwdPodPin + pinName(ifc.Name))
		}
	}
	if err := f.objs.KeelFwdPods.Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("pod fast path: remove pod %s: %w", addr, err)
	}
	return f.dropPorts(func(k fwdFwdPort) bool { return k.Addr == key })
}

func (f *Fwd) unhook(pin string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l, ok := f.links[pin]; ok {
		_ = l.Unpin()
		l.Close()
		delete(f.links, pin)
		return
	}
	_ = os.Remove(filepath.Join(f.cfg.PinDir, pin))
}

// Prune drops the pods whose host veth is gone, their ports and links.
func (f *Fwd) Prune() error {
	var (
		key  uint32
		v    fwdFwdPod
		gone = map[uint32]bool{}
	)
	it := f.objs.KeelFwdPods.Iterate()
	for it.Next(&key, &v) {
		if !ifindexExists(int(v.Ifindex)) {
			gone[key] = true
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("pod fast path: list pods: %w", err)
	}
	for k := range gone {
		if err := f.objs.KeelFwdPods.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("pod fast path: remove pod: %w", err)
		}
	}
	if err := f.dropPorts(func(k fwdFwdPort) bool {
		var v fwdFwdPod
		return f.objs.KeelFwdPods.Lookup(&k.Addr, &v) != nil
	}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for pin, l := range f.links {
		if !strings.HasPrefix(pin, fwdPodPin) {
			continue
		}
		if info, err := l.Info(); err != nil || info.TCX() == nil || !ifindexExists(int(info.TCX().Ifindex)) {
			_ = l.Unpin()
			l.Close()
			delete(f.links, pin)
		}
	}
	return nil
}

func (f *Fwd) dropPorts(match func(fwdFwdPort) bool) error {
	var (
		k    fwdFwdPort
		one  uint8
		drop []fwdFwdPort
	)
	it := f.objs.KeelFwdHostports.Iterate()
	for it.Next(&k, &one) {
		if match(k) {
			drop = append(drop, k)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("pod fast path: list published ports: %w", err)
	}
	for _, k := range drop {
		if err := f.objs.KeelFwdHostports.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("pod fast path: remove published port: %w", err)
		}
	}
	return nil
}

// Pods lists the pods on the fast path.
func (f *Fwd) Pods() ([]FwdPod, error) {
	var (
		key  uint32
		v    fwdFwdPod
		pods []FwdPod
	)
	it := f.objs.KeelFwdPods.Iterate()
	for it.Next(&key, &v) {
		pods = append(pods, FwdPod{Addr: fromAddr4(key), HostIfindex: int(v.Ifindex),
			MAC: net.HardwareAddr(v.Mac[:]), GatewayMAC: net.HardwareAddr(v.GwMac[:])})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("pod fast path: list pods: %w", err)
	}
	return pods, nil
}

// Stats sums the counters over the CPUs.
func (f *Fwd) Stats() (FwdStats, error) {
	var s FwdStats
	for i, dst := range []*uint64{&s.Out, &s.In, &s.OutPassed} {
		var per []uint64
		if err := f.objs.KeelFwdStats.Lookup(uint32(i), &per); err != nil {
			return s, fmt.Errorf("pod fast path: counters: %w", err)
		}
		for _, n := range per {
			*dst += n
		}
	}
	return s, nil
}

// Close releases this process's handles; pinned links and maps stay.
func (f *Fwd) Close() error {
	f.mu.Lock()
	for _, l := range f.links {
		l.Close()
	}
	f.links = nil
	f.mu.Unlock()
	return f.objs.Close()
}

// UninstallFwd removes the fast path's pins from dir, which detaches its
// programs: pod traffic takes the node's stack again. The service load
// balancer's pins stay.
func UninstallFwd(dir string) error {
	var errs []error
	for _, n := range fwdPins(dir) {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pod fast path: uninstall %s: %w", dir, errors.Join(errs...))
	}
	return nil
}

// fwdPins are the pins of the fast path in dir, links of pods included.
func fwdPins(dir string) []string {
	names := append([]string(nil), fwdPinnedMaps...)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), fwdPodPin) || strings.HasPrefix(e.Name(), fwdUplinkPin) {
			names = append(names, e.Name())
		}
	}
	return names
}

// pinName is an interface's name as a pin's: bpffs refuses dots.
func pinName(ifname string) string { return strings.ReplaceAll(ifname, ".", "_") }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
