// SPDX-License-Identifier: Apache-2.0
/*
 * HTTPPolicy (sluice.dev/v1alpha1): validation through store_apply (every error names the
 * object, the field and the value, and nothing is stored), and agent/policy/l7_build, whose
 * sluice_l7_port and sluice_l7_rule records are read back the way the datapath reads them
 * (l7_http.bpf.c: the (address, port) entry's set, then rules {set, 0 .. n_rules - 1}).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#include "agent/policy/l7.h"
#include "agent/state/store.h"
#include "sl_abi.h"

#define PREC (sizeof(struct sl_l7_port_key) + sizeof(struct sl_l7_port_val))
#define RREC (sizeof(struct sl_l7_rule_key) + sizeof(struct sl_l7_rule))

struct t {
	struct store *st;
	struct l7_desired d;
	int next_if;
	char err[512];
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t || store_new(&t->st) < 0) {
		free(t);
		return -1;
	}
	t->next_if = 10;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	store_free(t->st);
	l7_desired_free(&t->d);
	free(t);
	return 0;
}

/* Applies JSON (single quotes for double); returns store_apply's result, error in t->err. */
static int try_apply(struct t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int try_apply(struct t *t, const char *fmt, ...)
{
	char json[4096], *c;
	cJSON *items, *res = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	for (c = json; *c; c++)
		if (*c == '\'')
			*c = '"';
	items = cJSON_Parse(json);
	if (!items)
		fail_msg("bad test JSON: %s", json);
	r = store_apply(t->st, items, &res, t->err, sizeof(t->err));
	cJSON_Delete(res);
	cJSON_Delete(items);
	return r;
}

static void pod(struct t *t, const char *nsn, const char *name, const char *labels,
		const char *ports, const char *ip)
{
	struct store_ep e = { .host_ifindex = t->next_if++, .n_ips = 1 };
	unsigned int id;

	assert_int_equal(try_apply(t,
				   "[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s',"
				   "'namespace':'%s','labels':{%s}},'spec':{'containers':[{'name':'c',"
				   "'image':'x','ports':[%s]}]}}]",
				   name, nsn, labels, ports),
			 0);
	snprintf(e.container_id, sizeof(e.container_id), "%s-%s", nsn, name);
	snprintf(e.pod_ns, sizeof(e.pod_ns), "%s", nsn);
	snprintf(e.pod_name, sizeof(e.pod_name), "%s", name);
	snprintf(e.host_ifname, sizeof(e.host_ifname), "veth%d", e.host_ifindex);
	snprintf(e.ips[0], sizeof(e.ips[0]), "%s", ip);
	assert_int_equal(store_ep_add(t->st, &e, &id), 0);
}

static void httppol(struct t *t, const char *nsn, const char *name, const char *spec)
{
	if (try_apply(t,
		      "[{'apiVersion':'sluice.dev/v1alpha1','kind':'HTTPPolicy','metadata':"
		      "{'name':'%s','namespace':'%s'},'spec':%s}]",
		      name, nsn, spec) < 0)
		fail_msg("apply: %s", t->err);
}

static void build(struct t *t)
{
	l7_desired_free(&t->d);
	if (l7_build(t->st, &t->d, t->err, sizeof(t->err)) < 0)
		fail_msg("l7_build: %s", t->err);
}

/* The rules the datapath would scan for ip:port; NULL (and *n = 0) when it has none. */
static const struct sl_l7_rule *rules_of(struct t *t, const char *ip, uint16_t port, size_t *n,
					 struct sl_l7_rule *out, size_t cap)
{
	struct sl_l7_port_key k = { .port = htons(port), .family = SL_AF_INET };
	const unsigned char *p = t->d.ports, *r = t->d.rules;
	struct sl_l7_port_val v;
	struct sl_l7_rule_key rk;
	size_t i, j;

	assert_int_equal(inet_pton(AF_INET, ip, k.addr), 1);
	*n = 0;
	for (i = 0; i < t->d.n_ports; i++, p += PREC) {
		if (memcmp(p, &k, sizeof(k)))
			continue;
		memcpy(&v, p + sizeof(k), sizeof(v));
		assert_true(v.n_rules <= cap);
		for (j = 0; j < v.n_rules; j++) {
			size_t m;
			bool found = false;

			for (m = 0, r = t->d.rules; m < t->d.n_rules; m++, r += RREC) {
				memcpy(&rk, r, sizeof(rk));
				if (rk.set == v.set && rk.idx == j) {
					memcpy(&out[j], r + sizeof(rk), sizeof(out[j]));
					found = true;
				}
			}
			assert_true(found);
		}
		*n = v.n_rules;
		return out;
	}
	return NULL;
}

static void pods3(struct t *t)
{
	pod(t, "default", "web-1", "'app':'web'", "{'name':'http','containerPort':8080}",
	    "10.244.0.2");
	pod(t, "default", "web-2", "'app':'web'", "{'name':'http','containerPort':9090}",
	    "10.244.0.3");
	pod(t, "default", "db", "'app':'db'", "", "10.244.0.4");
}

/* --- compile -------------------------------------------------------------------------------- */

static void selected_pods_get_their_named_port(void **state)
{
	struct t *t = *state;
	struct sl_l7_rule r[64];
	size_t n;

	pods3(t);
	httppol(t, "default", "p",
		"{'podSelector':{'matchLabels':{'app':'web'}},'ports':[{'port':'http'}],"
		"'rules':[{'methods':['GET','HEAD'],'path':{'prefix':'/api'}},"
		"{'host':'Admin.Example','upgrade':true}]}");
	build(t);
	assert_int_equal(t->d.n_ports, 2);
	assert_non_null(rules_of(t, "10.244.0.2", 8080, &n, r, 64));
	assert_int_equal(n, 2);
	assert_int_equal(r[0].methods, (1u << SL_HTTP_GET) | (1u << SL_HTTP_HEAD));
	assert_int_equal(r[0].path_kind, SL_L7_PATH_PREFIX);
	assert_int_equal(r[0].path_len, 4);
	assert_memory_equal(r[0].path, "/api", 4);
	assert_int_equal(r[0].host_len, 0);
	assert_int_equal(r[1].methods, 0);
	assert_int_equal(r[1].path_kind, SL_L7_PATH_ANY);
	assert_int_equal(r[0].flags, 0);
	assert_int_equal(r[1].flags, SL_L7_RULE_F_UPGRADE);
	assert_int_equal(r[1].host_len, 13);
	assert_memory_equal(r[1].host, "admin.example", 13); /* lower case, as requests are */
	assert_string_equal(l7_policy_name(&t->d, r[0].policy), "default/p");
	/* web-2 names http 9090; the db pod is not selected */
	assert_non_null(rules_of(t, "10.244.0.3", 9090, &n, r, 64));
	assert_null(rules_of(t, "10.244.0.3", 8080, &n, r, 64));
	assert_null(rules_of(t, "10.244.0.4", 8080, &n, r, 64));
	/* the two web pods share one set */
	assert_int_equal(t->d.n_sets, 1);
	assert_int_equal(t->d.n_rules, 2);
}

static void union_of_policies_no_rules_denies_other_namespace_ignored(void **state)
{
	struct t *t = *state;
	struct sl_l7_rule r[64];
	size_t n;

	pods3(t);
	assert_int_equal(try_apply(t, "[{'apiVersion':'v1','kind':'Namespace','metadata':"
				      "{'name':'other'}}]"),
			 0);
	httppol(t, "default", "a",
		"{'podSelector':{},'ports':[{'port':8080}],'rules':[{'path':{'exact':'/a'}}]}");
	httppol(t, "default", "b",
		"{'podSelector':{'matchLabels':{'app':'web'}},'ports':[{'port':8080},"
		"{'port':'http'}],'rules':[{'methods':['POST']}]}");
	httppol(t, "default", "none", "{'podSelector':{'matchLabels':{'app':'db'}},"
				      "'ports':[{'port':5432}]}");
	httppol(t, "other", "c", "{'podSelector':{},'ports':[{'port':8080}],'rules':[{}]}");
	build(t);
	/* web-1: a and b on 8080 (b lists it twice, by number and by name: once) */
	assert_non_null(rules_of(t, "10.244.0.2", 8080, &n, r, 64));
	assert_int_equal(n, 2);
	assert_string_equal(l7_policy_name(&t->d, r[0].policy), "default/a");
	assert_string_equal(l7_policy_name(&t->d, r[1].policy), "default/b");
	/* web-2: a on 8080, b on 8080 and 9090 */
	assert_non_null(rules_of(t, "10.244.0.3", 9090, &n, r, 64));
	assert_int_equal(n, 1);
	assert_int_equal(r[0].methods, 1u << SL_HTTP_POST);
	/* db: a on 8080; and 5432 with no rules at all, which denies every request */
	assert_non_null(rules_of(t, "10.244.0.4", 5432, &n, r, 64));
	assert_int_equal(n, 0);
	assert_non_null(rules_of(t, "10.244.0.4", 8080, &n, r, 64));
	assert_int_equal(n, 1);
	assert_int_equal(r[0].path_kind, SL_L7_PATH_EXACT);
}

static void too_many_rules_for_one_port__refused_naming_them(void **state)
{
	struct t *t = *state;
	char spec[4096];
	size_t o;
	int i;

	pods3(t);
	o = (size_t)snprintf(spec, sizeof(spec), "{'podSelector':{},'ports':[{'port':8080}],'rules':[");
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(spec + o, sizeof(spec) - o, "%s{'path':{'exact':'/p%d'}}",
				      i ? "," : "", i);
	snprintf(spec + o, sizeof(spec) - o, "]}");
	httppol(t, "default", "forty", spec);
	httppol(t, "default", "forty-two", spec);
	assert_int_equal(l7_build(t->st, &t->d, t->err, sizeof(t->err)), -E2BIG);
	assert_non_null(strstr(t->err, "port 8080: default/forty, default/forty-two together have "
				       "80 rules; at most 64"));
}

/* --- validation ----------------------------------------------------------------------------- */

static void invalid__refused_with_field_and_nothing_stored(void **state)
{
	static const struct {
		const char *spec;
		const char *want;
	} cases[] = {
		{ "{'ports':[{'port':80}]}", "spec.podSelector: required" },
		{ "{'podSelector':{}}", "spec.ports: required" },
		{ "{'podSelector':{},'ports':[]}", "spec.ports: must list at least one port" },
		{ "{'podSelector':{},'ports':[{'port':70000}]}",
		  "spec.ports[0].port: must be between 1 and 65535, got 70000" },
		{ "{'podSelector':{},'ports':[{'port':80,'protocol':'UDP'}]}",
		  "spec.ports[0].protocol: must be TCP" },
		{ "{'podSelector':{},'ports':[{'port':'Http_'}]}",
		  "spec.ports[0].port: must be a port number or an IANA service name" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'methods':['GET','FETCH']}]}",
		  "spec.rules[0].methods[1]: must be one of GET, HEAD" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'methods':['GET','GET']}]}",
		  "spec.rules[0].methods[1]: duplicate method" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'path':{}}]}",
		  "spec.rules[0].path: must have exactly one of exact, prefix" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'path':{'exact':'a'}}]}",
		  "spec.rules[0].path.exact: must start with '/'" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'path':{'prefix':'/a//b'}}]}",
		  "spec.rules[0].path.prefix: can never match" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'path':{'prefix':'/a/./b'}}]}",
		  "spec.rules[0].path.prefix: can never match" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'path':{'exact':'/%%2e%%2e'}}]}",
		  "spec.rules[0].path.exact: can never match" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'path':{'exact':'/a?b=1'}}]}",
		  "spec.rules[0].path.exact: must be printable ASCII without spaces, '?'" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'host':'a.com:80'}]}",
		  "spec.rules[0].host: must be a host name or an IP address" },
		{ "{'podSelector':{},'ports':[{'port':80}],'rules':[{'upgrade':'yes'}]}",
		  "spec.rules[0].upgrade: must be a boolean" },
	};
	struct t *t = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = try_apply(t,
				  "[{'apiVersion':'sluice.dev/v1alpha1','kind':'HTTPPolicy',"
				  "'metadata':{'name':'bad','namespace':'default'},'spec':%s}]",
				  cases[i].spec);

		assert_int_equal(r, -EINVAL);
		if (!strstr(t->err, "HTTPPolicy default/bad: ") || !strstr(t->err, cases[i].want))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, t->err, cases[i].want);
		assert_int_equal(store_count(t->st, OBJ_HTTPPOLICY), 0);
	}
}

static void valid_edge_cases__accepted(void **state)
{
	struct t *t = *state;

	httppol(t, "default", "ok",
		"{'podSelector':{},'ports':[{'port':80,'protocol':'TCP'},{'port':'http'}],"
		"'rules':[{},{'path':{'prefix':'/'}},{'path':{'exact':'/a.b/...c/'}},"
		"{'host':'[fd00::1]'},{'host':'10.0.0.1'}]}");
	httppol(t, "default", "deny-all", "{'podSelector':{},'ports':[{'port':81}],'rules':[]}");
	assert_int_equal(store_count(t->st, OBJ_HTTPPOLICY), 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(selected_pods_get_their_named_port),
		T(union_of_policies_no_rules_denies_other_namespace_ignored),
		T(too_many_rules_for_one_port__refused_naming_them),
		T(invalid__refused_with_field_and_nothing_stored),
		T(valid_edge_cases__accepted),
	};
#undef T
	return cmocka_run_group_tests_name("l7", tests, NULL, NULL);
}
