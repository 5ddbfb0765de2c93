// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc programs on a pod's host-side veth (tcx links, one per direction).
 *   sluice_tc_in:  host-veth ingress, i.e. packets the pod sends. Per-packet Service fallback
 *                  for traffic the socket LB did not translate (a process outside the mesh
 *                  cgroup, raw sockets): conntrack hit -> DNAT to the same backend; frontend
 *                  hit -> pick a backend, track the flow, DNAT. The stack then routes it.
 *   sluice_tc_out: host-veth egress, i.e. packets delivered to the pod: replies of tracked
 *                  flows get their source translated back to the frontend.
 * Both feed HTTP telemetry (bpf/include/http_tel.h) with what policy let through, on the
 * tuple between the pod and the backend (after the DNAT, before the reverse NAT).
 * Both run the pod's NetworkPolicy (bpf/include/policy.h): egress in sluice_tc_in after the
 * DNAT (so policy sees the backend), ingress in sluice_tc_out before the reverse NAT; a packet
 * from a pod whose source is not its own is dropped (SL_STAT_POL_SPOOFED) once the veth is
 * registered. A denied packet is dropped and counted by reason (SL_STAT_POL_*).
 * Frontend without backend: dropped (SL_STAT_NO_BACKEND), so the VIP never leaks.
 * IP fragments and IPv6 extension headers towards a frontend are passed unchanged
 * (SL_STAT_FRAGMENT, SL_STAT_L4_UNSUPPORTED); a failed rewrite drops (SL_STAT_PARSE_ERROR).
 * Lookup miss (veth without sluice_ep_stats entry): counted in SL_STAT_EP_MISS, passed.
 * Malformed headers: passed unchanged (the stack drops them), counted in SL_STAT_PARSE_ERROR.
 */
#include "common.h"
#include "droptel.h"
#include "http_tel.h"
#include "lb.h"
#include "maps.h"
#include "nat.h"
#include "parse.h"
#include "policy.h"

/* Counts the packet for the veth's endpoint; false when the veth is not registered. */
static __always_inline bool ep_count(struct __sk_buff *skb, bool from_pod)
{
	__u32 ifindex = skb->ifindex;
	struct sl_ep_stats *es = bpf_map_lookup_elem(&sluice_ep_stats, &ifindex);

	if (!es) {
		stat_add(SL_STAT_EP_MISS, skb->len);
		return false;
	}
	if (from_pod) {
		es->from_pod_packets++;
		es->from_pod_bytes += skb->len;
	} else {
		es->to_pod_packets++;
		es->to_pod_bytes += skb->len;
	}
	return true;
}

/* After a DNAT, the packet as the policy sees it: the backend as destination. */
static __always_inline void pkt_set_dst(struct pkt *p, const __u32 *addr, __u16 port)
{
	addr_copy(p->daddr, addr);
	p->dport = port;
}

/*
 * Frontend -> backend for a packet leaving a pod. Returns a TC_ACT_* verdict; on a DNAT, p gets
 * the new destination.
 */
static __always_inline int lb_fwd(struct __sk_buff *skb, struct pkt *p)
{
	struct sl_aff_key ak = { .svc_id = 0 };
	struct sl_backend_val *b, cb;
	struct sl_svc_val *sv;
	struct sl_ct_val *ct;
	__u64 now = sl_now();

	ct = ct_lookup_fwd(p, now, CT_TCP_REUSE_NS);
	if (ct) {
		stat_add(SL_STAT_CT_HIT, skb->len);
		cb.port = ct->port;
		addr_copy(cb.addr, ct->addr);
		if (nat_tc(skb, p, true, cb.addr, cb.port) < 0)
			goto err;
		stat_add(SL_STAT_TC_DNAT, skb->len);
		pkt_set_dst(p, cb.addr, cb.port);
		return TC_ACT_OK;
	}
	sv = svc_lookup(p->daddr, p->dport, p->proto, p->family);
	if (!sv)
		return TC_ACT_OK;
	ak.svc_id = sv->svc_id;
	ak.family = p->family;
	addr_copy(ak.addr, p->saddr);
	b = backend_pick(sv, &ak, bpf_get_prandom_u32(), now);
	if (!b) {
		stat_add(SL_STAT_NO_BACKEND, skb->len);
		l4_drop(p, SL_POL_EGRESS, SL_DROP_NO_BACKEND, skb->len);
		return TC_ACT_SHOT;
	}
	cb = *b;
	(void)ct_create(p, &cb, sv->svc_id, 0, now); /* untracked still works one way: counted */
	if (nat_tc(skb, p, true, cb.addr, cb.port) < 0)
		goto err;
	stat_add(SL_STAT_TC_DNAT, skb->len);
	pkt_set_dst(p, cb.addr, cb.port);
	return TC_ACT_OK;
err:
	stat_add(SL_STAT_PARSE_ERROR, skb->len);
	return TC_ACT_SHOT;
}

/* Backend -> frontend for a reply of a tracked flow. Returns a TC_ACT_* verdict. */
static __always_inline int lb_rev(struct __sk_buff *skb, const struct pkt *p, __u32 stat)
{
	struct sl_ct_key k;
	struct sl_ct_val *ct;
	__u32 addr[4];
	__u16 port;

	ct_key_rev_of(&k, p);
	ct = bpf_map_lookup_elem(&sluice_ct, &k);
	if (!ct)
		return TC_ACT_OK;
	addr_copy(addr, ct->addr);
	port = ct->port;
	if (nat_tc(skb, p, false, addr, port) < 0) {
		stat_add(SL_STAT_PARSE_ERROR, skb->len);
		return TC_ACT_SHOT;
	}
	stat_add(stat, skb->len);
	return TC_ACT_OK;
}

static __always_inline int tc_handle(struct __sk_buff *skb, bool from_pod)
{
	struct sl_ep_val *ep;
	bool registered;
	struct pkt p;
	int r;

	if (pkt_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &p) < 0) {
		/* headers may sit beyond the linear part: pull them in once and retry */
		if (bpf_skb_pull_data(skb, 0) < 0 ||
		    pkt_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &p) < 0) {
			stat_add(SL_STAT_PARSE_ERROR, skb->len);
			return TC_ACT_OK;
		}
	}
	if (!p.family) {
		stat_add(SL_STAT_NON_IP, skb->len);
		return TC_ACT_OK;
	}
	stat_add(from_pod ? SL_STAT_TC_IN_PASS : SL_STAT_TC_OUT_PASS, skb->len);
	registered = ep_count(skb, from_pod);
	ep = ep_lookup(from_pod ? p.saddr : p.daddr, p.family);
	if (from_pod && registered && !src_is_own(&p, ep, skb->ifindex)) {
		stat_add(SL_STAT_POL_SPOOFED, skb->len);
		pol_event(&p, 0, 0, 0, SL_POL_EGRESS, SL_POL_R_SPOOFED);
		return TC_ACT_SHOT;
	}
	if (p.frag)
		stat_add(SL_STAT_FRAGMENT, skb->len);
	else if (!p.l4 && p.family == SL_AF_INET6 && p.proto != IPPROTO_ICMPV6_)
		stat_add(SL_STAT_L4_UNSUPPORTED, skb->len);
	if (from_pod) {
		if (p.l4 && !p.frag) {
			r = lb_fwd(skb, &p);
			if (r != TC_ACT_OK)
				return r;
		}
		if (ep && pol_judge(&p, ep, SL_POL_EGRESS, skb->len) < 0)
			return TC_ACT_SHOT;
		if (registered)
			ht_packet(skb, &p, true);
		return TC_ACT_OK;
	}
	/* judged on the tuple the pod's peer sent, before the reply gets its frontend back */
	if (ep && pol_judge(&p, ep, SL_POL_INGRESS, skb->len) < 0)
		return TC_ACT_SHOT;
	if (!p.l4 || p.frag)
		return TC_ACT_OK;
	/* before the reverse NAT: the tuple is the one sluice_tc_in saw after its DNAT */
	if (registered)
		ht_packet(skb, &p, false);
	return lb_rev(skb, &p, SL_STAT_TC_REVNAT);
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

/* Node uplink egress (tcx): NodePort/external replies leave with the frontend as source. */
SEC("tc")
int sluice_tc_up(struct __sk_buff *skb)
{
	struct pkt p;

	if (pkt_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &p) < 0 &&
	    (bpf_skb_pull_data(skb, 0) < 0 ||
	     pkt_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &p) < 0))
		return TC_ACT_OK;
	if (!p.family || !p.l4 || p.frag)
		return TC_ACT_OK;
	return lb_rev(skb, &p, SL_STAT_UP_REVNAT);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
