/* SPDX-License-Identifier: Apache-2.0 */
/*
 * L4 telemetry export: sluice_l4_flow (struct sl_l4_key -> per-CPU struct sl_l4_val, filled by
 * sock_ops) as Prometheus families, with workload labels from the desired state and the
 * cardinality control of series.h. Labels come from an allow-list (tel_labels_parse); what is
 * not allowed is summed away.
 */
#ifndef SL_AGENT_TEL_L4_H
#define SL_AGENT_TEL_L4_H

#include <stdio.h>

#include "agent/state/store.h"

enum tel_label {
	TEL_NAMESPACE,	    /* k8s_namespace_name: the pod whose socket it is */
	TEL_POD,	    /* k8s_pod_name */
	TEL_ROLE,	    /* role: client (it connected) or server (it accepted) */
	TEL_TRANSPORT,	    /* network_transport: tcp */
	TEL_SERVER_PORT,    /* server_port: the port connected to (a Service's port) */
	TEL_SERVICE,	    /* service_name: the Service connected to (client side) */
	TEL_SERVICE_NS,	    /* service_namespace */
	TEL_PEER_NAMESPACE, /* peer_k8s_namespace_name: the pod at the other end */
	TEL_PEER_POD,	    /* peer_k8s_pod_name */
	TEL_PEER_ADDRESS,   /* network_peer_address: its address (not allowed by default) */
	TEL_LABEL_MAX,
};

#define TEL_SERIES_DEFAULT 2000 /* series per metric group before the overflow series */

#define TEL_LABELS_DEFAULT                                                                    \
	((1u << TEL_LABEL_MAX) - 1 - (1u << TEL_PEER_ADDRESS))

const char *tel_label_name(enum tel_label l);

/*
 * A comma-separated allow-list of label names ("" or NULL: the default, every label but
 * network_peer_address) into a mask of 1 << enum tel_label. -EINVAL naming the bad entry.
 */
int tel_labels_parse(const char *list, unsigned int *ret_mask, char *err, size_t errlen)
	__attribute__((warn_unused_result));

struct tel_l4;

int tel_l4_new(unsigned int label_mask, unsigned int series_limit, struct tel_l4 **ret)
	__attribute__((warn_unused_result));
void tel_l4_free(struct tel_l4 *t);

/*
 * Reads the flow map, deletes the entries of local addresses no registered pod has any more
 * (so their series go), and writes the L4 families. Pod and Service names come from st
 * (store_trim afterwards is the caller's). Returns the number of series written or -errno.
 */
int tel_l4_write(struct tel_l4 *t, int flow_fd, const struct store *st, FILE *f);

/* Deletes the flow entries of a local address (textual), as when its pod goes. */
void tel_l4_forget(int flow_fd, const char *ip);

#endif
