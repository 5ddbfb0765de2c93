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

static void families(FILE *f, const struct tel_series *s, const char *side)
{
	static const __u32 bus[] = { SL_HTTP_BOUNDS_US }, gus[] = { SL_GAP_BOUNDS_US };
	double b[SL_HTTP_BUCKETS - 1], g[SL_HTTP_BUCKETS - 1];
	char name[96], help[256];
	size_t i;

	_Static_assert(sizeof(bus) / sizeof(bus[0]) == SL_HTTP_BUCKETS - 1, "HTTP bounds");
	_Static_assert(sizeof(gus) / sizeof(gus[0]) == SL_HTTP_BUCKETS - 1, "gap bounds");
	for (i = 0; i < SL_HTTP_BUCKETS - 1; i++) {
		b[i] = bus[i] / 1e6;
		g[i] = gus[i] / 1e6;
	}
#define NAME(fmt) (snprintf(name, sizeof(name), fmt, side), name)
#define HELP(fmt) (snprintf(help, sizeof(help), fmt, side), help)
	tel_series_write_hist(f, s, NAME("http_%s_request_duration_seconds"),
			      HELP("Duration of HTTP %s requests: the request's first byte to the "
				   "response's last, as the pod's veth saw them."),
			      V(dur), b, SL_HTTP_BUCKETS - 1, V(dur_sum_ns), 1e-9);
	tel_series_write_hist(f, s, NAME("sluice_http_%s_time_to_first_byte_seconds"),
			      HELP("HTTP %s requests: the request's first byte to the response's "
				   "first."),
			      V(ttfb), b, SL_HTTP_BUCKETS - 1, V(ttfb_sum_ns), 1e-9);
	tel_series_write(f, s, NAME("sluice_http_%s_request_bytes_total"), "counter",
			 HELP("Bytes of HTTP %s requests, head and body."), V(req_bytes));
	tel_series_write(f, s, NAME("sluice_http_%s_response_bytes_total"), "counter",
			 HELP("Bytes of HTTP %s responses, head and body."), V(resp_bytes));
	tel_series_write(f, s, NAME("sluice_http_%s_streamed_responses_total"), "counter",
			 HELP("HTTP %s responses sent in chunks (Transfer-Encoding: chunked)."),
			 V(streams));
	/* only the series that streamed: most never do */
	tel_series_write_hist_when(f, s, NAME("sluice_http_%s_time_to_first_chunk_seconds"),
				   HELP("Chunked HTTP %s responses: the request's first byte to "
					"the first chunk's (time to first token)."),
				   V(ttfc), b, SL_HTTP_BUCKETS - 1, V(ttfc_sum_ns), 1e-9, V(streams));
	tel_series_write_hist_when(f, s, NAME("sluice_http_%s_chunk_gap_seconds"),
				   HELP("Chunked HTTP %s responses: time between consecutive chunks "
					"(inter-token latency)."),
				   V(gap), g, SL_HTTP_BUCKETS - 1, V(gap_sum_ns), 1e-9, V(gaps));
#undef NAME
#undef HELP
}

int tel_http_write(struct tel_http *t, int stats_fd, const struct tel_names *n, FILE *f)
{
	int r;

	if (stats_fd < 0)
		return stats_fd;
	tel_series_begin(t->srv);
	tel_series_begin(t->cli);
	r = tel_map_walk(stats_fd, sizeof(struct sl_http_skey), N_VALS, stat_row,
			 &(struct walk){ t, n });
	if (r == 0)
		r = tel_series_end(t->srv);
	if (r == 0)
		r = tel_series_end(t->cli);
	if (r < 0)
		return r;
	families(f, t->srv, "server");
	families(f, t->cli, "client");
	return (int)(tel_series_count(t->srv) + tel_series_count(t->cli));
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
