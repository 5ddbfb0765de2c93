// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A small tc program for tests, not part of the datapath: netem is not in every kernel, so a
 * test that needs packets lost attaches this at ingress of a device in a namespace of its own
 * (ingress: a drop at egress is a local one, which TCP sends again as new data rather than as
 * a retransmission).
 * It drops the first drop_n IPv4 TCP segments that carry payload to drop_port (host byte
 * order) and counts them in dropped. Everything else passes.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_P_IP_ 0x0800

volatile __u16 drop_port;
volatile __u32 drop_n;
__u32 dropped;

SEC("tc")
int drop_data(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct tcphdr *th;
	__u32 ihl, doff, tot;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP_))
		return 0; /* TC_ACT_OK */
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != 6 /* TCP */)
		return 0;
	ihl = ip->ihl * 4u;
	th = (void *)ip + ihl;
	if (ihl < sizeof(*ip) || (void *)(th + 1) > end || th->dest != bpf_htons(drop_port))
		return 0;
	doff = th->doff * 4u;
	tot = bpf_ntohs(ip->tot_len);
	if (tot <= ihl + doff || dropped >= drop_n)
		return 0;
	__sync_fetch_and_add(&dropped, 1);
	return 2; /* TC_ACT_SHOT */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
