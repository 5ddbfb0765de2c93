// SPDX-License-Identifier: Apache-2.0
/*
 * agent/telemetry: the series table's cardinality control (equal label sets summed, a limit
 * per group, an overflow series, admission that sticks, series that go when nothing feeds
 * them), Prometheus label escaping and text output, and the label allow-list parser; request
 * events' path and W3C traceparent, and the spans made of them as OTLP/JSON.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>

#include <cjson/cJSON.h>

#include "agent/telemetry/l4.h"
#include "agent/telemetry/reqev.h"
#include "agent/telemetry/spans.h"
#include "agent/telemetry/series.h"

struct want {
	const char *labels;
	uint64_t a, b;
};

static void scrape(struct tel_series *t, const struct want *rows, size_t n)
{
	uint64_t v[2];
	size_t i;

	tel_series_begin(t);
	for (i = 0; i < n; i++) {
		v[0] = rows[i].a;
		v[1] = rows[i].b;
		assert_int_equal(tel_series_add(t, rows[i].labels, v), 0);
	}
	assert_int_equal(tel_series_end(t), 0);
}

static void expect(const struct tel_series *t, const struct want *w, size_t n)
{
	const uint64_t *v;
	const char *l;
	size_t i;

	assert_int_equal(tel_series_count(t), n);
	for (i = 0; i < n; i++) {
		tel_series_at(t, i, &l, &v);
		assert_string_equal(l, w[i].labels);
		assert_int_equal(v[0], w[i].a);
		assert_int_equal(v[1], w[i].b);
	}
}

static void equal_label_sets__summed_in_label_order(void **state)
{
	static const struct want rows[] = {
		{ "p=\"b\"", 1, 10 }, { "p=\"a\"", 2, 20 }, { "p=\"b\"", 3, 30 }, { "", 4, 40 },
	};
	static const struct want w[] = { { "", 4, 40 }, { "p=\"a\"", 2, 20 }, { "p=\"b\"", 4, 40 } };
	struct tel_series *t;

	(void)state;
	assert_int_equal(tel_series_new(2, 10, &t), 0);
	scrape(t, rows, 4);
	expect(t, w, 3);
	assert_int_equal(tel_series_overflowed(t), 0);
	tel_series_free(t);
}

static void over_the_limit__overflow_series_and_admission_sticks(void **state)
{
	static const struct want s1[] = { { "p=\"m\"", 1, 1 }, { "p=\"n\"", 2, 2 },
					  { "p=\"o\"", 3, 3 }, { "p=\"q\"", 4, 4 } };
	static const struct want w1[] = { { "p=\"m\"", 1, 1 }, { "p=\"n\"", 2, 2 },
					  { TEL_OVERFLOW_LABELS, 7, 7 } };
	/* a new label set that sorts first does not push out those admitted */
	static const struct want s2[] = { { "p=\"a\"", 5, 5 }, { "p=\"m\"", 1, 1 },
					  { "p=\"n\"", 2, 2 }, { "p=\"o\"", 3, 3 } };
	static const struct want w2[] = { { "p=\"m\"", 1, 1 }, { "p=\"n\"", 2, 2 },
					  { TEL_OVERFLOW_LABELS, 8, 8 } };
	/* m went (its pod was deleted): its place goes to the first waiting label set */
	static const struct want s3[] = { { "p=\"a\"", 5, 5 }, { "p=\"n\"", 2, 2 },
					  { "p=\"o\"", 3, 3 } };
	static const struct want w3[] = { { "p=\"a\"", 5, 5 }, { "p=\"n\"", 2, 2 },
					  { TEL_OVERFLOW_LABELS, 3, 3 } };
	static const struct want s4[] = { { "p=\"a\"", 6, 6 } };
	static const struct want w4[] = { { "p=\"a\"", 6, 6 } };
	struct tel_series *t;

	(void)state;
	assert_int_equal(tel_series_new(2, 2, &t), 0);
	scrape(t, s1, 4);
	expect(t, w1, 3);
	assert_int_equal(tel_series_overflowed(t), 2);
	scrape(t, s2, 4);
	expect(t, w2, 3);
	scrape(t, s3, 3);
	expect(t, w3, 3);
	scrape(t, s4, 1);
	expect(t, w4, 1);
	assert_int_equal(tel_series_overflowed(t), 0);
	scrape(t, NULL, 0);
	assert_int_equal(tel_series_count(t), 0);
	tel_series_free(t);
}

static void label_values__escaped_empty_left_out(void **state)
{
	char buf[64] = "";

	(void)state;
	assert_true(tel_label_append(buf, sizeof(buf), "a", "x\"y\\z\nw"));
	assert_true(tel_label_append(buf, sizeof(buf), "b", ""));
	assert_true(tel_label_append(buf, sizeof(buf), "c", NULL));
	assert_true(tel_label_append(buf, sizeof(buf), "d", "v"));
	assert_string_equal(buf, "a=\"x\\\"y\\\\z\\nw\",d=\"v\"");
	/* too long: refused, never cut */
	assert_false(tel_label_append(buf, 24, "e", "0123456789"));
}

static void write__counters_and_cumulative_histogram(void **state)
{
	static const double bounds[] = { 0.001, 0.01 };
	/* vals: [0] a counter, [1..3] three buckets, [4] the sum in ms */
	uint64_t v[5] = { 7, 1, 2, 3, 1500 };
	struct tel_series *t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(tel_series_new(5, 10, &t), 0);
	tel_series_begin(t);
	assert_int_equal(tel_series_add(t, "p=\"a\"", v), 0);
	assert_int_equal(tel_series_end(t), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	tel_series_write(f, t, "x_total", "counter", "X.", 0);
	tel_series_write_hist(f, t, "y_seconds", "Y.", 1, bounds, 2, 4, 1e-3);
	fclose(f);
	assert_string_equal(buf, "# HELP x_total X.\n# TYPE x_total counter\n"
				 "x_total{p=\"a\"} 7\n"
				 "# HELP y_seconds Y.\n# TYPE y_seconds histogram\n"
				 "y_seconds_bucket{p=\"a\",le=\"0.001\"} 1\n"
				 "y_seconds_bucket{p=\"a\",le=\"0.01\"} 3\n"
				 "y_seconds_bucket{p=\"a\",le=\"+Inf\"} 6\n"
				 "y_seconds_sum{p=\"a\"} 1.5\n"
				 "y_seconds_count{p=\"a\"} 6\n");
	free(buf);
	tel_series_free(t);
}

static void labels_parse__default_list_and_errors(void **state)
{
	unsigned int m = 0;
	char err[512];

	(void)state;
	assert_int_equal(tel_labels_parse(NULL, &m, err, sizeof(err)), 0);
	assert_int_equal(m, TEL_LABELS_DEFAULT);
	assert_false(m & (1u << TEL_PEER_ADDRESS));
	assert_int_equal(tel_labels_parse(" k8s_pod_name , service_name", &m, err, sizeof(err)), 0);
	assert_int_equal(m, (1u << TEL_POD) | (1u << TEL_SERVICE));
	assert_int_equal(tel_labels_parse("k8s_pod_name,pod", &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "telemetry_labels: unknown label 'pod'"));
}

static void otlp__families_as_cumulative_sums_and_histograms(void **state)
{
	static const double bounds[] = { 0.001, 0.01 };
	static const struct tel_family ctr = { "x_total", "sluice.x", "{x}", "X.", TEL_COUNTER, 0,
					       0, 0, NULL, 0, -1 };
	static const struct tel_family hist = { "y_seconds", "http.server.request.duration", "s",
						"Y.", TEL_HIST, 1, 4, 1e-3, bounds, 2, -1 };
	static const struct tel_family when = { "z_seconds", "sluice.z", "s", "Z.", TEL_HIST, 1,
						4, 1e-3, bounds, 2, 0 };
	uint64_t v[5] = { 7, 1, 2, 3, 1500 }, none[5] = { 0 };
	const cJSON *m, *dp, *a;
	struct tel_series *t;
	cJSON *arr;
	char *txt;

	(void)state;
	assert_int_equal(tel_series_new(5, 1, &t), 0);
	tel_series_begin(t);
	assert_int_equal(tel_series_add(t, "k8s_pod_name=\"web\",http_response_status_code=\"200\","
					   "x_y=\"a\\\"b\"", v), 0);
	assert_int_equal(tel_series_add(t, "k8s_pod_name=\"zzz\"", none), 0); /* sorts last: overflows */
	assert_int_equal(tel_series_end(t), 0);
	arr = cJSON_CreateArray();
	assert_int_equal(tel_family_otlp(arr, t, &ctr, 10, 20), 0);
	assert_int_equal(tel_family_otlp(arr, t, &hist, 10, 20), 0);
	assert_int_equal(tel_family_otlp(arr, t, &when, 10, 20), 0);
	m = cJSON_GetArrayItem(arr, 0);
	assert_string_equal(cJSON_GetObjectItem(m, "name")->valuestring, "sluice.x");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "sum"), "isMonotonic")));
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "sum"), "aggregationTemporality")->valueint, 2);
	dp = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "sum"), "dataPoints"), 0);
	assert_string_equal(cJSON_GetObjectItem(dp, "asInt")->valuestring, "7");
	assert_string_equal(cJSON_GetObjectItem(dp, "startTimeUnixNano")->valuestring, "10");
	a = cJSON_GetObjectItem(dp, "attributes");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "key")->valuestring, "k8s.pod.name");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1), "value"), "intValue")->valuestring, "200");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "value"), "stringValue")->valuestring, "a\"b");
	/* the overflow series: one boolean attribute */
	dp = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "sum"), "dataPoints"), 1);
	a = cJSON_GetArrayItem(cJSON_GetObjectItem(dp, "attributes"), 0);
	assert_string_equal(cJSON_GetObjectItem(a, "key")->valuestring, "otel.metric.overflow");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "value"), "boolValue")));
	/* histograms: buckets per bucket (not cumulative), the sum in seconds */
	m = cJSON_GetArrayItem(arr, 1);
	dp = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "histogram"), "dataPoints"), 0);
	txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(dp, "bucketCounts"));
	assert_string_equal(txt, "[\"1\",\"2\",\"3\"]");
	free(txt);
	txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(dp, "explicitBounds"));
	assert_string_equal(txt, "[0.001,0.01]");
	free(txt);
	assert_string_equal(cJSON_GetObjectItem(dp, "count")->valuestring, "6");
	assert_true(cJSON_GetObjectItem(dp, "sum")->valuedouble == 1.5);
	/* when_idx: only the series whose vals[0] is not 0 */
	m = cJSON_GetArrayItem(arr, 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "histogram"), "dataPoints")), 1);
	cJSON_Delete(arr);
	tel_series_free(t);
}

static struct sl_http_event ev(const char *path, const char *tp)
{
	struct sl_http_event e = { .method = SL_HTTP_POST, .status = 503, .family = SL_AF_INET,
				   .role = SL_L4_SERVER, .lport = 8080, .pport = 40000,
				   .dur_ns = 25000000, .ttfb_ns = 1000000 };

	e.local[0] = htonl(0x0a000001);
	e.peer[0] = htonl(0x0a000002);
	e.path_len = (uint8_t)strnlen(path, SL_HT_EV_PATH);
	memcpy(e.path, path, e.path_len);
	e.tp_len = (uint8_t)strnlen(tp, SL_HT_EV_TP);
	memcpy(e.tp, tp, e.tp_len);
	return e;
}

static void reqev__path_cut_at_space_truncation_flagged(void **state)
{
	char p[SL_HT_EV_PATH + 1], longp[SL_HT_EV_PATH + 1];
	struct sl_http_event e;
	bool trunc;

	(void)state;
	e = ev("/a/b?c=d HTTP/1.1\r\nHost", "");
	assert_int_equal(reqev_path(&e, p, sizeof(p), &trunc), 8);
	assert_string_equal(p, "/a/b?c=d");
	assert_false(trunc);
	memset(longp, 'x', SL_HT_EV_PATH);
	longp[0] = '/';
	longp[SL_HT_EV_PATH] = '\0';
	e = ev(longp, "");
	assert_int_equal(reqev_path(&e, p, sizeof(p), &trunc), SL_HT_EV_PATH);
	assert_true(trunc);
	e = ev("/split", ""); /* the capture ended inside the line */
	reqev_path(&e, p, sizeof(p), &trunc);
	assert_true(trunc);
}

static void reqev__traceparent_w3c_rules(void **state)
{
	static const char *const bad[] = {
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",	 /* short */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version ff */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* 00 is 55 chars */
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	};
	struct reqev_trace t;
	struct sl_http_event e;
	char hex[33];
	size_t i;

	(void)state;
	e = ev("/", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_true(reqev_trace(&e, &t));
	reqev_hex(t.trace_id, 16, hex);
	assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
	reqev_hex(t.parent_id, 8, hex);
	assert_string_equal(hex, "00f067aa0ba902b7");
	assert_int_equal(t.flags, 1);
	/* a later version may carry more after a '-' */
	e = ev("/", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x");
	assert_true(reqev_trace(&e, &t));
	assert_int_equal(t.flags, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = ev("/", bad[i]);
		assert_false(reqev_trace(&e, &t));
	}
}

static void namer(void *ctx, const __u32 *addr, __u8 family, struct spans_who *w)
{
	(void)ctx;
	(void)family;
	if (addr[0] == htonl(0x0a000001)) {
		w->ns = "shop";
		w->pod = "web-1";
		w->service = "web";
	}
}

static const cJSON *attr(const cJSON *attrs, const char *k)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, attrs) {
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "key")), k))
			return cJSON_GetArrayItem(cJSON_GetObjectItem(a, "value"), 0);
	}
	return NULL;
}

static void spans__otlp_json_traced_only_bounded(void **state)
{
	struct sl_http_event e = ev("/cart HTTP/1.1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	struct sl_http_event plain = ev("/x HTTP/1.1", "");
	struct spans_stats st;
	struct spans *s;
	const cJSON *rs, *sp, *attrs;
	cJSON *doc;
	char *body;

	(void)state;
	assert_int_equal(spans_new(2, &s), 0);
	assert_null(spans_take_otlp(s, namer, NULL)); /* nothing waits */
	assert_false(spans_add(s, &plain, 1000000000ull));
	assert_true(spans_add(s, &e, 2000000000ull));
	body = spans_take_otlp(s, namer, NULL);
	assert_non_null(body);
	doc = cJSON_Parse(body);
	free(body);
	rs = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "resourceSpans"), 0);
	assert_null(cJSON_GetObjectItem(rs, "_key"));
	attrs = cJSON_GetObjectItem(cJSON_GetObjectItem(rs, "resource"), "attributes");
	assert_string_equal(cJSON_GetStringValue(attr(attrs, "service.name")), "web");
	assert_string_equal(cJSON_GetStringValue(attr(attrs, "k8s.pod.name")), "web-1");
	assert_string_equal(cJSON_GetStringValue(attr(attrs, "k8s.namespace.name")), "shop");
	sp = cJSON_GetArrayItem(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0),
				    "spans"),
		0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(sp, "traceId")),
			    "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(sp, "parentSpanId")),
			    "00f067aa0ba902b7");
	assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(sp, "spanId"))), 16);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(sp, "name")), "POST");
	assert_int_equal(cJSON_GetObjectItem(sp, "kind")->valueint, 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(sp, "startTimeUnixNano")),
			    "1975000000");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(sp, "endTimeUnixNano")),
			    "2000000000");
	attrs = cJSON_GetObjectItem(sp, "attributes");
	assert_string_equal(cJSON_GetStringValue(attr(attrs, "url.path")), "/cart");
	assert_string_equal(cJSON_GetStringValue(attr(attrs, "http.response.status_code")), "503");
	assert_string_equal(cJSON_GetStringValue(attr(attrs, "client.address")), "10.0.0.2");
	assert_string_equal(cJSON_GetStringValue(attr(attrs, "error.type")), "503");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(sp, "status"), "code")->valueint, 2);
	cJSON_Delete(doc);
	/* a full queue drops the oldest */
	assert_true(spans_add(s, &e, 1));
	assert_true(spans_add(s, &e, 2));
	assert_true(spans_add(s, &e, 3));
	spans_stats_get(s, &st);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.taken, 1);
	spans_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(equal_label_sets__summed_in_label_order),
		cmocka_unit_test(over_the_limit__overflow_series_and_admission_sticks),
		cmocka_unit_test(label_values__escaped_empty_left_out),
		cmocka_unit_test(write__counters_and_cumulative_histogram),
		cmocka_unit_test(labels_parse__default_list_and_errors),
		cmocka_unit_test(otlp__families_as_cumulative_sums_and_histograms),
		cmocka_unit_test(reqev__path_cut_at_space_truncation_flagged),
		cmocka_unit_test(reqev__traceparent_w3c_rules),
		cmocka_unit_test(spans__otlp_json_traced_only_bounded),
	};

	return cmocka_run_group_tests_name("telemetry", tests, NULL, NULL);
}
