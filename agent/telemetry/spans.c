// SPDX-License-Identifier: Apache-2.0
#include "agent/telemetry/spans.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>

#include "agent/telemetry/http.h"
#include "agent/telemetry/reqev.h"

struct span {
	struct sl_http_event e;
	struct reqev_trace t;
	uint8_t span_id[8];
	uint64_t end_ns;
};

struct spans {
	pthread_mutex_t lock;
	struct span *q; /* ring of max */
	size_t max, head, n;
	uint64_t taken, dropped;
};

int spans_new(size_t max, struct spans **ret)
{
	struct spans *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->max = max ? max : SPANS_DEFAULT_MAX;
	s->q = calloc(s->max, sizeof(*s->q));
	if (!s->q) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	*ret = s;
	return 0;
}

void spans_free(struct spans *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->q);
	free(s);
}

/* A span id: random, never all zeros (invalid in W3C Trace Context). */
static void new_span_id(uint8_t id[8])
{
	static const uint8_t zero[8];

	do {
		if (getrandom(id, 8, 0) != 8) {
			uint64_t x = (uint64_t)random() << 32 ^ (uint64_t)random();

			memcpy(id, &x, 8);
		}
	} while (!memcmp(id, zero, 8));
}

bool spans_add(struct spans *s, const struct sl_http_event *e, uint64_t realtime_end_ns)
{
	struct span sp;

	if (!reqev_trace(e, &sp.t))
		return false;
	sp.e = *e;
	sp.end_ns = realtime_end_ns;
	new_span_id(sp.span_id);
	pthread_mutex_lock(&s->lock);
	if (s->n == s->max) {
		s->head = (s->head + 1) % s->max;
		s->n--;
		s->dropped++;
	}
	s->q[(s->head + s->n) % s->max] = sp;
	s->n++;
	pthread_mutex_unlock(&s->lock);
	return true;
}

static void attr_str(cJSON *attrs, const char *k, const char *v)
{
	cJSON *kv = cJSON_CreateObject();

	cJSON_AddStringToObject(kv, "key", k);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(kv, "value"), "stringValue", v);
	cJSON_AddItemToArray(attrs, kv);
}

static void attr_int(cJSON *attrs, const char *k, long long v)
{
	cJSON *kv = cJSON_CreateObject();
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	cJSON_AddStringToObject(kv, "key", k);
	/* OTLP/JSON: 64-bit integers are strings */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(kv, "value"), "intValue", buf);
	cJSON_AddItemToArray(attrs, kv);
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	cJSON_AddStringToObject(o, k, buf);
}

static cJSON *span_json(const struct span *sp)
{
	const struct sl_http_event *e = &sp->e;
	bool server = e->role == SL_L4_SERVER, trunc;
	cJSON *o = cJSON_CreateObject(), *attrs;
	char hex[33], path[SL_HT_EV_PATH + 1], ip[INET6_ADDRSTRLEN];
	const char *m = tel_http_method_name(e->method);

	reqev_hex(sp->t.trace_id, 16, hex);
	cJSON_AddStringToObject(o, "traceId", hex);
	reqev_hex(sp->span_id, 8, hex);
	cJSON_AddStringToObject(o, "spanId", hex);
	reqev_hex(sp->t.parent_id, 8, hex);
	cJSON_AddStringToObject(o, "parentSpanId", hex);
	cJSON_AddNumberToObject(o, "flags", sp->t.flags);
	/* semantic conventions: "{method}" when no low-cardinality route is known */
	cJSON_AddStringToObject(o, "name", e->method == SL_HTTP_OTHER ? "HTTP" : m);
	cJSON_AddNumberToObject(o, "kind", server ? 2 : 3); /* SPAN_KIND_SERVER, _CLIENT */
	add_u64(o, "startTimeUnixNano", sp->end_ns - e->dur_ns);
	add_u64(o, "endTimeUnixNano", sp->end_ns);
	attrs = cJSON_AddArrayToObject(o, "attributes");
	attr_str(attrs, "http.request.method", m);
	reqev_path(e, path, sizeof(path), &trunc);
	attr_str(attrs, "url.path", path);
	if (e->status)
		attr_int(attrs, "http.response.status_code", e->status);
	inet_ntop(e->family == SL_AF_INET ? AF_INET : AF_INET6, e->peer, ip, sizeof(ip));
	attr_str(attrs, "network.peer.address", ip);
	attr_int(attrs, "network.peer.port", e->pport);
	attr_str(attrs, "network.protocol.name", "http");
	attr_int(attrs, "server.port", server ? e->lport : e->pport);
	if (server)
		attr_str(attrs, "client.address", ip);
	else
		attr_str(attrs, "server.address", ip);
	attr_int(attrs, "sluice.time_to_first_byte_ns", (long long)e->ttfb_ns);
	/* span status: a server's 5xx, a client's 4xx or 5xx, or no response at all */
	if (!e->status || e->status >= 500 || (!server && e->status >= 400)) {
		cJSON *st = cJSON_AddObjectToObject(o, "status");
		char code[8];

		cJSON_AddNumberToObject(st, "code", 2); /* STATUS_CODE_ERROR */
		if (e->status) {
			snprintf(code, sizeof(code), "%u", e->status);
			attr_str(attrs, "error.type", code);
		}
	}
	return o;
}

/* The resource's spans array of the pod at addr, created on first use. */
static cJSON *resource_spans(cJSON *rs, const struct spans_who *w, const char *ip)
{
	char key[600];
	cJSON *it, *res, *attrs, *ss, *scope;

	snprintf(key, sizeof(key), "%s/%s", w->ns ? w->ns : "", w->pod ? w->pod : ip);
	cJSON_ArrayForEach(it, rs) {
		cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "_key");

		if (k && !strcmp(cJSON_GetStringValue(k), key))
			return cJSON_GetObjectItemCaseSensitive(
				cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "scopeSpans"), 0),
				"spans");
	}
	it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "_key", key); /* removed before printing */
	res = cJSON_AddObjectToObject(it, "resource");
	attrs = cJSON_AddArrayToObject(res, "attributes");
	attr_str(attrs, "service.name", w->service ? w->service : w->pod ? w->pod : ip);
	if (w->ns)
		attr_str(attrs, "k8s.namespace.name", w->ns);
	if (w->pod)
		attr_str(attrs, "k8s.pod.name", w->pod);
	attr_str(attrs, "telemetry.sdk.name", "sluice");
	ss = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(it, "scopeSpans"), ss);
	scope = cJSON_AddObjectToObject(ss, "scope");
	cJSON_AddStringToObject(scope, "name", "sluice");
	cJSON_AddStringToObject(scope, "version", SLUICE_VERSION);
	cJSON_AddItemToArray(rs, it);
	return cJSON_AddArrayToObject(ss, "spans");
}

char *spans_take_otlp(struct spans *s, spans_namer name, void *ctx)
{
	struct span *batch;
	cJSON *req, *rs, *it;
	char *body = NULL;
	size_t n, i;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	batch = n ? malloc(n * sizeof(*batch)) : NULL;
	if (batch) {
		for (i = 0; i < n; i++)
			batch[i] = s->q[(s->head + i) % s->max];
		s->head = (s->head + n) % s->max;
		s->n = 0;
		s->taken += n;
	}
	pthread_mutex_unlock(&s->lock);
	if (!batch)
		return NULL;
	req = cJSON_CreateObject();
	rs = cJSON_AddArrayToObject(req, "resourceSpans");
	for (i = 0; i < n; i++) {
		struct spans_who w = { 0 };
		char ip[INET6_ADDRSTRLEN];

		inet_ntop(batch[i].e.family == SL_AF_INET ? AF_INET : AF_INET6, batch[i].e.local, ip,
			  sizeof(ip));
		name(ctx, batch[i].e.local, batch[i].e.family, &w);
		cJSON_AddItemToArray(resource_spans(rs, &w, ip), span_json(&batch[i]));
	}
	cJSON_ArrayForEach(it, rs)
		cJSON_DeleteItemFromObjectCaseSensitive(it, "_key");
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	free(batch);
	return body;
}

void spans_stats_get(struct spans *s, struct spans_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->queued = s->n;
	st->taken = s->taken;
	st->dropped = s->dropped;
	pthread_mutex_unlock(&s->lock);
}
