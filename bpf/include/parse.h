/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet parsing with a cursor; every header read is preceded by its bounds check. */
#ifndef SL_BPF_PARSE_H
#define SL_BPF_PARSE_H

#include "sl_abi.h"

#define ETH_P_IP_BE   __bpf_constant_htons(0x0800)
#define ETH_P_IPV6_BE __bpf_constant_htons(0x86DD)
#define ETH_HLEN_     14

struct cursor {
	void *pos;
	void *end;
};

struct l3_info {
	__u8 family; /* SL_AF_INET, SL_AF_INET6, or 0 for non-IP */
	__u8 proto;  /* L4 protocol (IPv6: the first next-header) */
};

/* Returns 0 with l3 filled, or -1 when a header is truncated or malformed. */
static __always_inline int l3_parse(struct cursor *c, struct l3_info *l3)
{
	struct ethhdr *eth = c->pos;
	struct iphdr *ip4;
	struct ipv6hdr *ip6;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	l3->family = 0;
	l3->proto = 0;
	if (eth->h_proto == ETH_P_IP_BE) {
		ip4 = c->pos;
		if ((void *)(ip4 + 1) > c->end)
			return -1;
		if (ip4->version != 4 || ip4->ihl < 5)
			return -1;
		l3->family = SL_AF_INET;
		l3->proto = ip4->protocol;
		c->pos = (void *)ip4 + ip4->ihl * 4;
		if (c->pos > c->end)
			return -1;
	} else if (eth->h_proto == ETH_P_IPV6_BE) {
		ip6 = c->pos;
		if ((void *)(ip6 + 1) > c->end)
			return -1;
		if (ip6->version != 6)
			return -1;
		l3->family = SL_AF_INET6;
		l3->proto = ip6->nexthdr;
		c->pos = ip6 + 1;
	}
	return 0;
}

#endif
