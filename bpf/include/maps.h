/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map Sluice's programs share. All are pinned by name under <bpffs root>/maps, so each
 * object that includes this header reuses the same map and the state outlives the agent.
 * The statistics maps are pinned too: links keep running the programs (and their maps) across an
 * agent restart, so counters must not reset when the agent swaps programs in place.
 */
#ifndef SL_BPF_MAPS_H
#define SL_BPF_MAPS_H

#include "sl_abi.h"

/* Pod address -> local endpoint (written by the agent when the CNI registers a pod). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_ENDPOINTS);
	__type(key, struct sl_ep_key);
	__type(value, struct sl_ep_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ep SEC(".maps");

/* Service frontends: (VIP, port, proto) -> service id and backend count. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_svc_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_svc SEC(".maps");

/* Service backends: (service id, slot) -> backend address and port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, struct sl_backend_key);
	__type(value, struct sl_backend_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_backend SEC(".maps");

/* Datapath counters by enum sl_stat; the agent sums CPUs for /metrics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_STAT_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_stat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_stats SEC(".maps");

/* Per-endpoint counters keyed by host-veth ifindex; entries are created by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SL_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct sl_ep_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ep_stats SEC(".maps");

/* Connection tracking for the tc fallback NAT and XDP NodePort (forward and reply entries). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_CT);
	__type(key, struct sl_ct_key);
	__type(value, struct sl_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ct SEC(".maps");

/* Socket LB: (socket cookie, backend) -> frontend, for getpeername and UDP recvmsg. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_SK_REV);
	__type(key, struct sl_sk_rev_key);
	__type(value, struct sl_sk_rev_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_sk_rev SEC(".maps");

/* Socket LB: recent TCP connect()s, direct-mapped by socket cookie (see struct sl_sk_slot). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_SK_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_sk_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_sk_slot SEC(".maps");

/* sessionAffinity ClientIP: (client, service) -> backend slot, with last use. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_AFFINITY);
	__type(key, struct sl_aff_key);
	__type(value, struct sl_aff_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_affinity SEC(".maps");

/*
 * Maglev lookup tables: service id -> array of backend slots. Inner maps are created by the
 * agent with the service's prime size (BPF_F_INNER_MAP lets sizes differ per service).
 */
struct sl_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAGLEV_DEFAULT);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, SL_MAX_MAGLEV_SVCS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sl_maglev_inner);
} sluice_maglev SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 bytes)
{
	struct sl_stat_val *v = bpf_map_lookup_elem(&sluice_stats, &idx);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

/* Address or CIDR -> identity (pod, node, ipBlock prefix), longest prefix first. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_MAX_IPCACHE);
	__type(key, struct sl_ipc_key);
	__type(value, struct sl_ipc_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_ipcache SEC(".maps");

/* (policy context, peer identity, port, protocol, direction) -> allowed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_POLICY);
	__type(key, struct sl_pol_key);
	__type(value, struct sl_pol_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_policy SEC(".maps");

/* Flows the policy hooks let through, forward and reply (see struct sl_pct_key). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_POL_CT);
	__type(key, struct sl_pct_key);
	__type(value, struct sl_pct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_pol_ct SEC(".maps");

/* HTTP policy: (pod address, port) -> rule set, and the rules (see struct sl_l7_rule). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_L7_PORTS);
	__type(key, struct sl_l7_port_key);
	__type(value, struct sl_l7_port_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_l7_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_L7_RULES);
	__type(key, struct sl_l7_rule_key);
	__type(value, struct sl_l7_rule);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_l7_rule SEC(".maps");

/* Server sockets whose requests the HTTP policy judges, by socket cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SL_MAX_L7_SOCKS);
	__type(key, __u64);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_l7_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_L7_SOCKS);
	__type(key, __u64);
	__type(value, struct sl_l7_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_l7_conn SEC(".maps");

/* Connections to reset (see struct sl_l7_kill). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct sl_l7_kill);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_l7_kill SEC(".maps");

/* L4 telemetry per flow (see struct sl_l4_key); entries are deleted by the agent when the
 * pod goes. Not preallocated: a per-CPU value is large, and a new key is a new flow's first
 * connection only. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SL_MAX_L4_FLOWS);
	__type(key, struct sl_l4_key);
	__type(value, struct sl_l4_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_l4_flow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SL_MAX_L4_DROPS);
	__type(key, struct sl_l4_dkey);
	__type(value, struct sl_l4_dval);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_l4_drop SEC(".maps");

/* HTTP telemetry: per-connection parser state and per-CPU request aggregates (sl_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_HTTP_FLOWS);
	__type(key, struct sl_http_fkey);
	__type(value, struct sl_http_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_http_flow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SL_MAX_HTTP_STATS);
	__type(key, struct sl_http_skey);
	__type(value, struct sl_http_sval);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_http_stats SEC(".maps");

#endif
