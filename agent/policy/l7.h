/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPPolicy compiler (sluice.dev/v1alpha1): from the desired state to what the L7 datapath
 * looks up, sluice_l7_port ((pod address, port) -> rule set) and sluice_l7_rule. Pure, no I/O.
 *
 * A local endpoint's (address, port) gets a rule set when an HTTPPolicy of its namespace selects
 * its pod and lists the port (a named port resolves against the pod's TCP container ports; a
 * pod without that name is left alone, as NetworkPolicy does). The set holds the rules of every
 * such policy: a request passes if any of them allows it, and none do when they have no rules.
 * Endpoints selected by the same policies share one set.
 */
#ifndef SL_AGENT_L7_H
#define SL_AGENT_L7_H

#include <stddef.h>

#include "agent/state/store.h"

struct l7_desired {
	void *ports; /* records of sl_l7_port_key + sl_l7_port_val */
	size_t n_ports;
	void *rules; /* records of sl_l7_rule_key + sl_l7_rule */
	size_t n_rules;
	char **policies; /* sl_l7_rule.policy i names policies[i - 1]: "namespace/name" */
	size_t n_policies;
	size_t n_sets;
};

/*
 * Fails with -E2BIG, naming the pod, the port and the policies, when the policies selecting one
 * (pod, port) hold more than HTTPPOL_MAX_RULES rules together.
 */
int l7_build(const struct store *st, struct l7_desired *ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void l7_desired_free(struct l7_desired *d);

/* The name of an HTTPPolicy index from sl_l7_rule.policy, or NULL. */
const char *l7_policy_name(const struct l7_desired *d, unsigned int policy);

#endif
