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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(equal_label_sets__summed_in_label_order),
		cmocka_unit_test(over_the_limit__overflow_series_and_admission_sticks),
		cmocka_unit_test(label_values__escaped_empty_left_out),
		cmocka_unit_test(write__counters_and_cumulative_histogram),
		cmocka_unit_test(labels_parse__default_list_and_errors),
	};

	return cmocka_run_group_tests_name("telemetry", tests, NULL, NULL);
}
