/* SPDX-License-Identifier: Apache-2.0 */
/* CNI error codes: the spec's, then Sluice's own from 100. */
#ifndef SL_CNI_ERRORS_H
#define SL_CNI_ERRORS_H

enum cni_err {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_READY = 50,
	CNI_ERR_STATUS_LIMITED = 51,
	/* Sluice */
	SL_CNI_ERR_NO_HOST_VETH = 100,	   /* prevResult names no host-side veth */
	SL_CNI_ERR_ATTACH = 101,	   /* attaching the tc programs failed */
	SL_CNI_ERR_AGENT_REJECTED = 102,   /* the agent refused the endpoint */
	SL_CNI_ERR_PROGRAMS_MISSING = 103, /* CHECK: programs no longer on the veth */
};

#endif
