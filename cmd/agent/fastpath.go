package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/bpf"
	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/internal/hostaddr"
)

// loadFastPath loads the eBPF pod fast path in the service load
// balancer's pin directory, on the uplink (the interface of the advertise
// address) and the VXLAN device. When it cannot load, pod traffic takes
// the bridge and the node's stack, as it does without it, and the node
// says why.
func loadFastPath(o *runOptions, log *slog.Logger) *bpf.Fwd {
	if !o.podFastPath {
		// Pins of an earlier run would keep the programs attached.
		if err := bpf.UninstallFwd(o.serviceLB.pinDir); err != nil {
			log.Warn("pod fast path: remove an earlier run's", "err", err)
		}
		log.Info("pod fast path is off (--pod-fast-path=false)")
		return nil
	}
	cluster, err1 := netip.ParsePrefix(o.clusterCIDR)
	own, err2 := netip.ParsePrefix(o.podCIDR)
	if err1 != nil || err2 != nil {
		log.Warn("pod fast path is off: cluster or pod CIDR unreadable", "cluster", o.clusterCIDR, "pod", o.podCIDR)
		return nil
	}
	adv := net.ParseIP(o.advertise)
	if adv == nil {
		adv = hostaddr.FirstIPv4()
	}
	addr, ok := netip.AddrFromSlice(adv.To4())
	if !ok {
		log.Warn("pod fast path is off: this node has no IPv4 address; pass --advertise-addr")
		return nil
	}
	uplink, err := cni.InterfaceOf(addr)
	if err != nil {
		log.Warn("pod fast path is off", "err", err)
		return nil
	}
	if err := mountBPFFS(o.serviceLB.pinDir); err != nil {
		log.Warn("pod fast path is off", "err", err)
		return nil
	}
	fwd, err := bpf.LoadFwd(bpf.FwdConfig{
		PinDir:      o.serviceLB.pinDir,
		Uplinks:     []string{uplink, cni.VXLANDevice},
		ClusterCIDR: cluster,
		PodCIDR:     own,
	})
	if err != nil {
		log.Warn("pod fast path is off: pod traffic takes the node's stack", "err", err)
		return nil
	}
	log.Info("pod fast path on", "uplink", uplink, "pins", o.serviceLB.pinDir)
	return fwd
}

// fastNetwork is the pod network with each attached pod put on the fast
// path. A pod the fast path cannot take keeps the normal path.
type fastNetwork struct {
	agent.Network
	fwd *bpf.Fwd
	log *slog.Logger

	mu  sync.Mutex
	ips map[string][]netip.Addr // by pod UID
}

func newFastNetwork(n agent.Network, fwd *bpf.Fwd, log *slog.Logger) *fastNetwork {
	return &fastNetwork{Network: n, fwd: fwd, log: log, ips: map[string][]netip.Addr{}}
}

func (n *fastNetwork) Attach(ctx context.Context, podUID, namespace, name, netnsPath string, ports []agent.PortMapping) ([]string, error) {
	ips, err := n.Network.Attach(ctx, podUID, namespace, name, netnsPath, ports)
	if err != nil {
		return ips, err
	}
	var hostPorts []bpf.FwdPort
	for _, p := range ports {
		if p.HostPort != 0 {
			hostPorts = append(hostPorts, bpf.FwdPort{Port: uint16(p.ContainerPort), Protocol: p.Protocol})
		}
	}
	var on []netip.Addr
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is4() {
			continue
		}
		p, err := bpf.FindPod(netnsPath, ip)
		if err == nil {
			p.HostPorts = hostPorts
			err = n.fwd.AddPod(p)
		}
		if err != nil {
			n.log.Warn("pod keeps the normal path", "pod", namespace+"/"+name, "ip", ip, "err", err)
			continue
		}
		on = append(on, ip)
	}
	n.mu.Lock()
	n.ips[podUID] = on
	n.mu.Unlock()
	return ips, nil
}

func (n *fastNetwork) Detach(ctx context.Context, podUID, namespace, name, netnsPath string) error {
	n.mu.Lock()
	ips := n.ips[podUID]
	delete(n.ips, podUID)
	n.mu.Unlock()
	for _, ip := range ips {
		if err := n.fwd.RemovePod(ip); err != nil {
			n.log.Warn("pod fast path", "pod", namespace+"/"+name, "err", err)
		}
	}
	if err := n.Network.Detach(ctx, podUID, namespace, name, netnsPath); err != nil {
		return err
	}
	// A pod an earlier agent attached is not in ips: its entry goes with
	// its veth.
	if err := n.fwd.Prune(); err != nil {
		n.log.Warn("pod fast path", "err", err)
	}
	return nil
}
