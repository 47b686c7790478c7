// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The maps the agent writes, shared by the socket programs (sock.c) and the
// tc programs (tc.c): both load them pinned by name from one directory.
// Addresses and ports are in network byte order.

#ifndef KEEL_LB_H
#define KEEL_LB_H

// Slots in a service's lookup table. A prime, as Maglev needs; the Go side
// (bpf.TableSize) must agree.
#define TABLE_SIZE 1021

#define SVC_F_AFFINITY 1

// A frontend: an address and port a service is reached at.
struct svc_key {
	__u32 addr;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct svc_value {
	__u32 id;               // the lookup table and backends of this service port
	__u32 affinity_timeout; // seconds, with SVC_F_AFFINITY
	__u32 flags;
	__u32 pad;
};

// A slot of a lookup table: a backend's id with its address and port, so
// a connect reads the destination from the slot it picked and looks up
// nothing more. A backend's address never changes under its id.
struct slot {
	__u32 addr;
	__u16 port;
	__u16 pad;
	__u32 backend; // the id in keel_backends
};

// A service port's backends as a lookup table: each slot holds a backend,
// as often as its weight asks. One write replaces it whole.
struct table {
	__u32 count; // distinct backends in the slots; 0 refuses connections
	__u32 pad;
	struct slot slot[TABLE_SIZE];
};

// The backend runs on this node: traffic from outside reaches it through
// the node's stack, with no source translation.
#define BE_F_LOCAL 1

struct backend {
	__u32 addr;
	__u16 port;
	__u16 flags;
	__u32 svc; // the service id the backend belongs to
};

// externalTrafficPolicy Local: the table holds only this node's backends,
// the client's address is kept, and no backend means the packet is dropped.
#define EXT_F_LOCAL 1

// A frontend reached from outside the node (node address and NodePort,
// load balancer address, external IP), as the tc programs see it.
struct ext_value {
	__u32 id; // the service port's table
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct svc_key);
	__type(value, struct svc_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct table);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u32);
	__type(value, struct backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct svc_key);
	__type(value, struct ext_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_external SEC(".maps");

#endif
