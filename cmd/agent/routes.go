package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/keel-edge/keel/agent/membership"
	"github.com/keel-edge/keel/cni"
)

// nodeRoutes are the routes to the pod CIDRs the other members announce,
// through their gossip addresses. A failed member keeps its route until
// gossip forgets it: its agent may be down while its pods run and answer,
// and a route to a machine that is really gone costs nothing. A member
// that left drops its route, and when two members announce one CIDR an
// alive one wins.
func nodeRoutes(members []membership.Member, self string) []cni.NodeRoute {
	var out []cni.NodeRoute
	alive := map[netip.Prefix]bool{}
	for _, m := range members {
		if m.Name == self || m.Status == membership.Left || m.TagErr != nil || m.Tags.PodCIDR == "" {
			continue
		}
		p, err := netip.ParsePrefix(m.Tags.PodCIDR)
		if err != nil || !m.Addr.IsValid() {
			continue
		}
		r := cni.NodeRoute{PodCIDR: p, Via: m.Addr.Addr()}
		i := slices.IndexFunc(out, func(o cni.NodeRoute) bool { return o.PodCIDR == p })
		switch {
		case i < 0:
			out = append(out, r)
		case m.Status == membership.Alive && !alive[p]:
			out[i] = r
		default:
			continue
		}
		alive[p] = m.Status == membership.Alive
	}
	return out
}

// nodeAddrs are the addresses of the members, this one included, but
// for those that left: like its route, a failed member's address stays
// while its pods may still run.
func nodeAddrs(members []membership.Member) []netip.Addr {
	var out []netip.Addr
	for _, m := range members {
		if m.Status != membership.Left && m.Addr.IsValid() {
			out = append(out, m.Addr.Addr())
		}
	}
	return out
}

// routePods keeps a route to every other node's pods, direct or through
// the VXLAN overlay as mode says, and the node addresses that pods'
// traffic is not masqueraded to, as members come, change and go, until
// ctx ends.
func routePods(ctx context.Context, mem *membership.Membership, self string, own netip.Prefix, mode cni.RoutingMode, log *slog.Logger) error {
	changed := mem.Subscribe()
	for {
		members := mem.Members()
		if err := cni.SetNodeAddrs(nodeAddrs(members)); err != nil {
			log.Warn("node addresses exempt from pod egress masquerade", "err", err)
		}
		ops, err := cni.SyncNodeRoutes(nodeRoutes(members, self), own, mode)
		switch {
		case err != nil:
			log.Warn("pod routes to other nodes", "mode", mode, "err", err)
		case ops.Changes() > 0:
			overlay := 0
			for _, r := range ops.Replace {
				if r.Overlay {
					overlay++
				}
			}
			log.Info("pod routes to other nodes changed", "mode", mode, "set", len(ops.Replace), "overlay", overlay,
				"removed", len(ops.Delete), "overlayEntries", ops.Overlay.Changes())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-time.After(30 * time.Second):
		}
	}
}

// podMTU is the pods' MTU for the routing mode over the link carrying the
// node's address (or its default route); with neither, over a link of
// the default MTU.
func podMTU(mode cni.RoutingMode, addrs []net.IP, log *slog.Logger) (int, error) {
	var adv netip.Addr
	if len(addrs) > 0 {
		adv, _ = netip.AddrFromSlice(addrs[0])
	}
	uplink, err := cni.FindUplink(adv.Unmap())
	if err != nil {
		log.Warn("pod MTU: no uplink, assuming its MTU is the default", "mtu", cni.DefaultMTU, "err", err)
		uplink = cni.Uplink{Name: "none", MTU: cni.DefaultMTU}
	}
	mtu, err := cni.PodMTU(mode, uplink.MTU)
	if err != nil {
		return 0, err
	}
	log.Info("pod MTU", "mtu", mtu, "uplink", uplink.Name, "uplinkMTU", uplink.MTU, "mode", mode)
	return mtu, nil
}
