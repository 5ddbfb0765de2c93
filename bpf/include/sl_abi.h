/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one header both the BPF programs and userspace include: map keys and values, statistics
 * indices, the load-time config struct. Every struct has explicit padding; tests/unit/test_abi.c
 * pins sizes and offsets, so a layout change fails a test and must come with a new map name.
 */
#ifndef SL_ABI_H
#define SL_ABI_H

#ifdef __BPF__
/* vmlinux.h provides the __u types */
#else
#include <linux/types.h>
#endif

#define SL_MAX_ENDPOINTS 65536
#define SL_MAX_SERVICES	 65536
#define SL_MAX_BACKENDS	 262144
#define SL_MAX_BACKENDS_PER_SVC 1024

#define SL_AF_INET  2
#define SL_AF_INET6 10

/* sluice_ep: pod address -> local endpoint. Addresses in network byte order; IPv4 in addr[0]. */
struct sl_ep_key {
	__u32 addr[4];
	__u8 family; /* SL_AF_INET or SL_AF_INET6 */
	__u8 pad[3];
};

struct sl_ep_val {
	__u32 ifindex; /* host-side veth, in the node's network namespace */
	__u32 ep_id;   /* agent-assigned endpoint id, stable across restarts */
	__u32 flags;
	__u32 pad;
};

/* sluice_svc: frontend (virtual address, port, protocol) -> service. */
struct sl_svc_key {
	__u32 addr[4];
	__u16 port;   /* network byte order */
	__u8 proto;   /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family;
};

#define SL_SVC_F_AFFINITY (1u << 0) /* sessionAffinity: ClientIP */
#define SL_SVC_F_NODEPORT (1u << 1)

struct sl_svc_val {
	__u32 svc_id;		/* key prefix into sluice_backend */
	__u16 count;		/* backends in slots 0..count-1 */
	__u16 flags;		/* SL_SVC_F_* */
	__u32 affinity_timeout; /* seconds, with SL_SVC_F_AFFINITY */
	__u32 pad;
};

/* sluice_backend: (service, slot) -> backend address. */
struct sl_backend_key {
	__u32 svc_id;
	__u32 slot;
};

struct sl_backend_val {
	__u32 addr[4];
	__u16 port;   /* network byte order, the resolved targetPort */
	__u8 family;
	__u8 flags;
	__u32 ep_id;  /* local endpoint id, 0 when the backend is not on this node */
};

/* sluice_stats: per-CPU array indexed by enum sl_stat. */
enum sl_stat {
	SL_STAT_TC_IN_PASS,	 /* host-veth ingress: packets leaving a pod */
	SL_STAT_TC_OUT_PASS,	 /* host-veth egress: packets entering a pod */
	SL_STAT_XDP_IN_PASS,	 /* node uplink: packets arriving at the node */
	SL_STAT_SOCK_ACTIVE_EST, /* connections established by a mesh socket */
	SL_STAT_SOCK_PASSIVE_EST,/* connections accepted by a mesh socket */
	SL_STAT_PARSE_ERROR,	 /* truncated or malformed L2/L3 header, passed unchanged */
	SL_STAT_NON_IP,		 /* ARP and other non-IP frames, passed unchanged */
	SL_STAT_EP_MISS,	 /* tc program on a veth with no sluice_ep_stats entry */
	SL_STAT_MAX,
};

struct sl_stat_val {
	__u64 packets;
	__u64 bytes;
};

/* sluice_ep_stats: per-CPU hash, host-veth ifindex -> per-endpoint counters. */
struct sl_ep_stats {
	__u64 from_pod_packets;
	__u64 from_pod_bytes;
	__u64 to_pod_packets;
	__u64 to_pod_bytes;
};

/* Load-time configuration in .rodata, written by the agent before load. */
struct sl_config {
	__u32 log_level;
	__u32 flags;
};

#endif
