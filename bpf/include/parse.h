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


#define IP_MF_BE	 __bpf_constant_htons(0x2000)
#define IP_OFFSET_BE	 __bpf_constant_htons(0x1fff)
#define TCP_FLAG_SYN	 0x02
#define TCP_FLAG_ACK	 0x10
#define IPPROTO_ICMP_	 1
#define IPPROTO_ICMPV6_	 58
#define IPPROTO_SCTP_	 132

/* What the NAT paths need of a packet: addresses, ports, and where the headers are. */
struct pkt {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport; /* network byte order; 0 unless l4 is set */
	__u16 dport;
	__u8 family; /* SL_AF_INET, SL_AF_INET6, or 0 for non-IP */
	__u8 proto;
	__u8 l4;     /* TCP or UDP header present and complete */
	__u8 frag;   /* IPv4 fragment (first or later): no translatable L4 header */
	__u8 tcp_flags;
	__u8 icmp; /* ICMP or ICMPv6 header present: icmp_type is valid */
	__u8 icmp_type;
	__u8 ports; /* sport/dport valid: TCP, UDP, or SCTP (policy only: never translated) */
	__u32 l3_off; /* offsets from the start of the frame */
	__u32 l4_off;
};

/*
 * Parses Ethernet, IPv4 (options skipped by ihl) or IPv6 (fixed header only: a packet whose
 * first next-header is not TCP/UDP is left with l4 = 0), then the TCP/UDP ports.
 * Returns 0, or -1 when a header is truncated or malformed.
 */
static __always_inline int pkt_parse(void *data, void *end, struct pkt *p)
{
	struct ethhdr *eth = data;
	struct iphdr *ip4;
	struct ipv6hdr *ip6;
	struct tcphdr *th;
	struct udphdr *uh;
	void *l4;

	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(eth + 1) > end)
		return -1;
	p->l3_off = ETH_HLEN_;
	if (eth->h_proto == ETH_P_IP_BE) {
		ip4 = (void *)(eth + 1);
		if ((void *)(ip4 + 1) > end)
			return -1;
		if (ip4->version != 4 || ip4->ihl < 5)
			return -1;
		l4 = (void *)ip4 + ip4->ihl * 4;
		if (l4 > end)
			return -1;
		p->family = SL_AF_INET;
		p->proto = ip4->protocol;
		p->saddr[0] = ip4->saddr;
		p->daddr[0] = ip4->daddr;
		p->frag = (ip4->frag_off & (IP_MF_BE | IP_OFFSET_BE)) != 0;
		p->l4_off = ETH_HLEN_ + ip4->ihl * 4;
		if (p->frag)
			return 0;
	} else if (eth->h_proto == ETH_P_IPV6_BE) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return -1;
		if (ip6->version != 6)
			return -1;
		p->family = SL_AF_INET6;
		p->proto = ip6->nexthdr;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		l4 = ip6 + 1;
		p->l4_off = ETH_HLEN_ + sizeof(*ip6);
	} else {
		return 0;
	}
	if (p->proto == IPPROTO_TCP) {
		th = l4;
		if ((void *)(th + 1) > end)
			return -1;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->l4 = 1;
		p->ports = 1;
	} else if (p->proto == IPPROTO_UDP) {
		uh = l4;
		if ((void *)(uh + 1) > end)
			return -1;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4 = 1;
		p->ports = 1;
	} else if (p->proto == IPPROTO_SCTP_) {
		uh = l4; /* the SCTP common header starts with the ports, as UDP's does */
		if ((void *)((__u8 *)l4 + 12) > end)
			return -1;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->ports = 1;
	} else if (p->proto == IPPROTO_ICMP_ || p->proto == IPPROTO_ICMPV6_) {
		if ((void *)((__u8 *)l4 + 1) > end)
			return -1;
		p->icmp_type = *(__u8 *)l4;
		p->icmp = 1;
	}
	return 0;
}

/* Offset of the L4 checksum field from the start of the L4 header. */
static __always_inline __u32 l4_csum_off(__u8 proto)
{
	return proto == IPPROTO_TCP ? 16 : 6;
}

#endif
