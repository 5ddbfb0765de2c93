/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names for telemetry labels, from the desired state, built once per scrape: the pod that has
 * an address (this node's CNI-registered endpoints first, then Pod objects by their status),
 * the Service a frontend (ClusterIP, port) belongs to, and the Service a backend (address,
 * target port) serves. Strings point into the store: valid until store_trim.
 */
#ifndef SL_AGENT_TEL_NAMES_H
#define SL_AGENT_TEL_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "agent/state/store.h"

struct tel_pod {
	__u32 addr[4];
	__u8 family;
	bool local; /* a pod of this node (a CNI-registered endpoint) */
	const char *ns, *name;
};

struct tel_svc {
	__u32 addr[4];
	__u16 port; /* host byte order */
	__u8 family;
	const char *ns, *name;
};

struct tel_names {
	struct tel_pod *pods;
	size_t n_pods;
	struct tel_svc *fes; /* frontends */
	size_t n_fes;
	struct tel_svc *bes; /* backends, sorted; a backend of several Services: the first by name */
	size_t n_bes;
};

int tel_names_build(const struct store *st, struct tel_names *n) __attribute__((warn_unused_result));
void tel_names_free(struct tel_names *n);

const struct tel_pod *tel_pod_of(const struct tel_names *n, __u8 family, const __u32 *addr);
const struct tel_svc *tel_svc_of(const struct tel_names *n, __u8 family, const __u32 *addr,
				 __u16 port);
const struct tel_svc *tel_backend_of(const struct tel_names *n, __u8 family, const __u32 *addr,
				     __u16 port);

/* Text address -> the ABI's form (network byte order, IPv4 in [0]); false if not one. */
bool tel_abi_addr(const char *s, __u32 out[4], __u8 *family);
void tel_addr_text(__u8 family, const __u32 *addr, char *buf, size_t len);

#endif
