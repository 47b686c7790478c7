package main

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/keel-edge/keel/agent/membership"
	"github.com/keel-edge/keel/cni"
)

// nodeRoutes are the routes to the pod CIDRs the alive members announce,
// through their gossip addresses.
func nodeRoutes(members []membership.Member, self string) []cni.NodeRoute {
	var out []cni.NodeRoute
	for _, m := range members {
		if m.Name == self || m.Status != membership.Alive || m.TagErr != nil || m.Tags.PodCIDR == "" {
			continue
		}
		p, err := netip.ParsePrefix(m.Tags.PodCIDR)
		if err != nil || !m.Addr.IsValid() {
			continue
		}
		out = append(out, cni.NodeRoute{PodCIDR: p, Via: m.Addr.Addr()})
	}
	return out
}

// routePods keeps a route to every other node's pods through that node,
// as members come, change and go, until ctx ends. The nodes share an L2
// segment; overlays are the network issue's.
func routePods(ctx context.Context, mem *membership.Membership, self string, own netip.Prefix, log *slog.Logger) error {
	changed := mem.Subscribe()
	for {
		ops, err := cni.SyncRoutes(nodeRoutes(mem.Members(), self), own)
		switch {
		case err != nil:
			log.Warn("pod routes to other nodes", "err", err)
		case len(ops.Replace)+len(ops.Delete) > 0:
			log.Info("pod routes to other nodes changed", "set", len(ops.Replace), "removed", len(ops.Delete))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-time.After(30 * time.Second):
		}
	}
}
