/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Desired map contents from the desired state: endpoints, per-endpoint counters, service
 * frontends and their backends. Pure apart from reading the current sluice_svc map through the
 * map ops (service ids stay stable across restarts, so an unchanged service rewrites nothing).
 */
#ifndef SL_AGENT_SYNC_H
#define SL_AGENT_SYNC_H

#include <stddef.h>

#include "agent/maps/maps.h"
#include "sl_abi.h"
#include "agent/state/store.h"

struct sync_desired {
	void *ep;	    /* records of sl_ep_key + sl_ep_val */
	size_t n_ep;
	void *ep_stats;	    /* records of __u32 ifindex + per-CPU value (zeros) */
	size_t n_ep_stats;
	void *svc;	    /* sl_svc_key + sl_svc_val */
	size_t n_svc;
	void *backend;	    /* sl_backend_key + sl_backend_val */
	size_t n_backend;
	size_t ep_stats_value_size;
};

/*
 * Builds the desired contents. cur_svc/n_cur_svc are the current sluice_svc records (from
 * maps_dump) used to keep service ids. ep_stats_value_size is the per-CPU lookup size.
 */
int sync_build(const struct store *st, const void *cur_svc, size_t n_cur_svc,
	       size_t ep_stats_value_size, struct sync_desired *ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void sync_desired_free(struct sync_desired *d);

#endif
