/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Policy events to the agent through a ring buffer, at most sl_cfg.pol_events_per_sec per CPU
 * (a one-second window per CPU); the rest are counted as SL_STAT_EVENT_SAMPLED, and records the
 * full ring cannot take as SL_STAT_EVENT_LOST. Records are submitted without a wakeup: waking
 * the reader for every new flow would cost each connection a context switch, so the agent
 * drains the ring every 100 ms instead. Event maps are not pinned (STYLE.md section 5):
 * only the object that emits includes this header, and the agent reads its map.
 */
#ifndef SL_BPF_EVENTS_H
#define SL_BPF_EVENTS_H

#include "common.h"
#include "lb.h"
#include "maps.h"
#include "parse.h"
#include "evrl.h"

#define BPF_RB_NO_WAKEUP_ (1ULL << 0)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sluice_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct evrl);
} sluice_evrl SEC(".maps");

static __always_inline void pol_event(const struct pkt *p, __u32 ep_id, __u32 peer_id,
				      __u32 policy, __u8 dir, int reason)
{
	__u32 rate = sl_cfg.pol_events_per_sec, zero = 0;
	struct sl_pol_event *e;
	struct evrl *rl;
	__u64 now;

	if (!rate)
		return;
	rl = bpf_map_lookup_elem(&sluice_evrl, &zero);
	if (!rl)
		return;
	now = bpf_ktime_get_ns();
	if (!ev_admit(rl, now))
		return;
	e = bpf_ringbuf_reserve(&sluice_events, sizeof(*e), 0);
	if (!e) {
		stat_add(SL_STAT_EVENT_LOST, 0);
		return;
	}
	rl->sent++;
	e->ts_ns = now;
	addr_copy(e->saddr, p->saddr);
	addr_copy(e->daddr, p->daddr);
	e->ep_id = ep_id;
	e->peer_id = peer_id;
	e->policy = policy;
	e->sport = p->sport;
	e->dport = p->dport;
	e->proto = p->proto;
	e->family = p->family;
	e->dir = dir;
	e->verdict = reason == SL_POL_R_ALLOWED ? SL_VERDICT_ALLOW : SL_VERDICT_DENY;
	e->reason = (__u8)reason;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP_); /* the agent drains on a timer */
}

#endif
