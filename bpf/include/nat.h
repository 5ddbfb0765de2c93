/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Address and port rewrite with checksum fix-up, for tc (skb helpers, which also handle
 * CHECKSUM_PARTIAL packets from local sockets) and for XDP (direct writes, full checksums as a
 * NIC delivers them). dst selects the destination (DNAT) or the source (reverse NAT).
 */
#ifndef SL_BPF_NAT_H
#define SL_BPF_NAT_H

#include "parse.h"

#define BPF_F_PSEUDO_HDR_    (1ULL << 4)
#define BPF_F_MARK_MANGLED_0_ (1ULL << 5)
#define BPF_F_RECOMPUTE_CSUM_ (1ULL << 0)

#define IP4_CSUM_OFF 10
#define IP4_SADDR_OFF 12
#define IP4_DADDR_OFF 16
#define IP6_SADDR_OFF 8
#define IP6_DADDR_OFF 24

/* Returns 0 or -1 when a helper failed (the packet may be half-rewritten: the caller drops). */
static __always_inline int nat_tc(struct __sk_buff *skb, const struct pkt *p, bool dst,
				  const __u32 *addr, __u16 port)
{
	__u32 csum_off = p->l4_off + l4_csum_off(p->proto);
	__u32 port_off = p->l4_off + (dst ? 2 : 0);
	__u64 l4_flags = BPF_F_PSEUDO_HDR_ |
			 (p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0_ : 0);
	__u16 old_port = dst ? p->dport : p->sport;
	__u32 off, old4, new4;
	__s64 diff;

	if (p->family == SL_AF_INET) {
		off = p->l3_off + (dst ? IP4_DADDR_OFF : IP4_SADDR_OFF);
		old4 = dst ? p->daddr[0] : p->saddr[0];
		new4 = addr[0];
		if (bpf_l4_csum_replace(skb, csum_off, old4, new4, l4_flags | 4) < 0 ||
		    bpf_l3_csum_replace(skb, p->l3_off + IP4_CSUM_OFF, old4, new4, 4) < 0 ||
		    bpf_skb_store_bytes(skb, off, &new4, 4, 0) < 0)
			return -1;
	} else {
		off = p->l3_off + (dst ? IP6_DADDR_OFF : IP6_SADDR_OFF);
		diff = bpf_csum_diff((__u32 *)(dst ? p->daddr : p->saddr), 16, (__u32 *)addr, 16, 0);
		/*
		 * With BPF_F_PSEUDO_HDR on a CHECKSUM_COMPLETE skb, the kernel takes the address
		 * change out of skb->csum, as IPv4's header checksum would absorb it; IPv6 has none,
		 * so storing the address with BPF_F_RECOMPUTE_CSUM puts it back (kernels from 6.16
		 * offer BPF_F_IPV6 instead; this works on all of them).
		 */
		if (diff < 0 ||
		    bpf_l4_csum_replace(skb, csum_off, 0, (__u32)diff, l4_flags) < 0 ||
		    bpf_skb_store_bytes(skb, off, addr, 16, BPF_F_RECOMPUTE_CSUM_) < 0)
			return -1;
	}
	if (old_port != port &&
	    (bpf_l4_csum_replace(skb, csum_off, old_port, port,
				 (p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0_ : 0) | 2) < 0 ||
	     bpf_skb_store_bytes(skb, port_off, &port, 2, 0) < 0))
		return -1;
	return 0;
}

static __always_inline __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/* a + b in one's complement (end-around carry), over 32-bit words. */
static __always_inline __u32 csum_add32(__u32 a, __u32 b)
{
	a += b;
	return a + (a < b);
}

/*
 * New checksum after replacing n bytes (4 or 16) from old with new: RFC 1624 eqn. 3,
 * HC' = ~(~HC + ~m + m'), summed in 32-bit words and folded. Inline arithmetic, since a helper
 * call (bpf_csum_diff) costs more than the sum itself.
 */
static __always_inline __u16 csum_update(__u16 check, const __u32 *old, const __u32 *new,
					 __u32 n)
{
	__u32 s = ~(__u32)check & 0xffff;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		if (i >= (int)(n / 4))
			break;
		s = csum_add32(s, ~old[i]);
		s = csum_add32(s, new[i]);
	}
	return csum_fold(s);
}

static __always_inline int nat_xdp(struct xdp_md *ctx, const struct pkt *p, bool dst,
				   const __u32 *addr, __u16 port)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 old[4], new[4], po = 0, pn = 0, l3 = p->l3_off & 0x3f, l4 = p->l4_off & 0x7f;
	struct iphdr *ip4 = data + l3;
	struct ipv6hdr *ip6 = data + l3;
	__u16 *check, *pp;
	bool no_l4_csum;

	addr_copy(old, dst ? p->daddr : p->saddr);
	addr_copy(new, addr);
	if (p->proto == IPPROTO_TCP)
		check = data + l4 + 16;
	else
		check = data + l4 + 6;
	pp = data + l4 + (dst ? 2 : 0);
	if ((void *)(check + 1) > end || (void *)(pp + 1) > end)
		return -1;
	no_l4_csum = p->proto == IPPROTO_UDP && *check == 0 && p->family == SL_AF_INET;
	if (p->family == SL_AF_INET) {
		if ((void *)(ip4 + 1) > end)
			return -1;
		ip4->check = csum_update(ip4->check, old, new, 4);
		if (!no_l4_csum)
			*check = csum_update(*check, old, new, 4);
		if (dst)
			ip4->daddr = new[0];
		else
			ip4->saddr = new[0];
	} else {
		if ((void *)(ip6 + 1) > end)
			return -1;
		*check = csum_update(*check, old, new, 16);
		if (dst)
			__builtin_memcpy(&ip6->daddr, new, 16);
		else
			__builtin_memcpy(&ip6->saddr, new, 16);
	}
	po = *pp;
	pn = port;
	if (po != pn) {
		if (!no_l4_csum)
			*check = csum_update(*check, &po, &pn, 4);
		*pp = port;
	}
	if (p->proto == IPPROTO_UDP && !no_l4_csum && *check == 0)
		*check = 0xffff;
	return 0;
}

#endif
