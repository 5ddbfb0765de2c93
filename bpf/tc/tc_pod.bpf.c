// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc programs on a pod's host-side veth (tcx links, one per direction).
 *   sluice_tc_in:  host-veth ingress, i.e. packets the pod sends.
 *   sluice_tc_out: host-veth egress, i.e. packets delivered to the pod.
 * This first cut parses L2/L3 and counts; service NAT and policy hook in here later.
 * Lookup miss (veth without sluice_ep_stats entry): passed unchanged, counted in SL_STAT_EP_MISS.
 * Malformed headers: passed unchanged (the stack drops them), counted in SL_STAT_PARSE_ERROR.
 */
#include "common.h"
#include "maps.h"
#include "parse.h"

static __always_inline int tc_handle(struct __sk_buff *skb, bool from_pod)
{
	struct cursor c = {
		.pos = (void *)(long)skb->data,
		.end = (void *)(long)skb->data_end,
	};
	struct l3_info l3;
	struct sl_ep_stats *es;
	__u32 ifindex = skb->ifindex;

	if (l3_parse(&c, &l3) < 0) {
		stat_add(SL_STAT_PARSE_ERROR, skb->len);
		return TC_ACT_OK;
	}
	if (!l3.family) {
		stat_add(SL_STAT_NON_IP, skb->len);
		return TC_ACT_OK;
	}
	stat_add(from_pod ? SL_STAT_TC_IN_PASS : SL_STAT_TC_OUT_PASS, skb->len);

	es = bpf_map_lookup_elem(&sluice_ep_stats, &ifindex);
	if (!es) {
		stat_add(SL_STAT_EP_MISS, skb->len);
		return TC_ACT_OK;
	}
	if (from_pod) {
		es->from_pod_packets++;
		es->from_pod_bytes += skb->len;
	} else {
		es->to_pod_packets++;
		es->to_pod_bytes += skb->len;
	}
	return TC_ACT_OK;
}

SEC("tc")
int sluice_tc_in(struct __sk_buff *skb)
{
	return tc_handle(skb, true);
}

SEC("tc")
int sluice_tc_out(struct __sk_buff *skb)
{
	return tc_handle(skb, false);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
