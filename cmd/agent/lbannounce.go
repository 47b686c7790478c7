package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"

	"k8s.io/client-go/informers"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/internal/hostaddr"
)

// The ARP responder announces load balancer addresses for the node loop.
var _ agent.Announcer = (*cni.ARPResponder)(nil)

// announceLoadBalancers answers ARP for the load balancer addresses this
// node owns, on the interface holding its address adv (the host's first
// IPv4 when nil), until ctx ends. A node whose address is on no interface
// of its own (behind NAT) announces nothing and says so.
func announceLoadBalancers(ctx context.Context, node string, adv net.IP, view informers.SharedInformerFactory, log *slog.Logger) error {
	if adv == nil {
		adv = hostaddr.FirstIPv4()
	}
	addr, ok := netip.AddrFromSlice(adv)
	if !ok {
		log.Warn("load balancer addresses are not announced: this node has no address; pass --advertise-addr")
		return nil
	}
	ifname, err := cni.InterfaceOf(addr)
	if err != nil {
		log.Warn("load balancer addresses are not announced", "err", err)
		return nil
	}
	resp := cni.NewARPResponder(ifname)
	defer resp.Close()
	cfg := agent.DefaultLBAnnounceConfig(node)
	cfg.Log = log
	l, err := agent.NewLBAnnouncer(cfg, view, resp)
	if err != nil {
		return err
	}
	log.Info("load balancer addresses this node owns are announced by ARP", "interface", ifname)
	return l.Run(ctx)
}
