/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Drops per flow (sluice_l4_drop, sl_abi.h), with L4 telemetry on: where tc drops a packet of
 * a pod, it adds it to (pod, peer, destination port, protocol, direction, reason). Only drops
 * pay for this: a passing packet never gets here.
 */
#ifndef SL_BPF_DROPTEL_H
#define SL_BPF_DROPTEL_H

#include "common.h"
#include "maps.h"
#include "parse.h"

/* A function of its own: its key stays off the stack of the programs that call it. */
static __noinline void l4_drop(const struct pkt *p, __u8 dir, __u8 reason, __u64 len)
{
	struct sl_l4_dkey k;
	struct sl_l4_dval *v, one = { 1, len };

	if (!(sl_cfg.flags & SL_CFG_F_L4_TELEMETRY))
		return;
	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memcpy(k.local, dir == SL_POL_EGRESS ? p->saddr : p->daddr, sizeof(k.local));
	__builtin_memcpy(k.peer, dir == SL_POL_EGRESS ? p->daddr : p->saddr, sizeof(k.peer));
	k.port = p->ports ? bpf_ntohs(p->dport) : 0;
	k.family = p->family;
	k.proto = p->proto;
	k.dir = dir;
	k.reason = reason;
	v = bpf_map_lookup_elem(&sluice_l4_drop, &k);
	if (v) {
		v->packets++;
		v->bytes += len;
		return;
	}
	if (!bpf_map_update_elem(&sluice_l4_drop, &k, &one, BPF_NOEXIST))
		return;
	/* EEXIST: another CPU created it meanwhile */
	v = bpf_map_lookup_elem(&sluice_l4_drop, &k);
	if (v) {
		v->packets++;
		v->bytes += len;
	} else {
		stat_add(SL_STAT_L4_DROP_FULL, 0);
	}
}

#endif
