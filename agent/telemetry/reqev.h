/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP request events (struct sl_http_event, from tc's sluice_http_events ring, sampled per
 * CPU): reading what the kernel captured raw. The path is the bytes after the method up to the
 * next SP; the traceparent value is checked against the W3C Trace Context format
 * (https://www.w3.org/TR/trace-context/#traceparent-header): version-traceid-parentid-flags in
 * lower-case hex, neither id all zeros, version ff invalid, version 00 exactly 55 characters.
 */
#ifndef SL_AGENT_TEL_REQEV_H
#define SL_AGENT_TEL_REQEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_abi.h"

struct reqev_trace {
	uint8_t trace_id[16];
	uint8_t parent_id[8];
	uint8_t flags;
};

/*
 * Writes the path, NUL-terminated, into out (len >= SL_HT_EV_PATH + 1) and returns its length;
 * *truncated when the request line went on past what was captured. Bytes that are not
 * printable ASCII end it (a path has none).
 */
size_t reqev_path(const struct sl_http_event *e, char *out, size_t len, bool *truncated);

/* The request's traceparent, when it carried a valid one. */
bool reqev_trace(const struct sl_http_event *e, struct reqev_trace *t);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void reqev_hex(const uint8_t *b, size_t n, char *out);

#endif
