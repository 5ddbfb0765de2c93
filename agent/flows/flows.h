/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow events from the datapath's ring buffers (sluice_events: NetworkPolicy verdicts on new
 * flows; sluice_l7_events: HTTPPolicy verdicts on requests; sluice_http_events: HTTP requests
 * telemetry sampled, with their latency), kept in memory for `sluice observe`: a thread drains the rings every 100 ms and appends each record, numbered, to a
 * bounded buffer that drops the oldest when full. Readers ask for everything after a sequence
 * number.
 */
#ifndef SL_AGENT_FLOWS_H
#define SL_AGENT_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "sl_abi.h"

enum flow_kind {
	FLOW_L4,   /* ev */
	FLOW_HTTP, /* http */
	FLOW_REQUEST, /* req */
};

struct flow_rec {
	uint64_t seq;	      /* 1, 2, ... in arrival order */
	uint64_t realtime_ns; /* the event's time on CLOCK_REALTIME */
	enum flow_kind kind;
	union {
		struct sl_pol_event ev;
		struct sl_l7_event http;
		struct sl_http_event req;
	};
};

struct flows;

/*
 * Starts reading ringbuf_fd (sluice_events) and, those of the others that are not negative,
 * http_ringbuf_fd (sluice_l7_events) and req_ringbuf_fd (sluice_http_events), into a buffer of
 * capacity records.
 */
int flows_new(int ringbuf_fd, int http_ringbuf_fd, int req_ringbuf_fd, size_t capacity,
	      struct flows **ret_flows) __attribute__((warn_unused_result));
/*
 * fn(ctx, rec) sees each request record as it arrives (on the reading thread, before readers
 * can), for what must not miss one that the bounded buffer would drop (spans).
 */
void flows_set_request_sink(struct flows *f, void (*fn)(void *ctx, const struct flow_rec *r),
			    void *ctx);
/* fn(ctx) runs on the reading thread after every drain (every 100 ms); before it, nothing. */
void flows_set_tick(struct flows *f, void (*fn)(void *ctx), void *ctx);
/* Stops the thread and frees; NULL does nothing. */
void flows_free(struct flows *f);

/*
 * Copies up to max records with seq > since into out (oldest first) and returns how many.
 * *ret_next is the sequence number to ask after next time, *ret_dropped how many records
 * after since were already overwritten.
 */
size_t flows_read(struct flows *f, uint64_t since, struct flow_rec *out, size_t max,
		  uint64_t *ret_next, uint64_t *ret_dropped);

#endif
