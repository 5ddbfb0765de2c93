// SPDX-License-Identifier: Apache-2.0
/* lib/manifest.c: YAML/JSON manifests to cJSON and back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "lib/fileio.h"
#include "lib/manifest.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/fixtures"
#endif

static char *fixture_read(const char *name, size_t *ret_len)
{
	char path[512];
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
	buf = fileio_read_path(path, 1u << 24, ret_len);
	if (!buf)
		fail_msg("cannot read fixture %s", path);
	return buf;
}

/* Parses a fixture; returns the result code, with *ret_items and err filled. */
static int parse_fixture(const char *name, cJSON **ret_items, char *err, size_t errlen)
{
	size_t len;
	char *buf = fixture_read(name, &len);
	int r;

	*ret_items = NULL;
	r = manifest_parse(buf, len, name, ret_items, err, errlen);
	free(buf);
	return r;
}

static int parse_str(const char *s, cJSON **ret_items, char *err, size_t errlen)
{
	*ret_items = NULL;
	return manifest_parse(s, strlen(s), "test.yaml", ret_items, err, errlen);
}

static const char *str_path(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void manifest__multi_doc_yaml__objects_in_order(void **state)
{
	cJSON *items, *svc, *ports, *pod;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_multi.yaml", &items, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(items), 3);
	assert_string_equal(str_path(cJSON_GetArrayItem(items, 0), "kind", NULL), "Namespace");
	svc = cJSON_GetArrayItem(items, 1);
	assert_string_equal(str_path(svc, "metadata", "name"), "web");
	ports = cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "spec"), "ports");
	assert_int_equal(cJSON_GetArraySize(ports), 2);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(ports, 0), "port")));
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ports, 0), "targetPort")->valueint,
			 8080);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ports, 1), "targetPort")
				    ->valuestring,
			    "metrics");
	pod = cJSON_GetArrayItem(items, 2);
	assert_string_equal(str_path(pod, "kind", NULL), "Pod");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
				 cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(pod,
											    "spec"),
									"containers"),
						    0),
				 "command")),
			 3);
	cJSON_Delete(items);
}

static void manifest__json_file__parsed_as_yaml(void **state)
{
	cJSON *items, *spec, *obj;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_good.json", &items, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(items), 1);
	obj = cJSON_GetArrayItem(items, 0);
	assert_string_equal(str_path(obj, "metadata", "name"), "api");
	assert_string_equal(
		str_path(cJSON_GetObjectItem(obj, "metadata"), "annotations", "note"),
		"caf\xc3\xa9 \"quoted\"");
	spec = cJSON_GetObjectItem(obj, "spec");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(spec, "publishNotReadyAddresses")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(spec, "extra")));
	assert_true(cJSON_GetObjectItem(spec, "ratio")->valuedouble == 0.5);
	cJSON_Delete(items);
}

static void manifest__json_syntax_error__line_and_column(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_bad_syntax.json", &items, err, sizeof(err)),
			 -EINVAL);
	assert_null(items);
	assert_non_null(strstr(err, "manifest_bad_syntax.json: line 6 column 3: "));
	assert_non_null(strstr(err, "did not find expected ',' or '}'"));
}

static void manifest__list_kind__flattened(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_list.yaml", &items, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(items), 4);
	assert_string_equal(str_path(cJSON_GetArrayItem(items, 0), "metadata", "name"), "a");
	assert_string_equal(str_path(cJSON_GetArrayItem(items, 1), "metadata", "name"), "b");
	assert_string_equal(str_path(cJSON_GetArrayItem(items, 2), "metadata", "name"), "c");
	assert_string_equal(str_path(cJSON_GetArrayItem(items, 3), "metadata", "name"),
			    "after-list");
	cJSON_Delete(items);
}

static void manifest__list_item_not_mapping__error(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_str("kind: List\nitems: [{kind: Pod}, 3]\n", &items, err,
				   sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "test.yaml: document 1: items[1] is not a mapping");
}

static void manifest__empty_input__empty_array(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(manifest_parse("", 0, "-", &items, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(items), 0);
	cJSON_Delete(items);
	assert_int_equal(parse_str("# only a comment\n---\n---\n...\n", &items, err, sizeof(err)),
			 0);
	assert_int_equal(cJSON_GetArraySize(items), 0);
	cJSON_Delete(items);
}

static void manifest__bad_yaml__line_and_column(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_bad_syntax.yaml", &items, err, sizeof(err)),
			 -EINVAL);
	assert_null(items);
	assert_non_null(strstr(err, "manifest_bad_syntax.yaml: line 7 column 4: "));
}

static void manifest__mapping_value_in_scalar__libyaml_message(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_str("a: b: c\n", &items, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "test.yaml: line 1 column 5: mapping values are not allowed in this "
			    "context");
}

static void manifest__truncated__error(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_truncated.yaml", &items, err, sizeof(err)),
			 -EINVAL);
	assert_null(items);
	assert_non_null(strstr(err, "found unexpected end of stream"));
	assert_non_null(strstr(err, "line 7 column 1"));
}

static void manifest__oversized__e2big(void **state)
{
	size_t len = MANIFEST_MAX_BYTES + 1;
	char *buf = malloc(len);
	cJSON *items = NULL;
	char err[256];

	(void)state;
	assert_non_null(buf);
	memset(buf, '#', len);
	assert_int_equal(manifest_parse(buf, len, "big.yaml", &items, err, sizeof(err)), -E2BIG);
	assert_null(items);
	assert_non_null(strstr(err, "big.yaml: input is 8388609 bytes, limit is 8388608"));
	free(buf);
}

static void manifest__too_many_objects__e2big(void **state)
{
	const char doc[] = "kind: X\n---\n";
	size_t n = MANIFEST_MAX_OBJECTS + 1, i, dl = sizeof(doc) - 1;
	char *buf = malloc(n * dl + 1);
	cJSON *items = NULL;
	char err[256];

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < n; i++)
		memcpy(buf + i * dl, doc, dl);
	/* Exactly the cap is fine. */
	assert_int_equal(manifest_parse(buf, (n - 1) * dl, "many.yaml", &items, err, sizeof(err)),
			 0);
	assert_int_equal(cJSON_GetArraySize(items), MANIFEST_MAX_OBJECTS);
	cJSON_Delete(items);
	items = NULL;
	assert_int_equal(manifest_parse(buf, n * dl, "many.yaml", &items, err, sizeof(err)),
			 -E2BIG);
	assert_null(items);
	assert_non_null(strstr(err, "more than 20000 objects"));
	free(buf);
}

static void manifest__too_deep__e2big(void **state)
{
	char buf[512];
	cJSON *items;
	char err[256];
	int i, n = 0;

	(void)state;
	/* A mapping with MANIFEST_MAX_DEPTH - 1 nested sequences is just within the cap. */
	n += snprintf(buf + n, sizeof(buf) - n, "a: ");
	for (i = 0; i < MANIFEST_MAX_DEPTH - 1; i++)
		buf[n++] = '[';
	for (i = 0; i < MANIFEST_MAX_DEPTH - 1; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	assert_int_equal(parse_str(buf, &items, err, sizeof(err)), 0);
	cJSON_Delete(items);
	n = snprintf(buf, sizeof(buf), "a: ");
	for (i = 0; i < MANIFEST_MAX_DEPTH; i++)
		buf[n++] = '[';
	for (i = 0; i < MANIFEST_MAX_DEPTH; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	assert_int_equal(parse_str(buf, &items, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "nesting deeper than 64 levels"));
}

static void manifest__duplicate_key__names_key_and_line(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_dup_key.yaml", &items, err, sizeof(err)),
			 -EINVAL);
	assert_null(items);
	assert_string_equal(err, "manifest_dup_key.yaml: line 8 column 5: duplicate key \"port\"");
}

static void manifest__duplicate_key_in_large_mapping__detected(void **state)
{
	char *buf = malloc(200 * 16 + 32);
	cJSON *items;
	char err[256];
	int i, n = 0;

	(void)state;
	assert_non_null(buf);
	/* Past the size where duplicate detection switches to a hash set. */
	for (i = 0; i < 200; i++)
		n += sprintf(buf + n, "k%d: %d\n", i, i);
	assert_int_equal(parse_str(buf, &items, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(items, 0)), 200);
	cJSON_Delete(items);
	sprintf(buf + n, "k150: dup\n");
	assert_int_equal(parse_str(buf, &items, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "test.yaml: line 201 column 1: duplicate key \"k150\"");
	free(buf);
}

static void manifest__alias__expanded(void **state)
{
	cJSON *items, *pod, *meta, *ctrs, *args;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_alias.yaml", &items, err, sizeof(err)), 0);
	pod = cJSON_GetArrayItem(items, 0);
	meta = cJSON_GetObjectItem(pod, "metadata");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(meta, "labels"),
				  cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "annotations"),
						      "copied"),
				  true));
	ctrs = cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "spec"), "containers");
	args = cJSON_GetObjectItem(cJSON_GetArrayItem(ctrs, 0), "args");
	assert_int_equal(cJSON_GetArraySize(args), 2);
	assert_string_equal(cJSON_GetArrayItem(args, 1)->valuestring, "--verbose");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ctrs, 1), "args")->valuestring,
			    "--verbose");
	cJSON_Delete(items);
}

static void manifest__alias_bomb__e2big(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_alias_bomb.yaml", &items, err, sizeof(err)),
			 -E2BIG);
	assert_null(items);
	assert_non_null(strstr(err, "aliases expand to more than"));
}

static void manifest__undefined_or_recursive_alias__error(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_str("a: *nope\n", &items, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1 column 4: unknown anchor \"nope\""));
	assert_int_equal(parse_str("a: &self [*self]\n", &items, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown anchor \"self\""));
	/* Anchors do not cross documents. */
	assert_int_equal(parse_str("a: &x 1\n---\nb: *x\n", &items, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3 column 4: unknown anchor \"x\""));
}

static void manifest__merge_key__rejected(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_str("base: &b {x: 1}\nother:\n  <<: *b\n", &items, err,
				   sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "test.yaml: line 3 column 3: merge keys (<<) are not supported");
}

static void manifest__complex_key__rejected(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_str("? [a, b]\n: c\n", &items, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mapping keys must be scalars"));
}

static void manifest__scalars__core_schema(void **state)
{
	cJSON *items, *o;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_scalars.yaml", &items, err, sizeof(err)), 0);
	o = cJSON_GetArrayItem(items, 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "t")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "f")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "n1")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "n2")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "n3")));
	assert_true(cJSON_GetObjectItem(o, "i")->valuedouble == 42);
	assert_true(cJSON_GetObjectItem(o, "neg")->valuedouble == -7);
	assert_true(cJSON_GetObjectItem(o, "hex")->valuedouble == 31);
	assert_true(cJSON_GetObjectItem(o, "oct")->valuedouble == 15);
	assert_true(cJSON_GetObjectItem(o, "fl")->valuedouble == 1.5);
	assert_true(cJSON_GetObjectItem(o, "exp")->valuedouble == 2500);
	assert_string_equal(cJSON_GetObjectItem(o, "qt")->valuestring, "true");
	assert_string_equal(cJSON_GetObjectItem(o, "qi")->valuestring, "123");
	assert_string_equal(cJSON_GetObjectItem(o, "qe")->valuestring, "");
	assert_string_equal(cJSON_GetObjectItem(o, "qn")->valuestring, "null");
	assert_string_equal(cJSON_GetObjectItem(o, "s")->valuestring, "hello world");
	assert_string_equal(cJSON_GetObjectItem(o, "yes11")->valuestring, "yes");
	assert_string_equal(cJSON_GetObjectItem(o, "ver")->valuestring, "1.2.3");
	assert_string_equal(cJSON_GetObjectItem(o, "multi")->valuestring,
			    "line one\nline two\n");
	cJSON_Delete(items);
}

static void manifest__tags__explicit_types(void **state)
{
	cJSON *items, *o;
	char err[256];

	(void)state;
	assert_int_equal(parse_str("a: !!str 123\nb: !!int \"7\"\nc: ! true\n", &items, err,
				   sizeof(err)),
			 0);
	o = cJSON_GetArrayItem(items, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "a")->valuestring, "123");
	assert_true(cJSON_GetObjectItem(o, "b")->valuedouble == 7);
	assert_string_equal(cJSON_GetObjectItem(o, "c")->valuestring, "true");
	cJSON_Delete(items);
	assert_int_equal(parse_str("a: !custom x\n", &items, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unsupported tag \"!custom\""));
	assert_int_equal(parse_str("a: .inf\n", &items, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "infinity and NaN have no JSON form"));
}

static void manifest__top_level_not_mapping__names_document(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("manifest_not_mapping.yaml", &items, err, sizeof(err)),
			 -EINVAL);
	assert_null(items);
	assert_string_equal(err,
			    "manifest_not_mapping.yaml: document 2: top-level value is not a "
			    "mapping");
}

static void manifest__invalid_utf8__error(void **state)
{
	cJSON *items;
	char err[256];

	(void)state;
	assert_int_equal(parse_str("a: \xff\xfe\n", &items, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "test.yaml: byte offset 3: "));
}

static void roundtrip(const cJSON *obj)
{
	char *yaml = manifest_to_yaml(obj);
	cJSON *items;
	char err[256];

	assert_non_null(yaml);
	if (manifest_parse(yaml, strlen(yaml), "emitted", &items, err, sizeof(err)) != 0)
		fail_msg("re-parse failed: %s\n%s", err, yaml);
	assert_int_equal(cJSON_GetArraySize(items), 1);
	if (!cJSON_Compare(cJSON_GetArrayItem(items, 0), obj, true))
		fail_msg("round trip differs:\n%s", yaml);
	cJSON_Delete(items);
	free(yaml);
}

static void manifest__to_yaml__round_trips(void **state)
{
	static const char *const fixtures[] = { "manifest_multi.yaml", "manifest_good.json",
						"manifest_list.yaml", "manifest_scalars.yaml",
						"manifest_alias.yaml" };
	cJSON *items, *it;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		assert_int_equal(parse_fixture(fixtures[i], &items, err, sizeof(err)), 0);
		cJSON_ArrayForEach(it, items)
			roundtrip(it);
		cJSON_Delete(items);
	}
}

static void manifest__to_yaml__quotes_ambiguous_strings(void **state)
{
	static const char *const tricky[] = { "true", "False", "123", "", "null", "~",   "0x1F",
					      "1.5",  "1e3",   "yes", "on", "- a", "a: b", "#c",
					      " lead", "trail ", "a\nb", "tab\there", "*x",
					      "&y", "[1]", "{}", "\"q\"", "'s'", "caf\xc3\xa9",
					      "0o7", "-1", ".inf", "1_000", "@at", "%pct", "0777",
					      "0b101", "+12", "10.96.0.10", "fd00::1" };
	cJSON *obj = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(obj, "v");
	char *yaml;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		cJSON_AddItemToArray(arr, cJSON_CreateString(tricky[i]));
		cJSON_AddStringToObject(obj, tricky[i], "key test");
	}
	roundtrip(obj);
	yaml = manifest_to_yaml(obj);
	assert_non_null(strstr(yaml, "- 'true'\n"));
	assert_non_null(strstr(yaml, "- '123'\n"));
	assert_non_null(strstr(yaml, "- ''\n"));
	assert_non_null(strstr(yaml, "- 'yes'\n"));
	assert_non_null(strstr(yaml, "- '0777'\n"));
	assert_non_null(strstr(yaml, "- 10.96.0.10\n"));
	free(yaml);
	cJSON_Delete(obj);
}

static void manifest__to_yaml__block_style_and_types(void **state)
{
	cJSON *obj = cJSON_Parse("{\"kind\":\"Service\",\"spec\":{\"ports\":[{\"port\":80,"
				 "\"x\":1.25,\"big\":1e300,\"ok\":true,\"n\":null}],"
				 "\"empty\":[],\"none\":{}}}");
	char *yaml;

	(void)state;
	assert_non_null(obj);
	yaml = manifest_to_yaml(obj);
	assert_non_null(yaml);
	assert_string_equal(yaml, "kind: Service\n"
				  "spec:\n"
				  "  ports:\n"
				  "  - port: 80\n"
				  "    x: 1.25\n"
				  "    big: 1e+300\n"
				  "    ok: true\n"
				  "    'n': null\n" /* YAML 1.1 reads a plain n as false */
				  "  empty: []\n"
				  "  none: {}\n");
	free(yaml);
	roundtrip(obj);
	cJSON_Delete(obj);
	assert_null(manifest_to_yaml(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(manifest__multi_doc_yaml__objects_in_order),
		cmocka_unit_test(manifest__json_file__parsed_as_yaml),
		cmocka_unit_test(manifest__json_syntax_error__line_and_column),
		cmocka_unit_test(manifest__list_kind__flattened),
		cmocka_unit_test(manifest__list_item_not_mapping__error),
		cmocka_unit_test(manifest__empty_input__empty_array),
		cmocka_unit_test(manifest__bad_yaml__line_and_column),
		cmocka_unit_test(manifest__mapping_value_in_scalar__libyaml_message),
		cmocka_unit_test(manifest__truncated__error),
		cmocka_unit_test(manifest__oversized__e2big),
		cmocka_unit_test(manifest__too_many_objects__e2big),
		cmocka_unit_test(manifest__too_deep__e2big),
		cmocka_unit_test(manifest__duplicate_key__names_key_and_line),
		cmocka_unit_test(manifest__duplicate_key_in_large_mapping__detected),
		cmocka_unit_test(manifest__alias__expanded),
		cmocka_unit_test(manifest__alias_bomb__e2big),
		cmocka_unit_test(manifest__undefined_or_recursive_alias__error),
		cmocka_unit_test(manifest__merge_key__rejected),
		cmocka_unit_test(manifest__complex_key__rejected),
		cmocka_unit_test(manifest__scalars__core_schema),
		cmocka_unit_test(manifest__tags__explicit_types),
		cmocka_unit_test(manifest__top_level_not_mapping__names_document),
		cmocka_unit_test(manifest__invalid_utf8__error),
		cmocka_unit_test(manifest__to_yaml__round_trips),
		cmocka_unit_test(manifest__to_yaml__quotes_ambiguous_strings),
		cmocka_unit_test(manifest__to_yaml__block_style_and_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
