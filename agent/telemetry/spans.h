/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spans for the HTTP requests that carried a W3C traceparent (request events, reqev.h): each
 * sampled request seen on a pod's veth becomes one span of the caller's trace, a child of the
 * span the traceparent names, SERVER where the pod answered and CLIENT where it asked, from
 * the request's first byte to the response's last, with OpenTelemetry's HTTP attributes.
 * Spans wait in a bounded queue (the oldest dropped, and counted, when full) until the OTLP
 * exporter takes them as one ExportTraceServiceRequest body (OTLP/JSON: ids in hex).
 */
#ifndef SL_AGENT_TEL_SPANS_H
#define SL_AGENT_TEL_SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_abi.h"

#define SPANS_DEFAULT_MAX 4096

struct spans;

/* Who an address is: the pod (namespace, name) and its Service, where known. */
struct spans_who {
	const char *ns, *pod, *service;
};
typedef void (*spans_namer)(void *ctx, const __u32 *addr, __u8 family, struct spans_who *w);

int spans_new(size_t max, struct spans **ret) __attribute__((warn_unused_result));
void spans_free(struct spans *s);

/*
 * Queues the span of a request event that ended at realtime_end_ns (CLOCK_REALTIME), if it
 * carried a valid traceparent; returns whether it did. Thread-safe.
 */
bool spans_add(struct spans *s, const struct sl_http_event *e, uint64_t realtime_end_ns);

/*
 * Takes every queued span into a malloc'd ExportTraceServiceRequest body, or returns NULL
 * when none waits; spans are grouped into one resource per pod (k8s.namespace.name,
 * k8s.pod.name, service.name: its Service, else the pod). name() runs under no lock of ours.
 */
char *spans_take_otlp(struct spans *s, spans_namer name, void *ctx);

struct spans_stats {
	uint64_t queued;  /* waiting now */
	uint64_t taken;	  /* given to the exporter */
	uint64_t dropped; /* dropped from a full queue */
};
void spans_stats_get(struct spans *s, struct spans_stats *st);

#endif
