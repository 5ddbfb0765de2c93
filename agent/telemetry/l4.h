/* SPDX-License-Identifier: Apache-2.0 */
/*
 * L4 telemetry export: sluice_l4_flow (struct sl_l4_key -> per-CPU struct sl_l4_val, filled by
 * sock_ops) and sluice_l4_drop (struct sl_l4_dkey -> per-CPU struct sl_l4_dval, filled by tc
 * where it drops) as Prometheus families, with workload labels from the desired state and the
 * cardinality control of series.h. Labels come from an allow-list (tel_labels_parse); what is
 * not allowed is summed away.
 */
#ifndef SL_AGENT_TEL_L4_H
#define SL_AGENT_TEL_L4_H

#include <stdint.h>
#include <stdio.h>

#include "agent/telemetry/names.h"
#include "agent/telemetry/series.h"

struct tel_l4;

int tel_l4_new(unsigned int label_mask, unsigned int series_limit, struct tel_l4 **ret)
	__attribute__((warn_unused_result));
void tel_l4_free(struct tel_l4 *t);

/*
 * Reads the flow map into the series table, deleting the entries of local addresses no
 * registered pod has any more (so their series go), with the names of n. Returns the number
 * of series or -errno. The writers then print what the last collect found.
 */
int tel_l4_collect(struct tel_l4 *t, int flow_fd, int drop_fd, const struct tel_names *n);
void tel_l4_prom(const struct tel_l4 *t, FILE *f);
int tel_l4_otlp(const struct tel_l4 *t, cJSON *metrics, uint64_t start_ns, uint64_t now_ns);

/* The series tables of the flows and of the drops, as of the last tel_l4_collect. */
const struct tel_series *tel_l4_series(const struct tel_l4 *t);
const struct tel_series *tel_l4_drop_series(const struct tel_l4 *t);

/* Deletes the flow and drop entries of a local address (textual), as when its pod goes. */
void tel_l4_forget(int flow_fd, int drop_fd, const char *ip);

#endif
