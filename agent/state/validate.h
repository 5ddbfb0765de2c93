/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole-object validation of the Kubernetes objects Sluice consumes. Pure functions, no I/O.
 */
#ifndef SL_AGENT_VALIDATE_H
#define SL_AGENT_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

enum obj_kind {
	OBJ_NAMESPACE,
	OBJ_POD,
	OBJ_SERVICE,
	OBJ_ENDPOINTSLICE,
	OBJ_NETWORKPOLICY,
	OBJ_HTTPPOLICY, /* sluice.dev/v1alpha1 */
	OBJ_KIND_MAX,
};

/* "Namespace", "Pod", ... */
const char *obj_kind_name(enum obj_kind kind);
/* Lower-case plural used by the CLI and API: "namespaces", "pods", "services",
 * "endpointslices", "networkpolicies", "httppolicies". */
const char *obj_kind_plural(enum obj_kind kind);
/* Accepts the kind name, its plural, or kubectl short names (ns, po, svc, netpol, ...). */
int obj_kind_parse(const char *s, enum obj_kind *ret_kind);

/*
 * Validates obj whole: apiVersion+kind supported, metadata.name a valid DNS name, labels valid,
 * and every field of the kind's spec that Sluice reads. Fills in the defaults kubectl/the API
 * server would (metadata.namespace "default" for namespaced kinds, Service type ClusterIP,
 * protocol TCP, targetPort = port, sessionAffinity None, timeoutSeconds 10800, ...), which
 * is why obj is not const. On error returns -EINVAL and writes one line to err naming object,
 * field and value, e.g.
 *   Service default/web: spec.ports[0].port: must be between 1 and 65535, got 70000
 * ret_kind gets the kind on success.
 */
int obj_validate(cJSON *obj, enum obj_kind *ret_kind, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes "Kind/namespace/name" (or "Namespace//name") into buf: the store key. */
int obj_key(const cJSON *obj, char *buf, size_t len);

/*
 * Label selector matching. selector is either a plain string map (Service .spec.selector)
 * or a metav1.LabelSelector (matchLabels + matchExpressions with In/NotIn/Exists/DoesNotExist).
 * labels is a string map or NULL. An empty LabelSelector matches everything; a NULL or empty
 * Service selector matches nothing (as Kubernetes: no selector means no managed endpoints).
 */
bool selector_matches_map(const cJSON *selector_map, const cJSON *labels);
bool selector_matches_label_selector(const cJSON *label_selector, const cJSON *labels);

/* HTTPPolicy limits, as the datapath has them (bpf/include/sl_abi.h). */
#define HTTPPOL_MAX_RULES 64  /* per policy, and per (pod, port) over every policy */
#define HTTPPOL_PATH_MAX  127 /* bytes of a rule path */
#define HTTPPOL_HOST_MAX  64  /* bytes of a rule host */

/* The HTTP method names an HTTPPolicy rule may list, in enum sl_http_method order. */
extern const char *const httppol_methods[9];

#endif
