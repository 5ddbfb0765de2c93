/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy flow events from the datapath's ring buffer (sluice_events), kept in memory for
 * `sluice observe`: a thread drains the ring every 100 ms and appends each record, numbered, to a bounded
 * buffer that drops the oldest when full. Readers ask for everything after a sequence number.
 */
#ifndef SL_AGENT_FLOWS_H
#define SL_AGENT_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "sl_abi.h"

struct flow_rec {
	uint64_t seq;	      /* 1, 2, ... in arrival order */
	uint64_t realtime_ns; /* the event's time on CLOCK_REALTIME */
	struct sl_pol_event ev;
};

struct flows;

/* Starts reading ringbuf_fd (a BPF ring buffer map) into a buffer of capacity records. */
int flows_new(int ringbuf_fd, size_t capacity, struct flows **ret_flows)
	__attribute__((warn_unused_result));
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
