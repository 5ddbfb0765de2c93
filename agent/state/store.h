/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Desired state: the Kubernetes objects applied (keyed by Kind/namespace/name) and the pod
 * endpoints the CNI plugin registered. Plain data, no I/O except store_save/store_load.
 */
#ifndef SL_AGENT_STORE_H
#define SL_AGENT_STORE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "validate.h"

struct store;

int store_new(struct store **ret_store) __attribute__((warn_unused_result));
void store_free(struct store *st);

/*
 * Applies a batch (cJSON array of objects, not consumed). Every object is validated, on a copy,
 * before anything changes; on the first invalid object nothing is applied and err names it.
 * *ret_results gets [{"kind","namespace","name","action"}] (created|configured|unchanged).
 */
int store_apply(struct store *st, const cJSON *items, cJSON **ret_results, char *err,
		size_t errlen) __attribute__((warn_unused_result));
/* store_apply that moves the objects out of items (left empty or partly emptied) instead of
 * copying them: for a request body the caller frees afterwards. */
int store_apply_take(struct store *st, cJSON *items, cJSON **ret_results, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* Deletes a batch atomically: -ENOENT and nothing deleted if any object is absent. */
int store_delete(struct store *st, const cJSON *items, cJSON **ret_results, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/* A pod's network endpoint as registered by the CNI plugin. */
struct store_ep {
	char container_id[128];
	char pod_ns[64];
	char pod_name[254];
	char netns[256];
	char ifname[16];
	char host_ifname[16];
	int host_ifindex;
	unsigned int ep_id;
	int n_ips;
	char ips[2][48]; /* textual, without prefix length */
};

/* Parses and validates a /v1/cni/add body into ep (ep_id unset). */
int store_ep_parse(const cJSON *body, struct store_ep *ep, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Adds or replaces by container id; assigns a stable ep_id. */
int store_ep_add(struct store *st, const struct store_ep *ep, unsigned int *ret_ep_id)
	__attribute__((warn_unused_result));
/* Removes by container id; 0 also when unknown. */
int store_ep_del(struct store *st, const char *container_id);

size_t store_ep_count(const struct store *st);
const struct store_ep *store_ep_at(const struct store *st, size_t i);
const struct store_ep *store_ep_for_pod(const struct store *st, const char *ns,
					const char *name);

/* Number of stored objects of a kind. */
int store_count(const struct store *st, enum obj_kind kind);
/* Iterates objects of a kind in key order: returns NULL past the end. */
const cJSON *store_obj_at(const struct store *st, enum obj_kind kind, int i);
const cJSON *store_obj_get(const struct store *st, enum obj_kind kind, const char *ns,
			   const char *name);

/* A new {"kind":"<Kind>List","items":[...]} with pod status filled from endpoints. */
cJSON *store_list(const struct store *st, enum obj_kind kind);

/*
 * Service endpoints as the endpoint controller derives them: pods selected by the Service's
 * selector (with a registered endpoint) or, for Services without a selector, the EndpointSlices
 * labelled kubernetes.io/service-name. Returns the /v1/endpoints "items" array.
 */
cJSON *store_service_endpoints(const struct store *st);

/*
 * The same endpoints for the datapath, without building JSON: store_backends_begin indexes the
 * EndpointSlices once, store_backends_each calls fn for every endpoint address of one Service
 * (a stored Service object), in the order store_service_endpoints lists them. Pointers in a
 * store_backend live as long as the store's parsed trees (store_trim). fn returning < 0 stops
 * the walk with that value.
 */
struct store_backend {
	const char *ip;
	const char *pod_name;	    /* the pod, or the slice endpoint's targetRef; may be NULL */
	bool ready, serving, terminating;
	unsigned int ep_id;	    /* the pod's endpoint id (selector); 0 from slices */
	const cJSON *pod;	    /* selector: the pod, which resolves named targetPorts */
	const cJSON *slice_ports;   /* no selector: the EndpointSlice's ports */
};

struct store_backends;

int store_backends_begin(const struct store *st, struct store_backends **ret)
	__attribute__((warn_unused_result));
int store_backends_each(struct store_backends *it, const cJSON *svc,
			int (*fn)(void *ctx, const struct store_backend *b), void *ctx);
void store_backends_end(struct store_backends *it);

/* The backend port of b for one entry of the Service's spec.ports, or -1 (b does not serve it). */
int store_backend_port(const struct store_backend *b, const cJSON *svc_port);

/* Atomic save (write + rename) and load of objects and endpoints as JSON. */
int store_save(const struct store *st, const char *path) __attribute__((warn_unused_result));
int store_load(struct store *st, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Objects are stored as compact JSON text; the trees store_obj_at/store_obj_get return are
 * parsed on first use and stay valid until store_trim (or the object is replaced or deleted).
 * Frees those trees: call it once a reconcile or a listing is done with them.
 */
void store_trim(const struct store *st);

/* A deep copy, for apply-then-commit: the copy is changed and swapped in only on success. */
int store_clone(const struct store *st, struct store **ret_copy)
	__attribute__((warn_unused_result));

#endif
