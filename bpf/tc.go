package bpf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// TCConfig says where the tc programs of traffic from outside live.
type TCConfig struct {
	// PinDir is the socket load balancer's pin directory: the programs
	// read the maps pinned there and pin their own links and flow maps
	// beside them.
	PinDir string
	// Interface is the node's uplink, where traffic from outside comes in.
	Interface string
	// NodeAddr is this node's IPv4 address on the uplink: the source of
	// flows sent on to backends on other nodes.
	NodeAddr netip.Addr
}

// Validate says what is wrong with the configuration.
func (c TCConfig) Validate() error {
	switch {
	case c.PinDir == "":
		return errors.New("tc lb: no bpffs pin directory")
	case c.Interface == "":
		return errors.New("tc lb: no uplink interface")
	case !c.NodeAddr.Is4():
		return fmt.Errorf("tc lb: node address %q is not IPv4", c.NodeAddr)
	}
	return nil
}

// tcHooks are the programs on the uplink and the names their links are
// pinned under.
var tcHooks = []struct {
	pin    string
	attach ebpf.AttachType
	prog   func(*tcObjects) *ebpf.Program
}{
	{"link_tc_ingress", ebpf.AttachTCXIngress, func(o *tcObjects) *ebpf.Program { return o.KeelTcIngress }},
	{"link_tc_egress", ebpf.AttachTCXEgress, func(o *tcObjects) *ebpf.Program { return o.KeelTcEgress }},
}

// TC is the load balancer of service traffic from outside the node:
// programs on the uplink's tc ingress and egress (tcx) that translate
// packets to external frontends (NodePorts, load balancer addresses,
// external IPs) to backends and their replies back. They read the maps a
// SocketLB in the same pin directory is given; links and flow state are
// pinned, so translated flows keep working after Close and after the
// process exits.
type TC struct {
	cfg   TCConfig
	objs  tcObjects
	links []link.Link
}

// LoadTC loads the tc programs with the maps pinned in cfg.PinDir and
// makes sure the uplink runs them: a pinned link on the same interface is
// updated to the new programs, any other is replaced.
func LoadTC(cfg TCConfig) (*TC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("tc lb: uplink %s: %w", cfg.Interface, err)
	}
	if err := os.MkdirAll(cfg.PinDir, 0o700); err != nil {
		return nil, fmt.Errorf("tc lb: %w", err)
	}
	if err := isBPFFS(cfg.PinDir); err != nil {
		return nil, err
	}
	t := &TC{cfg: cfg}
	if err := t.loadObjects(); err != nil {
		return nil, err
	}
	for _, h := range tcHooks {
		l, err := t.hook(h.pin, h.attach, h.prog(&t.objs), ifc.Index)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.links = append(t.links, l)
	}
	return t, nil
}

// tcOwnMaps are the maps only the tc programs use: their flow state.
var tcOwnMaps = []string{"keel_tc_flows", "keel_tc_nat"}

func (t *TC) loadObjects() error {
	spec, err := loadTc()
	if err != nil {
		return fmt.Errorf("tc lb: %w", err)
	}
	a, _ := addr4(t.cfg.NodeAddr)
	if err := spec.Variables["node_addr"].Set(a); err != nil {
		return fmt.Errorf("tc lb: node address: %w", err)
	}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: t.cfg.PinDir}}
	err = spec.LoadAndAssign(&t.objs, opts)
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		// Flow state of an older layout: start it over. The shared maps
		// are the socket load balancer's to replace.
		for _, name := range tcOwnMaps {
			if err := os.Remove(filepath.Join(t.cfg.PinDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("tc lb: replace map %s: %w", name, err)
			}
		}
		err = spec.LoadAndAssign(&t.objs, opts)
	}
	if err != nil {
		return fmt.Errorf("tc lb: load programs into %s: %w", t.cfg.PinDir, err)
	}
	return nil
}

// hook returns the pinned link of a hook, running prog on interface
// ifindex; a pinned link on another interface (or a gone one) is
// replaced.
func (t *TC) hook(pin string, attach ebpf.AttachType, prog *ebpf.Program, ifindex int) (link.Link, error) {
	path := filepath.Join(t.cfg.PinDir, pin)
	l, err := link.LoadPinnedLink(path, nil)
	switch {
	case err == nil:
		if !onInterface(l, ifindex) {
			_ = l.Unpin()
			_ = l.Close()
			break
		}
		if err := l.Update(prog); err != nil {
			l.Close()
			return nil, fmt.Errorf("tc lb: update %s: %w", pin, err)
		}
		return l, nil
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("tc lb: open %s: %w", path, err)
	}
	l, err = link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: attach})
	if err != nil {
		return nil, fmt.Errorf("tc lb: attach %s to %s: %w", attach, t.cfg.Interface, err)
	}
	if err := l.Pin(path); err != nil {
		l.Close()
		return nil, fmt.Errorf("tc lb: pin %s: %w", path, err)
	}
	return l, nil
}

func onInterface(l link.Link, ifindex int) bool {
	info, err := l.Info()
	if err != nil {
		return false
	}
	tcx := info.TCX()
	return tcx != nil && int(tcx.Ifindex) == ifindex
}

// Close releases this process's handles. Pinned links and maps stay, and
// so does the translation of traffic from outside.
func (t *TC) Close() error {
	for _, l := range t.links {
		l.Close()
	}
	t.links = nil
	return t.objs.Close()
}

// tcPins are the names the tc programs pin in a pin directory.
func tcPins() []string {
	names := append([]string(nil), tcOwnMaps...)
	for _, h := range tcHooks {
		names = append(names, h.pin)
	}
	return names
}
