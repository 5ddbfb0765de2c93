/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NetworkPolicy compiler: from the desired state (Pods, Namespaces, NetworkPolicies and the
 * local endpoints) to what the datapath looks up: identities of addresses (sluice_ipcache),
 * allow entries per policy context (sluice_policy), and each local endpoint's isolation flags
 * and context. Pure, no I/O.
 *
 * Identity: one per distinct (namespace, namespace labels, pod labels, ipBlock class), where
 * the ipBlock class of an address is the longest ipBlock prefix (cidr or except, of any
 * policy) holding it; ipBlock prefixes themselves get identities for the addresses outside
 * every pod. Since prefixes either nest or are disjoint, an ipBlock {cidr C, except E...}
 * selects exactly the identities whose representative (pod address or prefix) lies in C and
 * in no E, pods included. Numbers are a hash of that description (collisions probed in sorted
 * order), so they are the same after a restart and an unrelated change moves none.
 *
 * Context: one per distinct (namespace, pod labels, container ports) among local endpoints;
 * its entries are the union of the rules of every policy selecting it, per direction.
 * Named ports resolve against the endpoint itself for ingress and against the pods of each
 * peer identity for egress.
 */
#ifndef SL_AGENT_POLICY_H
#define SL_AGENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/state/store.h"
#include "ipaddr.h"
#include "sl_abi.h"

struct policy_input {
	const struct ip_addr *host_addrs; /* the node's own addresses: SL_ID_HOST */
	size_t n_host_addrs;
	bool track_all; /* SL_EP_F_TRACK on every endpoint: later policies spare live flows */
};

/* A local endpoint's policy: SL_EP_F_* flags and its context (0 when not isolated). */
struct policy_ep {
	unsigned int ep_id;
	uint32_t flags;
	uint32_t ctx;
};

/* What an identity number stands for, for flow events ("world", "cidr:10.0.0.0/8", ...). */
struct policy_ident {
	uint32_t id;
	char *desc;
};

struct policy_desired {
	void *ipc;		/* records of sl_ipc_key + sl_ipc_val */
	size_t n_ipc;
	void *pol;		/* records of sl_pol_key + sl_pol_val */
	size_t n_pol;
	struct policy_ep *eps;	/* sorted by ep_id */
	size_t n_eps;
	struct policy_ident *ids; /* sorted by id */
	size_t n_ids;
	char **policies;	/* sl_pol_val.policy i names policies[i - 1]: "namespace/name" */
	size_t n_policies;
	size_t n_contexts;
};

int policy_build(const struct store *st, const struct policy_input *in,
		 struct policy_desired *ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void policy_desired_free(struct policy_desired *d);

/* The containerPort a pod's container names name for proto (IPPROTO_*), or -1. */
int policy_pod_named_port(const cJSON *pod, const char *name, uint8_t proto);

/* The endpoint's entry in d, or NULL (an endpoint no reconcile has seen). */
const struct policy_ep *policy_ep_find(const struct policy_desired *d, unsigned int ep_id);
/* The description of an identity number ("world" for an unknown one). */
const char *policy_ident_desc(const struct policy_desired *d, uint32_t id);

#endif
