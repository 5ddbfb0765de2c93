/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP (JSON) push of the telemetry to a collector (libcurl), from a thread of its own:
 * every interval it asks build() for an ExportMetricsServiceRequest body and an
 * ExportTraceServiceRequest body and queues them; the queue holds at most queue_max bodies
 * (the oldest is dropped, and counted, when a new one does not fit), and the head is POSTed
 * to <endpoint>/v1/metrics or <endpoint>/v1/traces until the collector takes it
 * (2xx), with exponential backoff between tries (a 4xx other than 429 drops it: a body the
 * collector refuses will not be taken later). Nothing here blocks the caller: a slow or absent
 * collector costs the queue's memory and no more.
 */
#ifndef SL_AGENT_TEL_OTLP_H
#define SL_AGENT_TEL_OTLP_H

#include <stdint.h>

struct otlp_cfg {
	const char *endpoint;	 /* "http://host:4318": /v1/metrics and /v1/traces are appended */
	unsigned int interval_ms;
	unsigned int timeout_ms; /* of one POST */
	unsigned int queue_max;
};

struct otlp_stats {
	uint64_t sent;	   /* bodies the collector took */
	uint64_t failed;   /* tries that failed (connection, timeout, 5xx, 429) */
	uint64_t dropped;  /* bodies dropped: queue full, or refused with a 4xx */
	uint64_t queued;   /* bodies waiting now */
	uint64_t queued_bytes;
};

struct otlp;

enum otlp_signal {
	OTLP_METRICS,
	OTLP_TRACES,
	OTLP_SIGNALS,
};

/*
 * build(ctx, signal) returns a malloc'd JSON body or NULL (nothing this time); called on the
 * thread.
 */
int otlp_new(const struct otlp_cfg *cfg, char *(*build)(void *ctx, enum otlp_signal sig),
	     void *ctx, struct otlp **ret) __attribute__((warn_unused_result));
void otlp_free(struct otlp *o);
void otlp_stats_get(struct otlp *o, struct otlp_stats *st);

#endif
