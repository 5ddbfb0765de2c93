// SPDX-License-Identifier: Apache-2.0
/* cli/print.c: kubectl-like tables, result lines and the status report from API fixtures. */
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

#include "cli/print.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/fixtures"
#endif

#define FIXTURE_MAX_BYTES (1u << 20)

static cJSON *load_fixture(const char *name)
{
	char path[512], *buf;
	cJSON *j;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
	f = fopen(path, "re");
	if (!f)
		fail_msg("open %s: %s", path, strerror(errno));
	buf = malloc(FIXTURE_MAX_BYTES);
	assert_non_null(buf);
	n = fread(buf, 1, FIXTURE_MAX_BYTES, f);
	fclose(f);
	j = cJSON_ParseWithLength(buf, n);
	free(buf);
	if (!j)
		fail_msg("%s: not JSON", path);
	return j;
}

/* Output capture through open_memstream. */
struct cap {
	FILE *f;
	char *buf;
	size_t len;
};

static void cap_open(struct cap *c)
{
	*c = (struct cap){};
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

/* Closes the stream; the text stays in c->buf until cap_free. */
static const char *cap_text(struct cap *c)
{
	if (c->f) {
		assert_int_equal(fclose(c->f), 0);
		c->f = NULL;
	}
	return c->buf;
}

static void cap_free(struct cap *c)
{
	if (c->f)
		fclose(c->f);
	free(c->buf);
	*c = (struct cap){};
}

/* Renders fixture as a table of res filtered to ns; checks rows and the exact text. */
static void check_table(const char *fixture, enum print_res res, const char *ns, bool wide,
			int want_rows, const char *want)
{
	cJSON *resp = load_fixture(fixture), *list;
	struct cap c;

	list = print_filter_ns(res, resp, ns);
	assert_non_null(list);
	cap_open(&c);
	assert_int_equal(print_table(c.f, res, list, ns == NULL, wide), want_rows);
	assert_string_equal(cap_text(&c), want);
	cap_free(&c);
	cJSON_Delete(list);
	cJSON_Delete(resp);
}

/* --- pods ----------------------------------------------------------------------------------- */

static void print_table__pods_default_ns__ready_status_ip(void **state)
{
	(void)state;
	check_table("api_pods.json", PRINT_RES_PODS, "default", false, 2,
		    "NAME      READY  STATUS   IP\n"
		    "client-0  1/1    Running  10.88.0.5\n"
		    "web-1     0/2    Pending  <none>\n");
}

static void print_table__pods_all_ns_wide__namespace_and_node_iface(void **state)
{
	(void)state;
	check_table("api_pods.json", PRINT_RES_PODS, NULL, true, 3,
		    "NAMESPACE  NAME      READY  STATUS   IP          NODE-IFACE\n"
		    "default    client-0  1/1    Running  10.88.0.5   veth1a2b3c\n"
		    "default    web-1     0/2    Pending  <none>      <none>\n"
		    "demo       api       1/1    Running  10.88.0.17  veth77\n");
}

static void print_table__pods_other_ns__only_that_ns(void **state)
{
	(void)state;
	check_table("api_pods.json", PRINT_RES_PODS, "demo", false, 1,
		    "NAME  READY  STATUS   IP\n"
		    "api   1/1    Running  10.88.0.17\n");
}

static void print_table__pods_empty__zero_rows_no_output(void **state)
{
	(void)state;
	check_table("api_pods_empty.json", PRINT_RES_PODS, "default", false, 0, "");
}

static void print_table__pods_absent_ns__zero_rows_no_output(void **state)
{
	(void)state;
	check_table("api_pods.json", PRINT_RES_PODS, "nowhere", true, 0, "");
}

/* --- services ------------------------------------------------------------------------------- */

static void print_table__services_wide__ports_nodeport_sorted_selector(void **state)
{
	(void)state;
	check_table("api_services.json", PRINT_RES_SERVICES, "default", true, 2,
		    "NAME  TYPE       CLUSTER-IP  EXTERNAL-IP  PORT(S)        SELECTOR\n"
		    "web   ClusterIP  10.96.0.10  <none>       80/TCP,53/UDP  app=web,tier=front\n"
		    "edge  NodePort   10.96.0.20  <none>       80:30080/TCP   app=edge\n");
}

static void print_table__services_external_ips__listed_or_pending(void **state)
{
	(void)state;
	check_table("api_services.json", PRINT_RES_SERVICES, "demo", false, 2,
		    "NAME  TYPE          CLUSTER-IP  EXTERNAL-IP          PORT(S)\n"
		    "db    ClusterIP     None        192.0.2.1,192.0.2.2  <none>\n"
		    "lb    LoadBalancer  10.96.0.30  <pending>            443:31443/TCP\n");
}

/* --- endpoints ------------------------------------------------------------------------------ */

static void print_table__endpoints_many_ready__three_then_more(void **state)
{
	(void)state;
	check_table("api_endpoints.json", PRINT_RES_ENDPOINTS, "default", false, 2,
		    "NAME   ENDPOINTS\n"
		    "web    10.0.0.5:8080,10.0.0.6:8080,10.0.0.7:8080 + 1 more...\n"
		    "empty  <none>\n");
}

static void print_table__endpoints_headless_and_v6__bare_and_bracketed(void **state)
{
	(void)state;
	check_table("api_endpoints.json", PRINT_RES_ENDPOINTS, NULL, false, 4,
		    "NAMESPACE  NAME      ENDPOINTS\n"
		    "default    web       10.0.0.5:8080,10.0.0.6:8080,10.0.0.7:8080 + 1 more...\n"
		    "default    empty     <none>\n"
		    "demo       headless  10.0.1.1,fd00::1\n"
		    "demo       v6        [fd00::2]:80,[fd00::2]:443\n");
}

static void print_endpoints_col__tiny_buffer__truncated_and_terminated(void **state)
{
	cJSON *resp = load_fixture("api_endpoints.json");
	const cJSON *web = cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "items"), 0);
	char buf[12];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	print_endpoints_col(web, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.5:80");
	cJSON_Delete(resp);
}

/* --- policies, namespaces ------------------------------------------------------------------- */

static void print_table__policies_wide__selector_requirements_sorted(void **state)
{
	(void)state;
	check_table(
	    "api_policies.json", PRINT_RES_POLICIES, "default", true, 2,
	    "NAME       POD-SELECTOR                                         POLICY-TYPES\n"
	    "deny-all   <none>                                               Ingress,Egress\n"
	    "allow-web  app=web,canary,!legacy,tier in (a,b),zone notin (x)  Ingress\n");
}

static void print_table__policies__name_and_selector(void **state)
{
	(void)state;
	check_table("api_policies.json", PRINT_RES_POLICIES, "default", false, 2,
		    "NAME       POD-SELECTOR\n"
		    "deny-all   <none>\n"
		    "allow-web  app=web,canary,!legacy,tier in (a,b),zone notin (x)\n");
}

static void print_table__namespaces_all_ns__no_namespace_column(void **state)
{
	(void)state;
	check_table("api_namespaces.json", PRINT_RES_NAMESPACES, NULL, false, 2,
		    "NAME     STATUS\n"
		    "default  Active\n"
		    "demo     Terminating\n");
}

static void print_filter_ns__cluster_scoped__keeps_all(void **state)
{
	cJSON *resp = load_fixture("api_namespaces.json"), *list;

	(void)state;
	list = print_filter_ns(PRINT_RES_NAMESPACES, resp, "demo");
	assert_non_null(list);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")), 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(list, "kind")),
			    "NamespaceList");
	cJSON_Delete(list);
	cJSON_Delete(resp);
}

/* --- malformed answers ---------------------------------------------------------------------- */

static void print_table__items_not_array__einval_no_output(void **state)
{
	cJSON *resp = load_fixture("api_bad_noitems.json");
	struct cap c;

	(void)state;
	assert_null(print_filter_ns(PRINT_RES_PODS, resp, "default"));
	cap_open(&c);
	assert_int_equal(print_table(c.f, PRINT_RES_PODS, resp, false, false), -EINVAL);
	assert_string_equal(cap_text(&c), "");
	cap_free(&c);
	cJSON_Delete(resp);
}

static void print_table__item_not_object__einval_no_output(void **state)
{
	cJSON *resp = load_fixture("api_bad_item.json");
	struct cap c;

	(void)state;
	cap_open(&c);
	assert_int_equal(print_table(c.f, PRINT_RES_PODS, resp, true, true), -EINVAL);
	assert_string_equal(cap_text(&c), "");
	cap_free(&c);
	cJSON_Delete(resp);
}

static void print_no_resources__namespaced_and_cluster__kubectl_wording(void **state)
{
	struct cap c;

	(void)state;
	cap_open(&c);
	print_no_resources(c.f, PRINT_RES_PODS, "default");
	print_no_resources(c.f, PRINT_RES_SERVICES, NULL);
	print_no_resources(c.f, PRINT_RES_NAMESPACES, "default");
	assert_string_equal(cap_text(&c), "No resources found in default namespace.\n"
					  "No resources found\n"
					  "No resources found\n");
	cap_free(&c);
}

/* --- resources, results --------------------------------------------------------------------- */

static void print_res_parse__kubectl_names__map_to_resource(void **state)
{
	static const struct {
		const char *word;
		enum print_res res;
	} cases[] = {
	    {"po", PRINT_RES_PODS},
	    {"pod", PRINT_RES_PODS},
	    {"svc", PRINT_RES_SERVICES},
	    {"services", PRINT_RES_SERVICES},
	    {"ep", PRINT_RES_ENDPOINTS},
	    {"endpoints", PRINT_RES_ENDPOINTS},
	    {"netpol", PRINT_RES_POLICIES},
	    {"policy", PRINT_RES_POLICIES},
	    {"networkpolicies", PRINT_RES_POLICIES},
	    {"ns", PRINT_RES_NAMESPACES},
	    {"namespace", PRINT_RES_NAMESPACES},
	};
	enum print_res res;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		res = cases[i].res == PRINT_RES_PODS ? PRINT_RES_SERVICES : PRINT_RES_PODS;
		assert_int_equal(print_res_parse(cases[i].word, &res), 0);
		assert_int_equal(res, cases[i].res);
	}
	assert_string_equal(print_res_path(PRINT_RES_ENDPOINTS), "/v1/endpoints");
	assert_string_equal(print_res_path(PRINT_RES_POLICIES), "/v1/objects/networkpolicies");
}

static void print_res_parse__unknown_word__einval_untouched(void **state)
{
	enum print_res res = PRINT_RES_SERVICES;

	(void)state;
	assert_int_equal(print_res_parse("deployments", &res), -EINVAL);
	assert_int_equal(print_res_parse("", &res), -EINVAL);
	assert_int_equal(print_res_parse(NULL, &res), -EINVAL);
	assert_int_equal(res, PRINT_RES_SERVICES);
}

static void print_results__apply__kubectl_lines(void **state)
{
	cJSON *resp = load_fixture("api_apply.json");
	struct cap c;

	(void)state;
	cap_open(&c);
	assert_int_equal(print_results(c.f, resp, false), 6);
	assert_string_equal(cap_text(&c), "namespace/demo created\n"
					  "service/web created\n"
					  "pod/client-0 unchanged\n"
					  "networkpolicy.networking.k8s.io/deny configured\n"
					  "endpointslice.discovery.k8s.io/x created\n"
					  "configmap/cfg created\n");
	cap_free(&c);
	cJSON_Delete(resp);
}

static void print_results__delete__quoted_names(void **state)
{
	cJSON *resp = load_fixture("api_delete.json");
	struct cap c;

	(void)state;
	cap_open(&c);
	assert_int_equal(print_results(c.f, resp, true), 2);
	assert_string_equal(cap_text(&c), "service \"web\" deleted\n"
					  "networkpolicy.networking.k8s.io \"deny\" deleted\n");
	cap_free(&c);
	cJSON_Delete(resp);
}

static void print_results__no_results_list__einval_no_output(void **state)
{
	cJSON *resp = load_fixture("api_pods.json");
	struct cap c;

	(void)state;
	cap_open(&c);
	assert_int_equal(print_results(c.f, resp, false), -EINVAL);
	assert_string_equal(cap_text(&c), "");
	cap_free(&c);
	cJSON_Delete(resp);
}

/* --- status --------------------------------------------------------------------------------- */

static void print_status__full_answer__report_with_fill(void **state)
{
	cJSON *resp = load_fixture("api_status.json");
	struct cap c;

	(void)state;
	cap_open(&c);
	assert_int_equal(print_status(c.f, resp), 0);
	assert_string_equal(cap_text(&c),
			    "Agent version:  0.1.0-dev\n"
			    "bpffs:          /sys/fs/bpf/sluice\n"
			    "Node:           name=lab podCIDR=10.88.0.0/16\n"
			    "Objects:        pods=3 services=2\n"
			    "Endpoints:      4\n"
			    "Reconcile:      runs=10 writes=42 last_writes=0 errors=1\n"
			    "\n"
			    "PROGRAM         LOADED  LINKS\n"
			    "sluice_tc_in    yes     3\n"
			    "sluice_sockops  no      0\n"
			    "\n"
			    "MAP         FILL      USE\n"
			    "sluice_svc  12/65536  0.0%\n"
			    "sluice_ep   512/1024  50.0%\n");
	cap_free(&c);
	cJSON_Delete(resp);
}

static void print_status__not_object__einval_no_output(void **state)
{
	cJSON *arr = cJSON_CreateArray();
	struct cap c;

	(void)state;
	cap_open(&c);
	assert_int_equal(print_status(c.f, arr), -EINVAL);
	assert_int_equal(print_status(c.f, NULL), -EINVAL);
	assert_string_equal(cap_text(&c), "");
	cap_free(&c);
	cJSON_Delete(arr);
}

/* --- JSON ----------------------------------------------------------------------------------- */

static void print_json__nested_and_empty__four_space_indent(void **state)
{
	cJSON *j = cJSON_Parse("{\"kind\":\"List\",\"items\":[{\"a\":1,\"b\":[]},{}],"
			       "\"e\":{},\"q\\\"k\":\"v\\n\",\"t\":true,\"n\":null}");
	struct cap c;

	(void)state;
	assert_non_null(j);
	cap_open(&c);
	assert_int_equal(print_json(c.f, j), 0);
	assert_string_equal(cap_text(&c), "{\n"
					  "    \"kind\": \"List\",\n"
					  "    \"items\": [\n"
					  "        {\n"
					  "            \"a\": 1,\n"
					  "            \"b\": []\n"
					  "        },\n"
					  "        {}\n"
					  "    ],\n"
					  "    \"e\": {},\n"
					  "    \"q\\\"k\": \"v\\n\",\n"
					  "    \"t\": true,\n"
					  "    \"n\": null\n"
					  "}\n");
	cap_free(&c);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(print_table__pods_default_ns__ready_status_ip),
	    cmocka_unit_test(print_table__pods_all_ns_wide__namespace_and_node_iface),
	    cmocka_unit_test(print_table__pods_other_ns__only_that_ns),
	    cmocka_unit_test(print_table__pods_empty__zero_rows_no_output),
	    cmocka_unit_test(print_table__pods_absent_ns__zero_rows_no_output),
	    cmocka_unit_test(print_table__services_wide__ports_nodeport_sorted_selector),
	    cmocka_unit_test(print_table__services_external_ips__listed_or_pending),
	    cmocka_unit_test(print_table__endpoints_many_ready__three_then_more),
	    cmocka_unit_test(print_table__endpoints_headless_and_v6__bare_and_bracketed),
	    cmocka_unit_test(print_endpoints_col__tiny_buffer__truncated_and_terminated),
	    cmocka_unit_test(print_table__policies_wide__selector_requirements_sorted),
	    cmocka_unit_test(print_table__policies__name_and_selector),
	    cmocka_unit_test(print_table__namespaces_all_ns__no_namespace_column),
	    cmocka_unit_test(print_filter_ns__cluster_scoped__keeps_all),
	    cmocka_unit_test(print_table__items_not_array__einval_no_output),
	    cmocka_unit_test(print_table__item_not_object__einval_no_output),
	    cmocka_unit_test(print_no_resources__namespaced_and_cluster__kubectl_wording),
	    cmocka_unit_test(print_res_parse__kubectl_names__map_to_resource),
	    cmocka_unit_test(print_res_parse__unknown_word__einval_untouched),
	    cmocka_unit_test(print_results__apply__kubectl_lines),
	    cmocka_unit_test(print_results__delete__quoted_names),
	    cmocka_unit_test(print_results__no_results_list__einval_no_output),
	    cmocka_unit_test(print_status__full_answer__report_with_fill),
	    cmocka_unit_test(print_status__not_object__einval_no_output),
	    cmocka_unit_test(print_json__nested_and_empty__four_space_indent),
	};

	return cmocka_run_group_tests_name("cli_print", tests, NULL, NULL);
}
