// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-run floors for the benches, not part of the datapath: what the cheapest possible
 * conntrack hit costs on this kernel. floor_ct_lookup does nothing but one lookup of a
 * constant sluice_ct-shaped key (struct sl_ct_key, 40 bytes) in an LRU hash like sluice_ct,
 * which the bench seeds so that it hits; every real conntrack hit does at least this.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "sl_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sl_ct_key);
	__type(value, struct sl_ct_val);
} floor_ct SEC(".maps");

SEC("xdp")
int floor_ct_lookup(struct xdp_md *ctx)
{
	struct sl_ct_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.proto = 6;
	k.family = SL_AF_INET;
	return bpf_map_lookup_elem(&floor_ct, &k) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
