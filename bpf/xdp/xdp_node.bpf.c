// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_xdp_in: XDP on the node's uplink. NodePort, externalIP and LoadBalancer-ingress
 * frontends are balanced here with Maglev consistent hashing (sessionAffinity first where the
 * service asks for it); the flow is tracked in sluice_ct so it keeps its backend when the
 * backend set changes, and the destination is rewritten before the stack routes the packet to
 * the pod. Replies get the frontend back as source in sluice_tc_up on the uplink's egress.
 * Frontend without backend: dropped (SL_STAT_NO_BACKEND). Service without a Maglev table yet:
 * random backend, counted in SL_STAT_MAGLEV_MISS. ClusterIP frontends are not exposed here.
 * Fragments, IPv6 extension headers, non-TCP/UDP and malformed frames pass unchanged.
 */
#include "common.h"
#include "lb.h"
#include "maps.h"
#include "nat.h"
#include "parse.h"

#define SVC_F_NODE_FACING (SL_SVC_F_NODEPORT | SL_SVC_F_EXTERNAL)

static __always_inline int lb_xdp(struct xdp_md *ctx, const struct pkt *p, __u64 len)
{
	struct sl_aff_key ak = { .svc_id = 0 };
	struct sl_backend_val *b, cb;
	struct sl_svc_val *sv;
	struct sl_ct_val *ct;
	__u64 now = sl_now();
	int slot;

	ct = ct_lookup_fwd(p, now, 0);
	if (ct) {
		stat_add(SL_STAT_CT_HIT, len);
		cb.port = ct->port;
		addr_copy(cb.addr, ct->addr);
		goto rewrite;
	}
	sv = svc_lookup(p->daddr, p->dport, p->proto, p->family);
	if (!sv || !(sv->flags & SVC_F_NODE_FACING))
		return XDP_PASS;
	if (!sv->count) { /* no backend, so no table either: not a Maglev miss */
		stat_add(SL_STAT_NO_BACKEND, len);
		return XDP_DROP;
	}
	slot = maglev_slot(sv, p);
	if (slot < 0) {
		stat_add(SL_STAT_MAGLEV_MISS, len);
		slot = (int)bpf_get_prandom_u32();
		if (slot < 0)
			slot = -slot;
	}
	ak.svc_id = sv->svc_id;
	ak.family = p->family;
	addr_copy(ak.addr, p->saddr);
	b = backend_pick(sv, &ak, (__u32)slot, now);
	if (!b) {
		stat_add(SL_STAT_NO_BACKEND, len);
		return XDP_DROP;
	}
	cb = *b;
	(void)ct_create(p, &cb, sv->svc_id, SL_CT_F_NODEPORT, now);
rewrite:
	if (nat_xdp(ctx, p, true, cb.addr, cb.port) < 0) {
		stat_add(SL_STAT_PARSE_ERROR, len);
		return XDP_DROP;
	}
	stat_add(SL_STAT_XDP_DNAT, len);
	return XDP_PASS;
}

SEC("xdp")
int sluice_xdp_in(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 len = (__u64)(end - data);
	struct pkt p;

	if (pkt_parse(data, end, &p) < 0) {
		stat_add(SL_STAT_PARSE_ERROR, len);
		return XDP_PASS;
	}
	if (!p.family) {
		stat_add(SL_STAT_NON_IP, len);
		return XDP_PASS;
	}
	stat_add(SL_STAT_XDP_IN_PASS, len);
	if (p.frag) {
		stat_add(SL_STAT_FRAGMENT, len);
		return XDP_PASS;
	}
	if (!p.l4)
		return XDP_PASS;
	return lb_xdp(ctx, &p, len);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
