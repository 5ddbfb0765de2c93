// SPDX-License-Identifier: Apache-2.0
#include "cli/observe.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "apiclient.h"

#define POLL_MS	   200
#define TIMEOUT_MS 5000

struct filter {
	const char *verdict; /* "allowed", "denied" or NULL */
	const char *type;    /* "l4", "http" or NULL */
	const char *pod;
	const char *ns;
	bool json;
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
		"Usage: sluice observe [--verdict allowed|denied] [--type l4|http|request]\n"
		"                      [--pod NAME] [-n NS] [-o json] [--no-follow]\n"
		"\n"
		"Prints NetworkPolicy verdicts on new flows, HTTPPolicy verdicts on requests and\n"
		"HTTP requests with their latency (telemetry) as the datapath reports them, one line\n"
		"each: time, source, destination (pod, or address and identity; the Service that\n"
		"selects a destination pod), protocol, then for verdicts the verdict, reason,\n"
		"direction, for HTTP the method, host and path and the reply Sluice sent, and the\n"
		"allowing policy; for requests the method, path, status, duration and time to first\n"
		"byte, which side's veth saw it, and the W3C trace id the request carried.\n"
		"Follows until interrupted. The agent keeps the latest events and rate-limits them\n"
		"per CPU (policy_events_per_sec, http_events_per_sec); every verdict and request is\n"
		"also counted in /metrics.\n"
		"\n"
		"Options:\n"
		"  --verdict V          only allowed or only denied flows\n"
		"  --type T             only new flows (l4), HTTPPolicy verdicts (http) or HTTP\n"
		"                       requests' telemetry (request)\n"
		"  --pod NAME           flows whose source or destination is this pod\n"
		"  -n, --namespace NS   flows whose source or destination pod is in NS\n"
		"  -o, --output json    one JSON object per line\n"
		"  --no-follow          print the events the agent holds and exit\n"
		"  -h, --help           show this help\n");
}

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static bool side_is(const cJSON *side, const struct filter *f)
{
	const char *ns = jstr(side, "namespace"), *pod = jstr(side, "pod");

	if (f->ns && (!ns || strcmp(ns, f->ns)))
		return false;
	if (f->pod && (!pod || strcmp(pod, f->pod)))
		return false;
	return true;
}

static bool wanted(const cJSON *it, const struct filter *f)
{
	const char *v = jstr(it, "verdict"), *t = jstr(it, "type");

	if (f->verdict && (!v || strcmp(v, f->verdict)))
		return false;
	if (f->type && (!t || strcmp(t, f->type)))
		return false;
	if (!f->ns && !f->pod)
		return true;
	return side_is(cJSON_GetObjectItemCaseSensitive(it, "source"), f) ||
	       side_is(cJSON_GetObjectItemCaseSensitive(it, "destination"), f);
}

static void side_text(const cJSON *side, char *buf, size_t len)
{
	const char *ns = jstr(side, "namespace"), *pod = jstr(side, "pod");
	const char *ip = jstr(side, "ip") ?: "?", *id = jstr(side, "identity");
	const char *svc = jstr(side, "service");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(side, "port");
	char who[300], p[16] = "";

	if (ns && pod)
		snprintf(who, sizeof(who), "%s/%s", ns, pod);
	else if (id)
		snprintf(who, sizeof(who), "%s%s%s(%s)", strchr(ip, ':') ? "[" : "", ip,
			 strchr(ip, ':') ? "]" : "", id);
	else
		snprintf(who, sizeof(who), "%s", ip);
	if (cJSON_IsNumber(port))
		snprintf(p, sizeof(p), ":%d", port->valueint);
	snprintf(buf, len, "%s%s%s%s%s", who, p, svc ? " (svc " : "", svc ? svc : "",
		 svc ? ")" : "");
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A request's line: method, path, status, duration (time to first byte), side, trace. */
static void print_request(const cJSON *it, const cJSON *http, const char *src, const char *dst)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(http, "status");
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(it, "trace");
	const char *tid = jstr(tr, "trace_id");
	char status[16] = "-";

	if (cJSON_IsNumber(st))
		snprintf(status, sizeof(status), "%d", st->valueint);
	printf("%s  %s -> %s  HTTP  %s %s%s -> %s  %.3f ms (ttfb %.3f ms)  seen=%s%s%s\n",
	       jstr(it, "time") ?: "?", src, dst, jstr(http, "method") ?: "?",
	       jstr(http, "path") ?: "?",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(http, "path_truncated")) ? "..." : "",
	       status, num(http, "duration_ms"), num(http, "time_to_first_byte_ms"),
	       jstr(it, "observed") ?: "?", tid ? "  trace=" : "", tid ? tid : "");
}

static void print_flow(const cJSON *it, const struct filter *f)
{
	char src[400], dst[400], *s;
	const cJSON *proto = cJSON_GetObjectItemCaseSensitive(it, "protocol");
	const char *pol = jstr(it, "policy");
	const cJSON *http = cJSON_GetObjectItemCaseSensitive(it, "http");
	char pbuf[16];

	if (f->json) {
		s = cJSON_PrintUnformatted(it);
		if (s)
			printf("%s\n", s);
		free(s);
		return;
	}
	side_text(cJSON_GetObjectItemCaseSensitive(it, "source"), src, sizeof(src));
	side_text(cJSON_GetObjectItemCaseSensitive(it, "destination"), dst, sizeof(dst));
	if (!strcmp(jstr(it, "type") ?: "", "request")) {
		print_request(it, http, src, dst);
		return;
	}
	if (cJSON_IsNumber(proto))
		snprintf(pbuf, sizeof(pbuf), "%d", proto->valueint);
	else
		snprintf(pbuf, sizeof(pbuf), "%s", cJSON_GetStringValue(proto) ?: "?");
	printf("%s  %s -> %s  %s  %s  %s  %s", jstr(it, "time") ?: "?", src, dst, pbuf,
	       jstr(it, "verdict") ?: "?", jstr(it, "reason") ?: "?", jstr(it, "direction") ?: "?");
	if (http) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(http, "status");
		const char *host = jstr(http, "host");

		printf("  %s %s%s%s%s", jstr(http, "method") ?: "?", jstr(http, "path") ?: "?",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(http, "path_truncated")) ? "..." :
											      "",
		       host ? " host=" : "", host ? host : "");
		if (cJSON_IsNumber(st))
			printf(" -> %d", st->valueint);
	}
	printf("%s%s\n", pol ? "  policy=" : "", pol ? pol : "");
}

/* One /v1/flows call: prints what passes the filter; returns items seen, or -1 on error. */
static int poll_once(const char *sock, unsigned long long *since, const struct filter *f)
{
	struct api_resp resp = {};
	char path[64], err[512] = "";
	const cJSON *items, *it, *next, *dropped;
	cJSON *o;
	int n = 0;

	snprintf(path, sizeof(path), "/v1/flows?since=%llu", *since);
	if (api_call(sock, "GET", path, NULL, 0, TIMEOUT_MS, &resp, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: cannot reach sluice-agent at %s: %s\n", sock, err);
		return -1;
	}
	o = resp.status == 200 ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
	if (!o) {
		fprintf(stderr, "error: sluice-agent answered HTTP %ld: %.200s\n", resp.status,
			resp.body ? resp.body : "");
		api_resp_free(&resp);
		return -1;
	}
	api_resp_free(&resp);
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "available")))
		fprintf(stderr, "warning: the agent cannot read flow events (see its log)\n");
	dropped = cJSON_GetObjectItemCaseSensitive(o, "dropped");
	if (cJSON_IsNumber(dropped) && dropped->valuedouble > 0)
		fprintf(stderr, "warning: %.0f events were overwritten before they were read\n",
			dropped->valuedouble);
	items = cJSON_GetObjectItemCaseSensitive(o, "items");
	cJSON_ArrayForEach(it, items) {
		n++;
		if (wanted(it, f))
			print_flow(it, f);
	}
	next = cJSON_GetObjectItemCaseSensitive(o, "next");
	if (cJSON_IsNumber(next))
		*since = (unsigned long long)next->valuedouble;
	cJSON_Delete(o);
	fflush(stdout);
	return n;
}

int observe_main(const char *sock, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verdict", required_argument, NULL, 'V' },
		{ "type", required_argument, NULL, 'T' },
		{ "pod", required_argument, NULL, 'P' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-follow", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct timespec nap = { .tv_nsec = POLL_MS * 1000000L };
	struct filter f = {};
	unsigned long long since = 0;
	bool follow = true;
	int c, n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			if (strcmp(optarg, "allowed") && strcmp(optarg, "denied")) {
				fprintf(stderr, "error: --verdict: want allowed or denied, got \"%s\"\n",
					optarg);
				return 2;
			}
			f.verdict = optarg;
			break;
		case 'T':
			if (strcmp(optarg, "l4") && strcmp(optarg, "http") && strcmp(optarg, "request")) {
				fprintf(stderr, "error: --type: want l4, http or request, got \"%s\"\n",
					optarg);
				return 2;
			}
			f.type = optarg;
			break;
		case 'P': f.pod = optarg; break;
		case 'n': f.ns = optarg; break;
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "error: --output: want json, got \"%s\"\n", optarg);
				return 2;
			}
			f.json = true;
			break;
		case 'F': follow = false; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "error: %s: %s\n",
				c == ':' ? "flag needs an argument" : "unknown flag", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, on_signal);
	while (!stop) {
		n = poll_once(sock, &since, &f);
		if (n < 0)
			return 1;
		if (n == 0) {
			if (!follow)
				break;
			nanosleep(&nap, NULL);
		}
	}
	return 0;
}
