// SPDX-License-Identifier: Apache-2.0
/*
 * agent/telemetry: the series table's cardinality control (equal label sets summed, a limit
 * per group, an overflow series, admission that sticks, series that go when nothing feeds
 * them), Prometheus label escaping and text output, and the label allow-list parser.
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

#include "agent/telemetry/l4.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(equal_label_sets__summed_in_label_order),
		cmocka_unit_test(over_the_limit__overflow_series_and_admission_sticks),
		cmocka_unit_test(label_values__escaped_empty_left_out),
		cmocka_unit_test(write__counters_and_cumulative_histogram),
		cmocka_unit_test(labels_parse__default_list_and_errors),
		cmocka_unit_test(otlp__families_as_cumulative_sums_and_histograms),
	};

	return cmocka_run_group_tests_name("telemetry", tests, NULL, NULL);
}
