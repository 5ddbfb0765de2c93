/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetworkPolicy at the pod's host-side veth, identity-based. The agent compiles policies into
 * sluice_policy per context (struct sl_pol_key) and keeps sluice_ipcache (address -> identity);
 * here a new flow costs at most six hash lookups and one LPM lookup whatever the number of
 * rules, and a packet of a flow already let through costs one sluice_pol_ct lookup.
 *
 * Order at a hook: source check (egress only), tracked flow, always-allowed traffic (the node,
 * ICMP errors, IPv6 neighbour discovery), then the isolated direction's rules. An endpoint
 * without SL_EP_F_TRACK that is isolated in neither direction skips all but the source check;
 * with it (the agent's default) its flows are tracked from the start, so that a policy
 * applied later takes effect on new connections only.
 */
#ifndef SL_BPF_POLICY_H
#define SL_BPF_POLICY_H

#include "common.h"
#include "droptel.h"
#include "events.h"
#include "lb.h"
#include "maps.h"
#include "parse.h"

#define SL_EP_F_ISOLATED (SL_EP_F_INGRESS_ISOLATED | SL_EP_F_EGRESS_ISOLATED)
#define SL_EP_F_JUDGED	 (SL_EP_F_ISOLATED | SL_EP_F_TRACK)
#define IPPROTO_FRAGMENT_ 44

/* The local endpoint that owns addr (a pod address), or NULL. */
static __always_inline struct sl_ep_val *ep_lookup(const __u32 *addr, __u8 family)
{
	struct sl_ep_key k = { .family = family };

	addr_copy(k.addr, addr);
	return bpf_map_lookup_elem(&sluice_ep, &k);
}

/* Identity of an address: the longest sluice_ipcache prefix holding it, else SL_ID_WORLD. */
static __always_inline __u32 ipc_identity(const __u32 *addr, __u8 family)
{
	struct sl_ipc_key k = { .family = family };
	struct sl_ipc_val *v;

	k.prefixlen = 32 + (family == SL_AF_INET ? 32 : 128);
	addr_copy(k.addr, addr);
	if (family == SL_AF_INET)
		k.addr[1] = k.addr[2] = k.addr[3] = 0;
	v = bpf_map_lookup_elem(&sluice_ipcache, &k);
	return v ? v->identity : SL_ID_WORLD;
}

/*
 * A pod may send only from its own addresses: sluice_ep maps the source to the veth it must
 * come from. IPv6 link-local and unspecified sources pass (neighbour and router discovery,
 * duplicate address detection, MLD): no identity is keyed on them, so the receiving end
 * judges such a packet as one from SL_ID_WORLD.
 */
static __always_inline bool src_is_own(const struct pkt *p, const struct sl_ep_val *ep,
				       __u32 ifindex)
{
	__u32 a0;

	if (ep && ep->ifindex == ifindex)
		return true;
	if (p->family != SL_AF_INET6)
		return false;
	a0 = bpf_ntohl(p->saddr[0]);
	return (a0 & 0xffc00000) == 0xfe800000 ||
	       (!p->saddr[0] && !p->saddr[1] && !p->saddr[2] && !p->saddr[3]);
}

/* ICMP errors (unreachable, time exceeded, parameter problem, ICMPv6 packet too big) and
 * IPv6 neighbour/router discovery: passed whatever the policy, as other CNIs do. */
static __always_inline bool icmp_always(const struct pkt *p)
{
	__u8 t = p->icmp_type;

	if (!p->icmp)
		return false;
	if (p->family == SL_AF_INET && p->proto == IPPROTO_ICMP_)
		return t == 3 || t == 11 || t == 12;
	if (p->family == SL_AF_INET6 && p->proto == IPPROTO_ICMPV6_)
		return (t >= 1 && t <= 4) || (t >= 133 && t <= 137);
	return false;
}

static __always_inline void pct_key(struct sl_pct_key *k, const struct pkt *p, __u8 hook)
{
	__builtin_memset(k, 0, sizeof(*k));
	addr_copy(k->saddr, p->saddr);
	addr_copy(k->daddr, p->daddr);
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->family = p->family;
	k->hook = hook;
}

/* Records a flow let through at hook: forward here, reply at the endpoint's other hook. */
static __always_inline void pct_track(const struct pkt *p, __u8 hook, __u32 policy, __u64 now)
{
	struct sl_pct_val v = { .last_seen = now, .policy = policy };
	struct sl_pct_key k;

	pct_key(&k, p, hook);
	if (bpf_map_update_elem(&sluice_pol_ct, &k, &v, BPF_ANY) < 0)
		goto full;
	addr_copy(k.saddr, p->daddr);
	addr_copy(k.daddr, p->saddr);
	k.sport = p->dport;
	k.dport = p->sport;
	k.hook = hook == SL_POL_EGRESS ? SL_POL_INGRESS : SL_POL_EGRESS;
	v.flags = SL_PCT_F_REPLY;
	if (bpf_map_update_elem(&sluice_pol_ct, &k, &v, BPF_ANY) < 0)
		goto full;
	return;
full:
	stat_add(SL_STAT_CT_FULL, 0);
}

/* True when the packet belongs to a flow already let through at this hook (or its reply). */
static __always_inline bool pct_tracked(const struct pkt *p, __u8 hook, __u64 now)
{
	struct sl_pct_key k;
	struct sl_pct_val *v;
	__u64 idle;

	pct_key(&k, p, hook);
	v = bpf_map_lookup_elem(&sluice_pol_ct, &k);
	if (!v)
		return false;
	if (p->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN)
		return false; /* a new connection on the tuple: judged again */
	idle = now - v->last_seen;
	if (p->proto == IPPROTO_UDP && idle > SL_POL_UDP_IDLE_S * NSEC_PER_SEC)
		return false;
	if (idle > CT_REFRESH_NS)
		v->last_seen = now;
	return true;
}

static __always_inline bool port_in_ranges(const struct sl_pol_val *v, __u16 port)
{
	int i;

	if (!v->n_ranges)
		return true;
	for (i = 0; i < SL_POL_RANGES; i++) /* bounded: the verifier follows it */
		if (i < v->n_ranges && port >= v->r[i].lo && port <= v->r[i].hi)
			return true;
	return false;
}

/* The entry allowing (identity, port) for ctx and dir, or NULL. Without ports (fragments,
 * unknown L4) only a rule for every protocol can match. */
static __always_inline struct sl_pol_val *pol_match(__u32 ctx, __u32 identity, __u8 dir,
						    const struct pkt *p)
{
	struct sl_pol_key k = { .ctx = ctx, .dir = dir };
	struct sl_pol_val *v;
	int i;

#pragma unroll
	for (i = 0; i < 2; i++) {
		k.identity = i ? SL_ID_ANY : identity;
		if (p->ports) {
			k.proto = p->proto;
			k.dport = p->dport;
			v = bpf_map_lookup_elem(&sluice_policy, &k);
			if (v)
				return v;
			k.dport = 0;
			v = bpf_map_lookup_elem(&sluice_policy, &k);
			if (v && port_in_ranges(v, bpf_ntohs(p->dport)))
				return v;
		}
		k.proto = 0;
		k.dport = 0;
		v = bpf_map_lookup_elem(&sluice_policy, &k);
		if (v)
			return v;
	}
	return NULL;
}

/*
 * Judges a packet of endpoint ep at hook dir (SL_POL_EGRESS: the pod sent it; SL_POL_INGRESS:
 * it is for the pod). Returns 0 to pass or a negative enum sl_pol_reason to drop; counts and
 * emits the event of a judged new flow.
 */
static __always_inline int pol_judge(const struct pkt *p, const struct sl_ep_val *ep, __u8 dir,
				     __u64 len)
{
	__u32 iso = dir == SL_POL_EGRESS ? SL_EP_F_EGRESS_ISOLATED : SL_EP_F_INGRESS_ISOLATED;
	const __u32 *peer = dir == SL_POL_EGRESS ? p->daddr : p->saddr;
	struct sl_pol_val *v;
	__u32 id, policy = 0;
	int reason;
	__u64 now;

	if (!(ep->flags & SL_EP_F_JUDGED))
		return 0;
	now = sl_now();
	if (pct_tracked(p, dir, now)) {
		stat_add(SL_STAT_POL_TRACKED, len);
		return 0;
	}
	if (icmp_always(p)) {
		stat_add(SL_STAT_POL_ICMP, len);
		return 0;
	}
	if (!(ep->flags & iso)) {
		/* tracked: replies pass an isolated other direction, and a policy isolating
		 * this one later leaves the flow alone */
		stat_add(SL_STAT_POL_OPEN, len);
		pct_track(p, dir, 0, now);
		return 0;
	}
	id = ipc_identity(peer, p->family);
	if (id == SL_ID_HOST) {
		stat_add(SL_STAT_POL_HOST, len);
		pct_track(p, dir, 0, now);
		return 0;
	}
	v = pol_match(ep->pol_ctx, id, dir, p);
	if (v) {
		policy = v->policy;
		reason = SL_POL_R_ALLOWED;
		pct_track(p, dir, policy, now);
	} else if (p->frag || (p->family == SL_AF_INET6 && p->proto == IPPROTO_FRAGMENT_)) {
		reason = SL_POL_R_FRAGMENT;
	} else if (p->family == SL_AF_INET6 && !p->ports && !p->icmp) {
		reason = SL_POL_R_L4_UNKNOWN; /* an extension header hides the L4 header */
	} else {
		reason = SL_POL_R_NO_RULE;
	}
	stat_add(SL_STAT_POL_ALLOWED + reason, len);
	pol_event(p, ep->ep_id, id, policy, dir, reason);
	if (reason != SL_POL_R_ALLOWED)
		l4_drop(p, dir, (__u8)reason, len);
	return reason == SL_POL_R_ALLOWED ? 0 : -reason;
}

#endif
