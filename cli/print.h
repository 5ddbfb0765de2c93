/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rendering of agent API answers for the `sluice` CLI: kubectl-like tables, apply/delete result
 * lines and the status report. Pure functions from cJSON to a FILE *, no I/O of their own.
 */
#ifndef SL_CLI_PRINT_H
#define SL_CLI_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

enum print_res {
	PRINT_RES_PODS,
	PRINT_RES_SERVICES,
	PRINT_RES_ENDPOINTS,
	PRINT_RES_POLICIES,
	PRINT_RES_NAMESPACES,
	PRINT_RES_HTTPPOLICIES,
};

/* Resource words as kubectl takes them: plural, singular and short name (po, svc, ep, netpol, ns).
 */
int print_res_parse(const char *word, enum print_res *ret_res) __attribute__((warn_unused_result));
/* API path to GET: "/v1/objects/pods", ..., "/v1/endpoints". */
const char *print_res_path(enum print_res res);
bool print_res_namespaced(enum print_res res);

/*
 * A deep copy of a list answer ({"items":[...]} plus whatever else it carries) keeping only the
 * items in namespace ns (all when ns is NULL or the resource is cluster-scoped). NULL when the
 * answer has no "items" array or on allocation failure.
 */
cJSON *print_filter_ns(enum print_res res, const cJSON *list, const char *ns);

/*
 * Writes the table for a list answer (already filtered). all_ns adds the NAMESPACE column, wide
 * the -o wide columns. Returns the number of rows (0: nothing written, the caller reports "No
 * resources found"), or -EINVAL when the answer is not a list.
 */
int print_table(FILE *f, enum print_res res, const cJSON *list, bool all_ns, bool wide);

/* "No resources found in <ns> namespace." or "No resources found" (ns NULL, cluster scope). */
void print_no_resources(FILE *f, enum print_res res, const char *ns);

/* kubectl's resource name for a kind: "service", "networkpolicy.networking.k8s.io", ... */
const char *print_kind_resource(const char *kind);

/*
 * One line per entry of an apply/delete answer {"results":[...]}: "service/web created", or with
 * deleted set `service "web" deleted`. Returns the number of lines, or -EINVAL.
 */
int print_results(FILE *f, const cJSON *resp, bool deleted);

/* The /v1/status report. Returns 0, or -EINVAL when the answer is not an object. */
int print_status(FILE *f, const cJSON *status);

/*
 * kubectl's ENDPOINTS column for one /v1/endpoints item: ready "ip:port" pairs, at most three,
 * then " + N more...". "<none>" when there are none. Writes into buf (truncating).
 */
void print_endpoints_col(const cJSON *item, char *buf, size_t len);

/* Pretty JSON as kubectl prints it (four-space indent), with a final newline. 0 or -errno. */
int print_json(FILE *f, const cJSON *v);

#endif
