/* SPDX-License-Identifier: Apache-2.0 */
/* Client for the agent's local HTTP/1.1 + JSON API over a unix socket (libcurl). */
#ifndef SL_LIB_APICLIENT_H
#define SL_LIB_APICLIENT_H

#include <stddef.h>

#define API_DEFAULT_SOCK   "/run/sluice/agent.sock"
#define API_MAX_RESP_BYTES (16u << 20)

struct api_resp {
	long status;  /* HTTP status */
	char *body;   /* NUL-terminated, malloc'd */
	size_t len;
};

/*
 * One request. body may be NULL. timeout_ms 0 means 10 s.
 * Returns 0 when an HTTP response arrived (any status), -ECONNREFUSED/-ENOENT when the socket
 * is absent or nobody listens, -ETIMEDOUT, -E2BIG for an oversized response, -EIO otherwise;
 * err gets a one-line reason on failure.
 */
int api_call(const char *sock_path, const char *method, const char *path, const char *body,
	     size_t body_len, long timeout_ms, struct api_resp *ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void api_resp_free(struct api_resp *resp);

#endif
