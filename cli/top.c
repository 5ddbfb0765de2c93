// SPDX-License-Identifier: Apache-2.0
#include "cli/top.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "apiclient.h"
#include "jsonget.h"

#define TIMEOUT_MS  5000
#define MAX_GROUPS  4096
#define MAX_BUCKETS 32

struct group {
	char key[320];	 /* namespace/service, or namespace/pod/NAME without one */
	double count, errors;
	double b[MAX_BUCKETS];
};

struct sample {
	double t_ns;
	double bounds[MAX_BUCKETS];
	size_t n_bounds;
	struct group *g;
	size_t n;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice top [--interval SECONDS] [--client] [-n NS] [--iterations N]\n"
		"\n"
		"A live table of HTTP traffic per Service, from the agent's in-kernel telemetry:\n"
		"requests per second, the share of errors (5xx as a server sees them, 4xx and 5xx\n"
		"as a client does), and p50 and p99 latency (the request's first byte to the\n"
		"response's last, interpolated within the histogram's buckets), over the last\n"
		"interval. Traffic of pods no Service selects is shown per pod.\n"
		"\n"
		"Options:\n"
		"  --interval S        seconds between refreshes (default 2)\n"
		"  --client            as the clients see it (default: as the servers do)\n"
		"  -n, --namespace NS  only this namespace\n"
		"  --iterations N      print N tables, then exit (default: until interrupted)\n"
		"  -h, --help          show this help\n");
}

static struct group *group_of(struct sample *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->g[i].key, key))
			return &s->g[i];
	if (s->n == MAX_GROUPS)
		return NULL;
	memset(&s->g[s->n], 0, sizeof(s->g[0]));
	snprintf(s->g[s->n].key, sizeof(s->g[0].key), "%s", key);
	return &s->g[s->n++];
}

/* One /v1/telemetry answer, summed per group. Returns 0, or 1 with the error printed. */
static int fetch(const char *sock, bool client, const char *ns, struct sample *s)
{
	const cJSON *it, *l, *b;
	struct api_resp resp = { 0 };
	char err[256], key[320];
	cJSON *doc;
	struct group *g;
	const char *svc, *pns;
	int k;

	s->n = 0;
	if (api_call(sock, "GET", "/v1/telemetry", NULL, 0, TIMEOUT_MS, &resp, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	doc = cJSON_Parse(resp.body);
	if (resp.status != 200 || !doc) {
		fprintf(stderr, "error: /v1/telemetry: %s\n",
			jstr(doc, "error") ?: (resp.body ? resp.body : "no answer"));
		cJSON_Delete(doc);
		api_resp_free(&resp);
		return 1;
	}
	s->t_ns = cJSON_GetNumberValue(jget(doc, "time_ns"));
	s->n_bounds = 0;
	cJSON_ArrayForEach(it, jget(doc, "bounds"))
		if (s->n_bounds < MAX_BUCKETS - 1)
			s->bounds[s->n_bounds++] = cJSON_GetNumberValue(it);
	cJSON_ArrayForEach(it, jget(doc, "http")) {
		if (strcmp(jstr(it, "side") ?: "", client ? "client" : "server"))
			continue;
		l = jget(it, "labels");
		pns = jstr(l, client ? "service_namespace" : "k8s_namespace_name");
		svc = jstr(l, "service_name");
		if (!pns)
			pns = jstr(l, "k8s_namespace_name") ?: "-";
		if (ns && strcmp(ns, pns))
			continue;
		if (svc)
			snprintf(key, sizeof(key), "%s/%s", pns, svc);
		else if (jstr(l, "otel_metric_overflow"))
			snprintf(key, sizeof(key), "-/(over the series limit)");
		else
			snprintf(key, sizeof(key), "%s/pod/%s", pns, jstr(l, "k8s_pod_name") ?: "?");
		g = group_of(s, key);
		if (!g)
			continue;
		g->count += cJSON_GetNumberValue(jget(it, "count"));
		g->errors += cJSON_GetNumberValue(jget(it, "errors"));
		k = 0;
		cJSON_ArrayForEach(b, jget(it, "buckets"))
			if (k < MAX_BUCKETS)
				g->b[k++] += cJSON_GetNumberValue(b);
	}
	cJSON_Delete(doc);
	api_resp_free(&resp);
	return 0;
}

/* The q quantile (0..1) of a histogram of bucket counts b, interpolated within its bucket. */
static double quantile(const double *b, const double *bounds, size_t n_bounds, double q)
{
	double total = 0, want, cum = 0, lo, hi;
	size_t i;

	for (i = 0; i <= n_bounds; i++)
		total += b[i];
	if (total <= 0)
		return -1;
	want = q * total;
	for (i = 0; i <= n_bounds; i++) {
		if (cum + b[i] >= want && b[i] > 0) {
			lo = i ? bounds[i - 1] : 0;
			hi = i < n_bounds ? bounds[i] : bounds[n_bounds - 1];
			return i < n_bounds ? lo + (hi - lo) * (want - cum) / b[i] : hi;
		}
		cum += b[i];
	}
	return bounds[n_bounds - 1];
}

static void fmt_s(char *buf, size_t len, double s, bool over)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "%s%.1fms", over ? ">" : "", s * 1e3);
	else
		snprintf(buf, len, "%s%.2fs", over ? ">" : "", s);
}

struct row {
	const char *key;
	double rps, err, p50, p99, total;
	bool over50, over99;
};

static int cmp_row(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	if (a->rps != b->rps)
		return a->rps < b->rps ? 1 : -1;
	return strcmp(a->key, b->key);
}

static void print_table(const struct sample *prev, const struct sample *cur, bool client,
			bool tty)
{
	static struct row rows[MAX_GROUPS];
	double dt = (cur->t_ns - prev->t_ns) / 1e9, d[MAX_BUCKETS], dc;
	char p50[24], p99[24];
	const struct group *pg;
	size_t i, j, k, n = 0;

	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("HTTP %s side, over the last %.1f s\n", client ? "client" : "server", dt);
	printf("%-40s %10s %7s %10s %10s %12s\n", "SERVICE", "REQ/S", "ERR%", "P50", "P99",
	       "REQUESTS");
	for (i = 0; i < cur->n; i++) {
		pg = NULL;
		for (j = 0; j < prev->n; j++)
			if (!strcmp(prev->g[j].key, cur->g[i].key))
				pg = &prev->g[j];
		dc = cur->g[i].count - (pg ? pg->count : 0);
		for (k = 0; k <= cur->n_bounds; k++)
			d[k] = cur->g[i].b[k] - (pg ? pg->b[k] : 0);
		rows[n] = (struct row){
			.key = cur->g[i].key,
			.rps = dt > 0 && dc > 0 ? dc / dt : 0,
			.err = dc > 0 ? 100.0 * (cur->g[i].errors - (pg ? pg->errors : 0)) / dc : 0,
			.p50 = quantile(d, cur->bounds, cur->n_bounds, 0.5),
			.p99 = quantile(d, cur->bounds, cur->n_bounds, 0.99),
			.total = cur->g[i].count,
		};
		rows[n].over50 = rows[n].p50 >= cur->bounds[cur->n_bounds - 1] && d[cur->n_bounds] > 0;
		rows[n].over99 = rows[n].p99 >= cur->bounds[cur->n_bounds - 1] && d[cur->n_bounds] > 0;
		n++;
	}
	qsort(rows, n, sizeof(rows[0]), cmp_row);
	for (i = 0; i < n; i++) {
		fmt_s(p50, sizeof(p50), rows[i].p50, rows[i].over50);
		fmt_s(p99, sizeof(p99), rows[i].p99, rows[i].over99);
		printf("%-40s %10.1f %6.1f%% %10s %10s %12.0f\n", rows[i].key, rows[i].rps,
		       rows[i].err, p50, p99, rows[i].total);
	}
	if (!n)
		printf("(no HTTP traffic seen yet)\n");
	fflush(stdout);
}

int top_main(const char *sock, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "client", no_argument, NULL, 'c' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "iterations", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct sample a = { 0 }, b = { 0 }, *prev = &a, *cur = &b, *t;
	const char *ns = NULL;
	double interval = 2;
	long iterations = -1, done = 0;
	bool client = false, tty = isatty(STDOUT_FILENO);
	struct timespec ts;
	char *end;
	int c, r = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || interval < 0.1 || interval > 3600) {
				fprintf(stderr, "error: --interval: want seconds 0.1-3600, got \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'c': client = true; break;
		case 'n': ns = optarg; break;
		case 'N':
			iterations = strtol(optarg, &end, 10);
			if (*end || iterations < 1) {
				fprintf(stderr, "error: --iterations: want a count >= 1, got \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	a.g = calloc(MAX_GROUPS, sizeof(*a.g));
	b.g = calloc(MAX_GROUPS, sizeof(*b.g));
	if (!a.g || !b.g) {
		free(a.g);
		free(b.g);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	r = fetch(sock, client, ns, prev);
	while (!r && !stop && (iterations < 0 || done < iterations)) {
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop)
			;
		if (stop)
			break;
		r = fetch(sock, client, ns, cur);
		if (r)
			break;
		print_table(prev, cur, client, tty);
		t = prev;
		prev = cur;
		cur = t;
		done++;
	}
	free(a.g);
	free(b.g);
	return r;
}
