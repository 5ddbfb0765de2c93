// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_xdp_in: XDP on the node's uplink. This first cut parses and counts; NodePort
 * balancing (Maglev) comes here later. Malformed frames pass unchanged (SL_STAT_PARSE_ERROR).
 */
#include "common.h"
#include "maps.h"
#include "parse.h"

SEC("xdp")
int sluice_xdp_in(struct xdp_md *ctx)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u64 len = (__u64)(c.end - c.pos);
	struct l3_info l3;

	if (l3_parse(&c, &l3) < 0) {
		stat_add(SL_STAT_PARSE_ERROR, len);
		return XDP_PASS;
	}
	stat_add(l3.family ? SL_STAT_XDP_IN_PASS : SL_STAT_NON_IP, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
