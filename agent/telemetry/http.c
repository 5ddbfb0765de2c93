// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/telemetry/http.h"
#include "agent/telemetry/mapwalk.h"
#include "sl_abi.h"

#define N_VALS	   (sizeof(struct sl_http_sval) / sizeof(__u64))
#define LABELS_MAX 1024
#define V(f)	   (offsetof(struct sl_http_sval, f) / sizeof(__u64))

static const char *const method_names[SL_HTTP_METHOD_MAX] = {
	[SL_HTTP_GET] = "GET",	       [SL_HTTP_HEAD] = "HEAD",	    [SL_HTTP_POST] = "POST",
	[SL_HTTP_PUT] = "PUT",	       [SL_HTTP_DELETE] = "DELETE", [SL_HTTP_CONNECT] = "CONNECT",
	[SL_HTTP_OPTIONS] = "OPTIONS", [SL_HTTP_TRACE] = "TRACE",   [SL_HTTP_PATCH] = "PATCH",
	[SL_HTTP_OTHER] = "_OTHER",
};

const char *tel_http_method_name(unsigned int m)
{
	return m < SL_HTTP_METHOD_MAX && method_names[m] ? method_names[m] : "_OTHER";
}

struct tel_http {
	unsigned int mask;
	struct tel_series *srv, *cli;
};

int tel_http_new(unsigned int label_mask, unsigned int series_limit, struct tel_http **ret)
{
	struct tel_http *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->mask = label_mask;
	r = tel_series_new(N_VALS, series_limit, &t->srv);
	if (r == 0)
		r = tel_series_new(N_VALS, series_limit, &t->cli);
	if (r < 0) {
		tel_http_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

void tel_http_free(struct tel_http *t)
{
	if (!t)
		return;
	tel_series_free(t->srv);
	tel_series_free(t->cli);
	free(t);
}

struct walk {
	struct tel_http *t;
	const struct tel_names *n;
};

/* The label set of one aggregate; false when it has no local pod (its pod went). */
static bool stat_labels(const struct tel_http *t, const struct tel_names *n,
			const struct sl_http_skey *k, char *buf, size_t len)
{
	const struct tel_pod *lp = tel_pod_of(n, k->family, k->local), *pp;
	const struct tel_svc *sv;
	const char *v[TEL_LABEL_MAX] = { NULL };
	char port[8], status[8], peer[48];
	bool ok = true, server = k->role == SL_L4_SERVER;
	int l;

	if (!lp || !lp->local)
		return false;
	pp = tel_pod_of(n, k->family, k->peer);
	/* the Service the server pod backs, or the one whose backend the client reached */
	sv = tel_backend_of(n, k->family, server ? k->local : k->peer, k->port);
	snprintf(port, sizeof(port), "%u", k->port);
	snprintf(status, sizeof(status), "%u", k->status);
	tel_addr_text(k->family, k->peer, peer, sizeof(peer));
	v[TEL_HTTP_METHOD] = method_names[k->method < SL_HTTP_METHOD_MAX ? k->method : SL_HTTP_OTHER];
	v[TEL_HTTP_STATUS] = status;
	/* OpenTelemetry: a server fails on 5xx, a client on 4xx and 5xx */
	v[TEL_ERROR_TYPE] = k->status >= (server ? 500 : 400) ? status : NULL;
	v[TEL_NAMESPACE] = lp->ns;
	v[TEL_POD] = lp->name;
	v[TEL_SERVER_PORT] = port;
	v[TEL_SERVICE] = sv ? sv->name : NULL;
	v[TEL_SERVICE_NS] = sv ? sv->ns : NULL;
	v[TEL_PEER_NAMESPACE] = pp ? pp->ns : NULL;
	v[TEL_PEER_POD] = pp ? pp->name : NULL;
	v[TEL_PEER_ADDRESS] = peer;
	buf[0] = '\0';
	for (l = 0; l < TEL_LABEL_MAX; l++)
		if (t->mask & (1u << l))
			ok = ok && tel_label_append(buf, len, tel_label_name(l), v[l]);
	return ok;
}

static int stat_row(void *ctx, const void *key, const uint64_t *sum, bool *ret_delete)
{
	const struct sl_http_skey *k = key;
	struct walk *w = ctx;
	char labels[LABELS_MAX];

	if (!stat_labels(w->t, w->n, k, labels, sizeof(labels))) {
		*ret_delete = true;
		return 0;
	}
	return tel_series_add(k->role == SL_L4_SERVER ? w->t->srv : w->t->cli, labels, sum);
}

static const __u32 http_bounds_us[] = { SL_HTTP_BOUNDS_US }, gap_bounds_us[] = { SL_GAP_BOUNDS_US };
static double http_bounds_s[SL_HTTP_BUCKETS - 1], gap_bounds_s[SL_HTTP_BUCKETS - 1];

#define FAMS 7
#define HIST(p, o, h, f, sum, bounds, when)                                                     \
	{ p, o, "s", h, TEL_HIST, V(f), V(sum), 1e-9, bounds, SL_HTTP_BUCKETS - 1, when }
#define COUNTER(p, o, u, h, f) { p, o, u, h, TEL_COUNTER, V(f), 0, 0, NULL, 0, -1 }
/* [0] the server side, [1] the client side */
static const struct tel_family http_fams[2][FAMS] = {
#define SIDE(s, S)                                                                                \
	{                                                                                         \
		HIST("http_" s "_request_duration_seconds", "http." s ".request.duration",           \
		     "Duration of HTTP " S " requests: the request's first byte to the response's "  \
		     "last, as the pod's veth saw them.",                                            \
		     dur, dur_sum_ns, http_bounds_s, -1),                                            \
		HIST("sluice_http_" s "_time_to_first_byte_seconds",                                 \
		     "sluice.http." s ".time_to_first_byte",                                         \
		     "HTTP " S " requests: the request's first byte to the response's first.", ttfb, \
		     ttfb_sum_ns, http_bounds_s, -1),                                                \
		COUNTER("sluice_http_" s "_request_bytes_total", "sluice.http." s ".request.size",   \
			"By", "Bytes of HTTP " S " requests, head and body.", req_bytes),            \
		COUNTER("sluice_http_" s "_response_bytes_total", "sluice.http." s ".response.size", \
			"By", "Bytes of HTTP " S " responses, head and body.", resp_bytes),          \
		COUNTER("sluice_http_" s "_streamed_responses_total",                                \
			"sluice.http." s ".streamed_responses", "{response}",                       \
			"HTTP " S " responses sent in chunks (Transfer-Encoding: chunked).", streams), \
		HIST("sluice_http_" s "_time_to_first_chunk_seconds",                                \
		     "sluice.http." s ".time_to_first_chunk",                                        \
		     "Chunked HTTP " S " responses: the request's first byte to the first chunk's "  \
		     "(time to first token).",                                                       \
		     ttfc, ttfc_sum_ns, http_bounds_s, V(streams)),                                  \
		HIST("sluice_http_" s "_chunk_gap_seconds", "sluice.http." s ".chunk_gap",           \
		     "Chunked HTTP " S " responses: time between consecutive chunks (inter-token "   \
		     "latency).",                                                                    \
		     gap, gap_sum_ns, gap_bounds_s, V(gaps)),                                        \
	}
	SIDE("server", "server"),
	SIDE("client", "client"),
#undef SIDE
};
#undef HIST
#undef COUNTER

int tel_http_collect(struct tel_http *t, int stats_fd, const struct tel_names *n)
{
	size_t i;
	int r;

	_Static_assert(sizeof(http_bounds_us) / sizeof(http_bounds_us[0]) == SL_HTTP_BUCKETS - 1,
		       "HTTP bounds");
	_Static_assert(sizeof(gap_bounds_us) / sizeof(gap_bounds_us[0]) == SL_HTTP_BUCKETS - 1,
		       "gap bounds");
	if (stats_fd < 0)
		return stats_fd;
	for (i = 0; i < SL_HTTP_BUCKETS - 1; i++) {
		http_bounds_s[i] = http_bounds_us[i] / 1e6;
		gap_bounds_s[i] = gap_bounds_us[i] / 1e6;
	}
	tel_series_begin(t->srv);
	tel_series_begin(t->cli);
	r = tel_map_walk(stats_fd, sizeof(struct sl_http_skey), N_VALS, stat_row,
			 &(struct walk){ t, n });
	if (r == 0)
		r = tel_series_end(t->srv);
	if (r == 0)
		r = tel_series_end(t->cli);
	return r < 0 ? r : (int)(tel_series_count(t->srv) + tel_series_count(t->cli));
}

void tel_http_prom(const struct tel_http *t, FILE *f)
{
	size_t i, s;

	for (s = 0; s < 2; s++)
		for (i = 0; i < FAMS; i++)
			tel_family_prom(f, s ? t->cli : t->srv, &http_fams[s][i]);
}

int tel_http_otlp(const struct tel_http *t, cJSON *metrics, uint64_t start_ns, uint64_t now_ns)
{
	size_t i, s;
	int r = 0;

	for (s = 0; s < 2; s++)
		for (i = 0; i < FAMS && !r; i++)
			r = tel_family_otlp(metrics, s ? t->cli : t->srv, &http_fams[s][i], start_ns,
					    now_ns);
	return r;
}

const struct tel_series *tel_http_series(const struct tel_http *t, bool server)
{
	return server ? t->srv : t->cli;
}

void tel_http_forget(int stats_fd, const char *ip)
{
	tel_map_forget(stats_fd, sizeof(struct sl_http_skey), offsetof(struct sl_http_skey, family),
		       ip);
}
