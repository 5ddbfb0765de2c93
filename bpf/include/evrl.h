/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-CPU rate limit of flow events (sl_cfg.pol_events_per_sec, or for HTTP request
 * events sl_cfg.http_events_per_sec; a one-second window per CPU): each emitting object keeps its own per-CPU struct evrl and asks ev_admit() before it
 * reserves a record; ev_sent() after a record went out. The ones left out are counted as
 * SL_STAT_EVENT_SAMPLED.
 */
#ifndef SL_BPF_EVRL_H
#define SL_BPF_EVRL_H

#include "common.h"
#include "maps.h"

struct evrl {
	__u64 window; /* start of the current second, bpf_ktime_get_ns() */
	__u32 sent;
	__u32 pad;
};

static __always_inline bool ev_admit_rate(struct evrl *rl, __u64 now, __u32 rate)
{
	if (now - rl->window >= 1000000000ull) {
		rl->window = now;
		rl->sent = 0;
	}
	if (rl->sent >= rate) {
		stat_add(SL_STAT_EVENT_SAMPLED, 0);
		return false;
	}
	return true;
}

static __always_inline bool ev_admit(struct evrl *rl, __u64 now)
{
	return ev_admit_rate(rl, now, sl_cfg.pol_events_per_sec);
}

#endif
