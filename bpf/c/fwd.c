// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Pod-to-pod traffic across nodes, forwarded without the node's stack.
//
// keel_fwd_pod runs at tcx ingress of each pod's host-side veth: an IPv4
// packet from the node's pod CIDR to another node's pods (the cluster CIDR
// less this node's pod CIDR) goes straight out to the next hop the routing
// table gives (bpf_fib_lookup, bpf_redirect_neigh): the other node on the
// uplink, or the VXLAN device. No bridge, no netfilter, no conntrack.
//
// keel_fwd_in runs at tcx ingress of the uplink (and of the VXLAN device):
// an IPv4 packet to a pod of this node (keel_fwd_pods, kept by the agent)
// goes straight into the pod (bpf_redirect_peer), its MACs those the pod
// would have seen from its gateway.
//
// Everything else goes on as it came (TC_ACT_UNSPEC on the uplink, so the
// programs after it run; TC_ACT_OK on the pod's veth): traffic leaving the
// cluster (masquerade), to node or service addresses, replies of
// connections a hostPort rule translated (keel_fwd_hostports), packets
// whose TTL runs out, and anything the routing table cannot answer for.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2
#define IP_OFF ETH_HLEN
#define IP_CSUM_OFF (IP_OFF + 10)
#define IP_TTL_OFF (IP_OFF + 8)
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

// The cluster CIDR and this node's pod CIDR, network byte order. Set when
// the programs are loaded.
volatile const __u32 cluster_net = 0;
volatile const __u32 cluster_mask = 0;
volatile const __u32 pod_net = 0;
volatile const __u32 pod_mask = 0;

// A pod of this node: the host side of its veth, its MAC and its
// gateway's (the bridge's).
struct fwd_pod {
	__u32 ifindex;
	__u8 mac[ETH_ALEN];
	__u8 gw_mac[ETH_ALEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct fwd_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_fwd_pods SEC(".maps");

// A pod's port published on the node: its replies need the stack's
// reverse translation.
struct fwd_port {
	__u32 addr;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fwd_port);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_fwd_hostports SEC(".maps");

// Counters, per CPU.
enum {
	FWD_OUT, // pod to another node, sent by the fast path
	FWD_IN, // into a pod of this node by the fast path
	FWD_OUT_PASSED, // from a pod to another node's pods, left to the stack
	FWD_NSTATS,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FWD_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_fwd_stats SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&keel_fwd_stats, &what);

	if (n)
		*n += 1;
}

// load_ip reads the IPv4 header; 0 when the packet is not IPv4 or the TTL
// would run out here.
static __always_inline int load_ip(struct __sk_buff *skb, struct iphdr *ip)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, IP_OFF, ip, sizeof(*ip)) < 0)
		return 0;
	if (ip->version != 4 || ip->ihl < 5 || ip->ttl <= 1)
		return 0;
	return 1;
}

// dec_ttl takes one hop off the TTL, with the header checksum.
static __always_inline int dec_ttl(struct __sk_buff *skb, struct iphdr *ip)
{
	__u16 old = *(__u16 *)&ip->ttl; // ttl and protocol, one checksum word
	__u8 ttl = ip->ttl - 1;
	__u16 new;

	if (bpf_skb_store_bytes(skb, IP_TTL_OFF, &ttl, 1, 0) < 0)
		return -1;
	new = old;
	((__u8 *)&new)[0] = ttl;
	return bpf_l3_csum_replace(skb, IP_CSUM_OFF, old, new, sizeof(new));
}

// hostport_reply says whether the packet comes from a pod's published
// port: a reply the stack must translate back.
static __always_inline int hostport_reply(struct __sk_buff *skb, struct iphdr *ip)
{
	struct fwd_port key = {};
	__u16 sport;

	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return 0;
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return 1; // no ports to tell: the stack decides
	if (bpf_skb_load_bytes(skb, IP_OFF + ip->ihl * 4, &sport, sizeof(sport)) < 0)
		return 1;
	key.addr = ip->saddr;
	key.port = sport;
	key.proto = ip->protocol;
	return bpf_map_lookup_elem(&keel_fwd_hostports, &key) != 0;
}

SEC("tc")
int keel_fwd_pod(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	struct iphdr ip;
	long rc;

	if (!load_ip(skb, &ip))
		return TC_ACT_OK;
	if ((ip.saddr & pod_mask) != pod_net || (ip.daddr & cluster_mask) != cluster_net ||
	    (ip.daddr & pod_mask) == pod_net)
		return TC_ACT_OK;
	if (hostport_reply(skb, &ip)) {
		count(FWD_OUT_PASSED);
		return TC_ACT_OK;
	}
	fib.family = AF_INET;
	fib.tos = ip.tos;
	fib.l4_protocol = ip.protocol;
	fib.tot_len = 0; // GSO packets are larger than the MTU; pods have the path's
	fib.ipv4_src = ip.saddr;
	fib.ipv4_dst = ip.daddr;
	fib.ifindex = skb->ingress_ifindex;
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if ((rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) ||
	    fib.ifindex == skb->ingress_ifindex) {
		count(FWD_OUT_PASSED);
		return TC_ACT_OK;
	}
	if (dec_ttl(skb, &ip) < 0)
		return TC_ACT_SHOT;
	nh.nh_family = AF_INET;
	nh.ipv4_nh = fib.ipv4_dst; // the gateway, or the destination itself
	count(FWD_OUT);
	return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
}

SEC("tc")
int keel_fwd_in(struct __sk_buff *skb)
{
	struct fwd_pod *pod;
	struct fwd_pod p;
	struct iphdr ip;

	if (!load_ip(skb, &ip))
		return TC_ACT_UNSPEC;
	if ((ip.daddr & pod_mask) != pod_net)
		return TC_ACT_UNSPEC;
	pod = bpf_map_lookup_elem(&keel_fwd_pods, &ip.daddr);
	if (!pod)
		return TC_ACT_UNSPEC;
	p = *pod;
	if (dec_ttl(skb, &ip) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, p.mac, ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, p.gw_mac, ETH_ALEN, 0) < 0)
		return TC_ACT_SHOT;
	count(FWD_IN);
	return bpf_redirect_peer(p.ifindex, 0);
}

char __license[] SEC("license") = "Dual BSD/GPL";
