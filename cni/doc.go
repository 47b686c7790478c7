// Package cni owns pod networking on one node: the keel-cni plugin (CNI
// spec 1.x: ADD, DEL, CHECK, VERSION, GC, STATUS) that puts each pod on a
// Linux bridge through a veth pair and gives it an address from the
// node's pod CIDR with a file-locked on-disk IPAM, and the Network driver
// that runs whatever conflist the node has through libcni, so the
// standard reference plugins can take the plugin's place.
//
// The agent binary is also the plugin executable: invoked as keel-cni
// (argv[0], usually a symlink) it calls PluginMain.
//
// It must not import anything of ours that uses it (agent, coordinator),
// nor touch iptables: egress masquerade and routes to other nodes' pod
// CIDRs belong to a later layer.
package cni
