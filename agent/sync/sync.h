/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Desired map contents from the desired state: endpoints, per-endpoint counters, service
 * frontends (ClusterIPs, NodePorts on the node's addresses, externalIPs, LoadBalancer ingress
 * IPs) and their backends, and the Maglev tables of node-facing frontends. Pure: what the maps
 * hold now comes in as records (service ids and backend slots stay stable across restarts and
 * endpoint churn, so an unchanged service rewrites nothing and a removed backend moves no
 * other backend except the one that fills its slot).
 */
#ifndef SL_AGENT_SYNC_H
#define SL_AGENT_SYNC_H

#include <stddef.h>

#include "agent/maps/maps.h"
#include "agent/state/store.h"
#include "ipaddr.h"
#include "sl_abi.h"

struct sync_input {
	const void *cur_svc;	 /* current sluice_svc records (sl_svc_key + sl_svc_val) */
	size_t n_cur_svc;
	const void *cur_backend; /* current sluice_backend records */
	size_t n_cur_backend;
	size_t ep_stats_value_size; /* per-CPU lookup size of sluice_ep_stats */
	const struct ip_addr *node_addrs; /* addresses NodePorts listen on */
	size_t n_node_addrs;
	unsigned int maglev_size; /* prime table size for node-facing frontends */
};

/* The Maglev table of one node-facing frontend: entries are backend slots. */
struct sync_maglev {
	__u32 svc_id;
	__u32 size;
	__u32 *table;
};

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
	struct sync_maglev *maglev;
	size_t n_maglev;
};

int sync_build(const struct store *st, const struct sync_input *in, struct sync_desired *ret,
	       char *err, size_t errlen) __attribute__((warn_unused_result));
void sync_desired_free(struct sync_desired *d);

#endif
