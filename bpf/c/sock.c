// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Socket-level load balancing of services: the cgroup sock_addr hooks
// translate a service address (a frontend) to one of its backends when a
// socket connects or sends, and translate replies and getpeername back to the
// service address, so a client only ever sees the address it asked for.
//
// Addresses and ports are kept in network byte order in every map, as the
// hooks see them in struct bpf_sock_addr.

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "lb.h"

#define ECONNREFUSED 111

// Client identity for sessionAffinity: the network namespace, so one pod
// is one client (the node's own processes are one client too).
struct affinity_key {
	__u64 netns;
	__u32 svc;
	__u32 pad;
};

struct affinity_value {
	__u64 last; // ktime of the last connection, ns
	__u32 backend;
	__u32 pad;
};

// The reverse translation of an unconnected UDP socket's datagrams: they
// go to many destinations, so the socket and the backend are the key.
struct revnat_key {
	__u64 cookie; // socket
	__u32 addr;   // backend
	__u16 port;
	__u16 pad;
};

struct revnat_value {
	__u32 addr; // frontend
	__u16 port;
	__u16 pad;
};

// The translation of a connected socket (TCP, connected UDP), kept in the
// socket itself: it goes when the socket goes, and the churn of short
// connections evicts nothing of anybody else's.
struct sock_nat {
	__u32 backend_addr;
	__u32 frontend_addr;
	__u16 backend_port;
	__u16 frontend_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct affinity_key);
	__type(value, struct affinity_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct revnat_key);
	__type(value, struct revnat_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_revnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_sock_nat SEC(".maps");

// pick chooses the backend of a connection to a service port: the
// client's, with affinity, or a random slot of the table. It fills dst and
// returns 1, or returns 0 when the service port refuses.
static __always_inline int pick(struct bpf_sock_addr *ctx, struct svc_value *svc, struct slot *dst)
{
	struct affinity_key ak = {};
	struct affinity_value *av;
	struct affinity_value nav = {};
	struct backend *be;
	struct table *t;
	struct slot *s;
	__u32 id = svc->id;
	__u64 now = 0;
	__u32 slot;

	t = bpf_map_lookup_elem(&keel_tables, &id);
	if (!t || t->count == 0)
		return 0;
	if (svc->flags & SVC_F_AFFINITY) {
		ak.netns = bpf_get_netns_cookie(ctx);
		ak.svc = id;
		now = bpf_ktime_get_ns();
		av = bpf_map_lookup_elem(&keel_affinity, &ak);
		if (av && now - av->last < (__u64)svc->affinity_timeout * 1000000000ULL) {
			dst->backend = av->backend;
			be = bpf_map_lookup_elem(&keel_backends, &dst->backend);
			if (be && be->svc == id) {
				av->last = now;
				dst->addr = be->addr;
				dst->port = be->port;
				return 1;
			}
		}
	}
	slot = bpf_get_prandom_u32() % TABLE_SIZE;
	// Keep the bound check from being folded into the modulo: the
	// verifier needs it to see the index in range.
	barrier_var(slot);
	if (slot >= TABLE_SIZE)
		return 0;
	s = &t->slot[slot];
	dst->addr = s->addr;
	dst->port = s->port;
	dst->backend = s->backend;
	if (svc->flags & SVC_F_AFFINITY) {
		nav.last = now;
		nav.backend = dst->backend;
		bpf_map_update_elem(&keel_affinity, &ak, &nav, BPF_ANY);
	}
	return 1;
}

// translate rewrites a frontend destination to a backend, and remembers
// the frontend: in the socket when it connects, in keel_revnat for a
// datagram. It returns 1 to let the call go on (translated or not a
// service) and 0 with the error set to refuse it.
static __always_inline int translate(struct bpf_sock_addr *ctx, int connect)
{
	struct svc_key key = {};
	struct svc_value *svc;
	struct revnat_key rk = {};
	struct revnat_value rv = {};
	struct sock_nat *sn;
	struct slot be = {};
	struct bpf_sock *sk = ctx->sk;

	key.addr = ctx->user_ip4;
	key.port = (__u16)ctx->user_port;
	key.proto = (__u8)ctx->protocol;
	svc = bpf_map_lookup_elem(&keel_services, &key);
	if (!svc) {
		// A UDP socket connected again, elsewhere, forgets the
		// service it was connected to.
		if (connect && key.proto == IPPROTO_UDP && sk)
			bpf_sk_storage_delete(&keel_sock_nat, sk);
		return 1;
	}
	if (!pick(ctx, svc, &be)) {
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	sn = 0;
	if (connect && sk)
		sn = bpf_sk_storage_get(&keel_sock_nat, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (sn) {
		sn->backend_addr = be.addr;
		sn->backend_port = be.port;
		sn->frontend_addr = key.addr;
		sn->frontend_port = key.port;
	} else {
		rk.cookie = bpf_get_socket_cookie(ctx);
		rk.addr = be.addr;
		rk.port = be.port;
		rv.addr = key.addr;
		rv.port = key.port;
		bpf_map_update_elem(&keel_revnat, &rk, &rv, BPF_ANY);
	}
	ctx->user_ip4 = be.addr;
	ctx->user_port = (__u32)be.port;
	return 1;
}

// untranslate shows a backend's address as the frontend the socket asked
// for: the socket's own translation first, then keel_revnat's.
static __always_inline int untranslate(struct bpf_sock_addr *ctx)
{
	struct revnat_key rk = {};
	struct revnat_value *rv;
	struct sock_nat *sn;
	struct bpf_sock *sk = ctx->sk;
	__u32 addr = ctx->user_ip4;
	__u16 port = (__u16)ctx->user_port;

	if (sk) {
		sn = bpf_sk_storage_get(&keel_sock_nat, sk, 0, 0);
		if (sn && sn->backend_addr == addr && sn->backend_port == port) {
			ctx->user_ip4 = sn->frontend_addr;
			ctx->user_port = (__u32)sn->frontend_port;
			return 1;
		}
	}
	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.addr = addr;
	rk.port = port;
	rv = bpf_map_lookup_elem(&keel_revnat, &rk);
	if (!rv)
		return 1;
	ctx->user_ip4 = rv->addr;
	ctx->user_port = (__u32)rv->port;
	return 1;
}

SEC("cgroup/connect4")
int keel_connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 1;
	return translate(ctx, 1);
}

SEC("cgroup/sendmsg4")
int keel_sendmsg4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_UDP)
		return 1;
	return translate(ctx, 0);
}

SEC("cgroup/recvmsg4")
int keel_recvmsg4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_UDP)
		return 1;
	return untranslate(ctx);
}

SEC("cgroup/getpeername4")
int keel_getpeername4(struct bpf_sock_addr *ctx)
{
	return untranslate(ctx);
}

char __license[] SEC("license") = "Dual BSD/GPL";
