// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent/telemetry/otlp.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct body {
	char *text;
	enum otlp_signal sig;
};

struct otlp {
	struct otlp_cfg cfg;
	char url[OTLP_SIGNALS][512];
	char *(*build)(void *ctx, enum otlp_signal sig);
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct body *q; /* ring of queue_max bodies; only the thread queues and dequeues */
	size_t qh, qn;
	struct otlp_stats st;
};

static void deadline_after(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	return a->tv_nsec < b->tv_nsec ? -1 : a->tv_nsec > b->tv_nsec;
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* One POST. Returns 0 (taken), -EAGAIN (try again later) or -EINVAL (refused for good). */
static int post(struct otlp *o, CURL *c, const struct body *b)
{
	const char *body = b->text, *url = o->url[b->sig];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	long code = 0;
	CURLcode cr;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->cfg.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->cfg.timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cr = curl_easy_perform(c);
	if (cr == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	if (cr != CURLE_OK) {
		log_debug("otlp", "export failed", "url=%s err=\"%s\"", url, curl_easy_strerror(cr));
		return -EAGAIN;
	}
	if (code >= 200 && code < 300)
		return 0;
	if (code == 429 || code >= 500)
		return -EAGAIN;
	log_warn("otlp", "collector refused an export, dropped", "url=%s status=%ld", url, code);
	return -EINVAL;
}

/* Queues a body; the oldest goes when the queue is full. Caller holds o->lock. */
static void enqueue(struct otlp *o, char *body, enum otlp_signal sig)
{
	size_t tail;

	if (o->qn == o->cfg.queue_max) {
		o->st.queued_bytes -= strlen(o->q[o->qh].text);
		free(o->q[o->qh].text);
		o->qh = (o->qh + 1) % o->cfg.queue_max;
		o->qn--;
		o->st.dropped++;
	}
	tail = (o->qh + o->qn) % o->cfg.queue_max;
	o->q[tail].text = body;
	o->q[tail].sig = sig;
	o->qn++;
	o->st.queued_bytes += strlen(body);
}

static void *run(void *arg)
{
	struct otlp *o = arg;
	struct timespec next_build, next_try, now, *wake;
	unsigned int backoff = 0;
	CURL *c = curl_easy_init();
	struct body head;
	char *body;
	int r, sig;

	if (!c) {
		log_err("otlp", "libcurl init failed: no OTLP export", "url=%s", o->url[0]);
		return NULL;
	}
	deadline_after(&next_build, o->cfg.interval_ms);
	clock_gettime(CLOCK_MONOTONIC, &next_try);
	pthread_mutex_lock(&o->lock);
	while (!o->stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ts_cmp(&now, &next_build) >= 0) {
			for (sig = 0; sig < OTLP_SIGNALS; sig++) {
				pthread_mutex_unlock(&o->lock);
				body = o->build(o->ctx, sig); /* takes the agent's lock, not ours */
				pthread_mutex_lock(&o->lock);
				if (body)
					enqueue(o, body, sig);
			}
			deadline_after(&next_build, o->cfg.interval_ms);
		}
		if (o->qn && ts_cmp(&now, &next_try) >= 0) {
			head = o->q[o->qh];
			body = head.text;
			pthread_mutex_unlock(&o->lock);
			r = post(o, c, &head);
			pthread_mutex_lock(&o->lock);
			if (r == -EAGAIN) {
				o->st.failed++;
				backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
				if (backoff > BACKOFF_MAX_MS)
					backoff = BACKOFF_MAX_MS;
				deadline_after(&next_try, backoff);
			} else { /* only this thread queues: the head is still body */
				o->st.queued_bytes -= strlen(body);
				free(body);
				o->qh = (o->qh + 1) % o->cfg.queue_max;
				o->qn--;
				if (r == 0)
					o->st.sent++;
				else
					o->st.dropped++;
				backoff = 0;
			}
			continue;
		}
		wake = o->qn && ts_cmp(&next_try, &next_build) < 0 ? &next_try : &next_build;
		pthread_cond_timedwait(&o->cond, &o->lock, wake);
	}
	pthread_mutex_unlock(&o->lock);
	curl_easy_cleanup(c);
	return NULL;
}

int otlp_new(const struct otlp_cfg *cfg, char *(*build)(void *ctx, enum otlp_signal sig),
	     void *ctx, struct otlp **ret)
{
	pthread_condattr_t ca;
	struct otlp *o;
	size_t n;
	int r;

	if (!cfg->endpoint || !*cfg->endpoint || !cfg->interval_ms || !cfg->queue_max)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->cfg = *cfg;
	o->build = build;
	o->ctx = ctx;
	n = strlen(cfg->endpoint);
	while (n && cfg->endpoint[n - 1] == '/')
		n--;
	if (n + sizeof("/v1/metrics") > sizeof(o->url[0])) {
		free(o);
		return -ENAMETOOLONG;
	}
	snprintf(o->url[OTLP_METRICS], sizeof(o->url[0]), "%.*s/v1/metrics", (int)n, cfg->endpoint);
	snprintf(o->url[OTLP_TRACES], sizeof(o->url[0]), "%.*s/v1/traces", (int)n, cfg->endpoint);
	o->q = calloc(cfg->queue_max, sizeof(*o->q));
	if (!o->q) {
		free(o);
		return -ENOMEM;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&o->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = -pthread_create(&o->thread, NULL, run, o);
	if (r < 0) {
		free(o->q);
		free(o);
		return r;
	}
	*ret = o;
	return 0;
}

void otlp_free(struct otlp *o)
{
	size_t i;

	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	for (i = 0; i < o->qn; i++)
		free(o->q[(o->qh + i) % o->cfg.queue_max].text);
	free(o->q);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	free(o);
}

void otlp_stats_get(struct otlp *o, struct otlp_stats *st)
{
	pthread_mutex_lock(&o->lock);
	*st = o->st;
	st->queued = o->qn;
	pthread_mutex_unlock(&o->lock);
}
