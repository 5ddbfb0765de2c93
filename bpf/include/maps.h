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
	__uint(max_entries, SL_STAT_MAX);
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

static __always_inline void stat_add(__u32 idx, __u64 bytes)
{
	struct sl_stat_val *v = bpf_map_lookup_elem(&sluice_stats, &idx);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

#endif
