// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Service traffic from outside the node: tc programs on the node's uplink.
//
// Ingress: an IPv4 TCP or UDP packet to an external frontend (keel_external:
// node address and NodePort, load balancer address, external IP) gets a
// backend from the service's lookup table by a hash of its flow, kept in
// keel_tc_flows while the flow lives so a table change does not move it.
//  - A backend on this node (and every backend of externalTrafficPolicy
//    Local): the destination becomes the backend and the stack delivers the
//    packet (the route to the pod CIDR). Replies leave through the uplink,
//    where the egress program gives them the frontend's address again.
//  - A backend on another node: the source also becomes this node's address
//    (node_addr) and a port for the flow, and the packet goes out at once to
//    the next hop towards the backend (bpf_redirect_neigh, not through the
//    stack, which would call a packet from its own address a martian).
//    Replies come back to this node, where ingress restores the frontend as
//    source and the client as destination and sends them to the client.
//
// Source ports of translated flows: the client's port is kept; when that
// port is already taken towards the same backend (another client with the
// same port), up to SNAT_TRIES other ports from a hash of the flow, in
// 32768-65535, are tried; a flow that finds none is dropped.
//
// Not handled (passed untouched): IPv6, fragments, ICMP errors about
// translated flows.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lb.h"

#define AF_INET 2
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

#define SNAT_TRIES 8

// This node's address, the source of flows sent to other nodes' backends
// (network byte order). Set when the programs are loaded.
volatile const __u32 node_addr = 0;

// A flow as a packet carries it.
struct flow_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

// A client's flow to a frontend: its backend, and the source port towards a
// backend on another node.
struct flow_value {
	__u32 backend;
	__u16 snat_port;
	__u16 pad;
};

#define NAT_F_SNAT 1

// What a reply (keyed by its flow as it arrives) must be given back: the
// frontend as source, and, for a backend on another node, the client as
// destination.
struct nat_value {
	__u32 frontend_addr;
	__u32 client_addr;
	__u16 frontend_port;
	__u16 client_port;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_tc_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct flow_key);
	__type(value, struct nat_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_tc_nat SEC(".maps");

// A parsed packet: its flow and where its fields are.
struct pkt {
	struct flow_key flow;
	__u32 l4; // offset of the TCP or UDP header
	__u32 csum; // offset of the TCP or UDP checksum
};

#define IP_OFF ETH_HLEN
#define IP_CSUM_OFF (IP_OFF + 10)
#define IP_SRC_OFF (IP_OFF + 12)
#define IP_DST_OFF (IP_OFF + 16)

// parse reads an IPv4 TCP or UDP packet's flow; 0 when it is not one (or
// a fragment).
static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	struct iphdr ip;
	__u16 ports[2];

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, IP_OFF, &ip, sizeof(ip)) < 0)
		return 0;
	if (ip.ihl < 5 || (ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP))
		return 0;
	if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return 0;
	p->l4 = IP_OFF + ip.ihl * 4;
	if (bpf_skb_load_bytes(skb, p->l4, ports, sizeof(ports)) < 0)
		return 0;
	p->flow.saddr = ip.saddr;
	p->flow.daddr = ip.daddr;
	p->flow.sport = ports[0];
	p->flow.dport = ports[1];
	p->flow.proto = ip.protocol;
	p->csum = p->l4 + (ip.protocol == IPPROTO_TCP ? 16 : 6);
	return 1;
}

// rewrite changes the source (src set) or destination address and port of
// a packet, with the IP and TCP/UDP checksums.
static __always_inline int rewrite(struct __sk_buff *skb, struct pkt *p, int src, __u32 addr, __u16 port)
{
	__u32 old_addr = src ? p->flow.saddr : p->flow.daddr;
	__u16 old_port = src ? p->flow.sport : p->flow.dport;
	__u64 l4flags = p->flow.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (old_addr != addr) {
		if (bpf_l4_csum_replace(skb, p->csum, old_addr, addr, l4flags | BPF_F_PSEUDO_HDR | sizeof(addr)) < 0)
			return -1;
		if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_addr, addr, sizeof(addr)) < 0)
			return -1;
		if (bpf_skb_store_bytes(skb, src ? IP_SRC_OFF : IP_DST_OFF, &addr, sizeof(addr), 0) < 0)
			return -1;
	}
	if (old_port != port) {
		if (bpf_l4_csum_replace(skb, p->csum, old_port, port, l4flags | sizeof(port)) < 0)
			return -1;
		if (bpf_skb_store_bytes(skb, p->l4 + (src ? 0 : 2), &port, sizeof(port), 0) < 0)
			return -1;
	}
	if (src) {
		p->flow.saddr = addr;
		p->flow.sport = port;
	} else {
		p->flow.daddr = addr;
		p->flow.dport = port;
	}
	return 0;
}

// forward sends a rewritten packet out to the next hop towards its
// destination, as the routing table says.
static __always_inline int forward(struct __sk_buff *skb, struct pkt *p)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	long rc;

	fib.family = AF_INET;
	fib.l4_protocol = p->flow.proto;
	fib.sport = p->flow.sport;
	fib.dport = p->flow.dport;
	fib.ipv4_src = p->flow.saddr;
	fib.ipv4_dst = p->flow.daddr;
	fib.ifindex = skb->ifindex;
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_SHOT;
	nh.nh_family = AF_INET;
	nh.ipv4_nh = fib.ipv4_dst; // the gateway, or the destination itself
	return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
}

// reply handles a reply from a backend on another node to this node's
// translated source port: back to the client, from the frontend.
static __always_inline int reply(struct __sk_buff *skb, struct pkt *p, struct nat_value *nv)
{
	struct nat_value v = *nv;

	if (rewrite(skb, p, 0, v.client_addr, v.client_port) < 0)
		return TC_ACT_SHOT;
	if (rewrite(skb, p, 1, v.frontend_addr, v.frontend_port) < 0)
		return TC_ACT_SHOT;
	return forward(skb, p);
}

// pick finds the flow's backend: the one it had, while it is still one of
// the service's, or the table's slot for the flow's hash.
static __always_inline struct backend *pick(struct __sk_buff *skb, struct pkt *p, __u32 svc, struct flow_value *fv)
{
	struct flow_value *old;
	struct backend *be;
	struct table *t;
	__u32 slot;

	old = bpf_map_lookup_elem(&keel_tc_flows, &p->flow);
	if (old) {
		be = bpf_map_lookup_elem(&keel_backends, &old->backend);
		if (be && be->svc == svc) {
			*fv = *old;
			return be;
		}
	}
	t = bpf_map_lookup_elem(&keel_tables, &svc);
	if (!t || t->count == 0)
		return 0;
	slot = bpf_get_hash_recalc(skb) % TABLE_SIZE;
	barrier_var(slot);
	if (slot >= TABLE_SIZE)
		return 0;
	fv->backend = t->slot[slot].backend;
	fv->snat_port = 0;
	be = bpf_map_lookup_elem(&keel_backends, &fv->backend);
	if (!be || be->svc != svc)
		return 0;
	return be;
}

// snat_port finds the source port of a flow to a backend on another node
// and records the reply's translation under it; 0 when every try is taken.
static __always_inline __u16 snat_port(struct __sk_buff *skb, struct pkt *p, struct backend *be, struct nat_value *nv)
{
	struct flow_key rk = {};
	struct nat_value *cur;
	__u32 h = bpf_get_hash_recalc(skb);
	__u16 port = p->flow.sport;

	rk.saddr = be->addr;
	rk.daddr = node_addr;
	rk.sport = be->port;
	rk.proto = p->flow.proto;
	for (int i = 0; i <= SNAT_TRIES; i++) {
		if (i > 0)
			port = bpf_htons(32768 + ((h + i * 7919) & 0x7fff));
		rk.dport = port;
		cur = bpf_map_lookup_elem(&keel_tc_nat, &rk);
		if (cur && (cur->client_addr != nv->client_addr || cur->client_port != nv->client_port ||
			    cur->frontend_addr != nv->frontend_addr || cur->frontend_port != nv->frontend_port))
			continue;
		if (bpf_map_update_elem(&keel_tc_nat, &rk, nv, BPF_ANY) < 0)
			return 0;
		return port;
	}
	return 0;
}

SEC("tc")
int keel_tc_ingress(struct __sk_buff *skb)
{
	struct svc_key key = {};
	struct ext_value *ext;
	struct flow_value fv = {};
	struct flow_key rk = {};
	struct nat_value nv = {};
	struct nat_value *rv;
	struct backend *be;
	struct pkt p = {};
	__u16 port;

	if (!parse(skb, &p))
		return TC_ACT_OK;
	if (p.flow.daddr == node_addr) {
		rv = bpf_map_lookup_elem(&keel_tc_nat, &p.flow);
		if (rv && (rv->flags & NAT_F_SNAT))
			return reply(skb, &p, rv);
	}
	key.addr = p.flow.daddr;
	key.port = p.flow.dport;
	key.proto = p.flow.proto;
	ext = bpf_map_lookup_elem(&keel_external, &key);
	if (!ext)
		return TC_ACT_OK;
	be = pick(skb, &p, ext->id, &fv);
	if (!be)
		return TC_ACT_SHOT;
	nv.frontend_addr = p.flow.daddr;
	nv.frontend_port = p.flow.dport;
	nv.client_addr = p.flow.saddr;
	nv.client_port = p.flow.sport;
	if ((be->flags & BE_F_LOCAL) || (ext->flags & EXT_F_LOCAL) || node_addr == 0) {
		fv.snat_port = 0;
		bpf_map_update_elem(&keel_tc_flows, &p.flow, &fv, BPF_ANY);
		rk.saddr = be->addr;
		rk.daddr = p.flow.saddr;
		rk.sport = be->port;
		rk.dport = p.flow.sport;
		rk.proto = p.flow.proto;
		bpf_map_update_elem(&keel_tc_nat, &rk, &nv, BPF_ANY);
		if (rewrite(skb, &p, 0, be->addr, be->port) < 0)
			return TC_ACT_SHOT;
		return TC_ACT_OK;
	}
	nv.flags = NAT_F_SNAT;
	port = snat_port(skb, &p, be, &nv);
	if (!port)
		return TC_ACT_SHOT;
	fv.snat_port = port;
	bpf_map_update_elem(&keel_tc_flows, &p.flow, &fv, BPF_ANY);
	if (rewrite(skb, &p, 0, be->addr, be->port) < 0)
		return TC_ACT_SHOT;
	if (rewrite(skb, &p, 1, node_addr, port) < 0)
		return TC_ACT_SHOT;
	return forward(skb, &p);
}

SEC("tc")
int keel_tc_egress(struct __sk_buff *skb)
{
	struct nat_value *rv;
	struct pkt p = {};
	__u32 addr;
	__u16 port;

	if (!parse(skb, &p))
		return TC_ACT_OK;
	rv = bpf_map_lookup_elem(&keel_tc_nat, &p.flow);
	if (!rv || (rv->flags & NAT_F_SNAT))
		return TC_ACT_OK;
	addr = rv->frontend_addr;
	port = rv->frontend_port;
	if (rewrite(skb, &p, 1, addr, port) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char __license[] SEC("license") = "Dual BSD/GPL";
