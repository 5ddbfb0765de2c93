/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes manifests as `kubectl apply -f` takes them: YAML (one or more documents) or JSON,
 * with `List` kinds (v1 List, ServiceList, ...) flattened into their items. Parsing uses libyaml
 * and cJSON; nothing here is hand-written tokenising.
 */
#ifndef SL_LIB_MANIFEST_H
#define SL_LIB_MANIFEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define MANIFEST_MAX_BYTES   (8u << 20) /* whole input */
#define MANIFEST_MAX_OBJECTS 20000
#define MANIFEST_MAX_DEPTH   64

/*
 * Parses buf into a new cJSON array of objects (*ret_items, caller frees with cJSON_Delete).
 * Empty documents are skipped. Scalars follow YAML's core schema: unquoted true/false, null/~,
 * integers and floats become JSON booleans, null and numbers; everything quoted is a string.
 * source names the input in errors ("demo.yaml", "-").
 * Returns 0, or -EINVAL / -E2BIG / -ENOMEM with a message in err such as
 *   "demo.yaml: line 12 column 3: mapping values are not allowed in this context"
 *   "demo.yaml: document 2: top-level value is not a mapping"
 */
int manifest_parse(const char *buf, size_t len, const char *source, cJSON **ret_items,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* Renders one JSON value as a YAML document (libyaml emitter). Caller frees. NULL on error. */
char *manifest_to_yaml(const cJSON *obj);

#endif
