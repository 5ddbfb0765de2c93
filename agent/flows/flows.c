// SPDX-License-Identifier: Apache-2.0
#include "agent/flows/flows.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#define POLL_MS 100

struct flows {
	struct ring_buffer *rb;
	pthread_t thread;
	pthread_mutex_t lock;
	atomic_bool stop;
	struct flow_rec *buf;
	size_t cap;
	uint64_t last; /* seq of the newest record, 0 for none */
	int64_t mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	void (*_Atomic tick)(void *ctx);
	void *_Atomic tick_ctx;
	void (*_Atomic sink)(void *ctx, const struct flow_rec *r);
	void *_Atomic sink_ctx;
};

static int64_t ts_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void push(struct flows *f, enum flow_kind kind, const void *data, size_t len,
		 uint64_t ts_ns)
{
	void (*sink)(void *, const struct flow_rec *) = atomic_load(&f->sink);
	struct flow_rec *r;

	pthread_mutex_lock(&f->lock);
	f->last++;
	r = &f->buf[(f->last - 1) % f->cap];
	r->seq = f->last;
	r->kind = kind;
	memcpy(kind == FLOW_HTTP ? (void *)&r->http :
	       kind == FLOW_REQUEST ? (void *)&r->req : (void *)&r->ev, data, len);
	r->realtime_ns = (uint64_t)((int64_t)ts_ns + f->mono_to_real);
	if (kind == FLOW_REQUEST && sink)
		sink(atomic_load(&f->sink_ctx), r);
	pthread_mutex_unlock(&f->lock);
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct sl_pol_event *e = data;

	if (len >= sizeof(*e))
		push(ctx, FLOW_L4, e, sizeof(*e), e->ts_ns);
	return 0;
}

static int on_http_event(void *ctx, void *data, size_t len)
{
	const struct sl_l7_event *e = data;

	if (len >= sizeof(*e))
		push(ctx, FLOW_HTTP, e, sizeof(*e), e->ts_ns);
	return 0;
}

static int on_req_event(void *ctx, void *data, size_t len)
{
	const struct sl_http_event *e = data;

	if (len >= sizeof(*e))
		push(ctx, FLOW_REQUEST, e, sizeof(*e), e->ts_ns);
	return 0;
}

static void *run(void *arg)
{
	struct flows *f = arg;

	struct timespec nap = { .tv_nsec = POLL_MS * 1000000L };

	/* the programs submit without waking anyone (events.h): drain on a timer */
	while (!atomic_load(&f->stop)) {
		f->mono_to_real = ts_ns(CLOCK_REALTIME) - ts_ns(CLOCK_MONOTONIC);
		void (*tick)(void *) = atomic_load(&f->tick);

		if (ring_buffer__consume(f->rb) < 0 && errno != EINTR)
			break;
		if (tick)
			tick(atomic_load(&f->tick_ctx));
		nanosleep(&nap, NULL);
	}
	return NULL;
}

int flows_new(int ringbuf_fd, int http_ringbuf_fd, int req_ringbuf_fd, size_t capacity,
	      struct flows **ret_flows)
{
	struct flows *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->cap = capacity ? capacity : 1;
	f->buf = calloc(f->cap, sizeof(*f->buf));
	if (!f->buf) {
		r = -ENOMEM;
		goto err_free;
	}
	pthread_mutex_init(&f->lock, NULL);
	f->mono_to_real = ts_ns(CLOCK_REALTIME) - ts_ns(CLOCK_MONOTONIC);
	f->rb = ring_buffer__new(ringbuf_fd, on_event, f, NULL);
	if (!f->rb) {
		r = -errno;
		goto err_mutex;
	}
	if (http_ringbuf_fd >= 0 && ring_buffer__add(f->rb, http_ringbuf_fd, on_http_event, f) < 0) {
		r = -errno;
		goto err_rb;
	}
	if (req_ringbuf_fd >= 0 && ring_buffer__add(f->rb, req_ringbuf_fd, on_req_event, f) < 0) {
		r = -errno;
		goto err_rb;
	}
	r = -pthread_create(&f->thread, NULL, run, f);
	if (r < 0)
		goto err_rb;
	*ret_flows = f;
	return 0;
err_rb:
	ring_buffer__free(f->rb);
err_mutex:
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
err_free:
	free(f);
	return r;
}

void flows_set_tick(struct flows *f, void (*fn)(void *ctx), void *ctx)
{
	atomic_store(&f->tick_ctx, ctx);
	atomic_store(&f->tick, fn);
}

void flows_set_request_sink(struct flows *f, void (*fn)(void *ctx, const struct flow_rec *r),
			    void *ctx)
{
	atomic_store(&f->sink_ctx, ctx);
	atomic_store(&f->sink, fn);
}

void flows_free(struct flows *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	ring_buffer__free(f->rb);
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
	free(f);
}

size_t flows_read(struct flows *f, uint64_t since, struct flow_rec *out, size_t max,
		  uint64_t *ret_next, uint64_t *ret_dropped)
{
	uint64_t first, s;
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	first = f->last >= f->cap ? f->last - f->cap + 1 : 1;
	*ret_dropped = since + 1 < first ? first - since - 1 : 0;
	s = since + 1 < first ? first : since + 1;
	for (; s <= f->last && n < max; s++)
		out[n++] = f->buf[(s - 1) % f->cap];
	*ret_next = n ? out[n - 1].seq : (since > f->last ? f->last : since);
	pthread_mutex_unlock(&f->lock);
	return n;
}
