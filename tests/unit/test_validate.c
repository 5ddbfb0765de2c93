// SPDX-License-Identifier: Apache-2.0
/* agent/state/validate.c: object validation, defaults, keys and selector matching. */
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

#include "agent/state/validate.h"
#include "lib/fileio.h"
#include "lib/manifest.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/fixtures"
#endif

static cJSON *fixture_items(const char *name)
{
	char path[512], err[256];
	cJSON *items = NULL;
	size_t len;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
	buf = fileio_read_path(path, 1u << 24, &len);
	if (!buf)
		fail_msg("cannot read fixture %s", path);
	if (manifest_parse(buf, len, name, &items, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free(buf);
	return items;
}

/* Follows a path of object keys and array indexes ("spec", "ports", "#0", "port"). */
static const cJSON *at(const cJSON *v, ...)
{
	const char *k;
	va_list ap;

	va_start(ap, v);
	while ((k = va_arg(ap, const char *)))
		v = k[0] == '#' ? cJSON_GetArrayItem(v, atoi(k + 1)) :
				  cJSON_GetObjectItemCaseSensitive(v, k);
	va_end(ap);
	return v;
}

static const char *str_at(const cJSON *v)
{
	return cJSON_IsString(v) ? v->valuestring : "(not a string)";
}

static void validate__good_objects__accepted_with_kind(void **state)
{
	static const enum obj_kind want[] = { OBJ_NAMESPACE,	 OBJ_POD,	    OBJ_SERVICE,
					      OBJ_SERVICE,	 OBJ_SERVICE,	    OBJ_ENDPOINTSLICE,
					      OBJ_ENDPOINTSLICE, OBJ_NETWORKPOLICY, OBJ_NETWORKPOLICY };
	cJSON *items = fixture_items("validate_good.yaml"), *it;
	enum obj_kind kind;
	char err[512];
	size_t i = 0;

	(void)state;
	assert_int_equal(cJSON_GetArraySize(items), sizeof(want) / sizeof(want[0]));
	cJSON_ArrayForEach(it, items) {
		kind = OBJ_KIND_MAX;
		if (obj_validate(it, &kind, err, sizeof(err)) != 0)
			fail_msg("object %zu: %s", i + 1, err);
		assert_int_equal(kind, want[i]);
		/* Validating a validated object changes nothing. */
		{
			cJSON *copy = cJSON_Duplicate(it, true);

			assert_int_equal(obj_validate(copy, &kind, err, sizeof(err)), 0);
			assert_true(cJSON_Compare(copy, it, true));
			cJSON_Delete(copy);
		}
		i++;
	}
	cJSON_Delete(items);
}

static void validate__defaults__filled_as_api_server(void **state)
{
	cJSON *items = fixture_items("validate_good.yaml"), *it;
	const cJSON *ns, *pod, *svc, *np_svc, *headless, *es, *np, *deny;
	enum obj_kind kind;
	char err[512];

	(void)state;
	cJSON_ArrayForEach(it, items)
		assert_int_equal(obj_validate(it, &kind, err, sizeof(err)), 0);
	ns = cJSON_GetArrayItem(items, 0);
	pod = cJSON_GetArrayItem(items, 1);
	svc = cJSON_GetArrayItem(items, 2);
	np_svc = cJSON_GetArrayItem(items, 3);
	headless = cJSON_GetArrayItem(items, 4);
	es = cJSON_GetArrayItem(items, 6);
	np = cJSON_GetArrayItem(items, 7);
	deny = cJSON_GetArrayItem(items, 8);

	/* Cluster-scoped: namespace dropped. Namespaced: "default" when absent. */
	assert_null(at(ns, "metadata", "namespace", NULL));
	assert_string_equal(str_at(at(np_svc, "metadata", "namespace", NULL)), "default");

	assert_string_equal(str_at(at(pod, "spec", "containers", "#0", "ports", "#0", "protocol",
				      NULL)),
			    "TCP");
	assert_string_equal(str_at(at(pod, "spec", "containers", "#0", "ports", "#1", "protocol",
				      NULL)),
			    "UDP");

	assert_string_equal(str_at(at(svc, "spec", "type", NULL)), "ClusterIP");
	assert_string_equal(str_at(at(svc, "spec", "sessionAffinity", NULL)), "None");
	assert_null(at(svc, "spec", "sessionAffinityConfig", NULL));
	assert_string_equal(str_at(at(svc, "spec", "ports", "#0", "protocol", NULL)), "TCP");
	assert_int_equal(at(svc, "spec", "ports", "#0", "targetPort", NULL)->valueint, 80);

	assert_string_equal(str_at(at(np_svc, "spec", "ports", "#0", "targetPort", NULL)), "http");
	assert_int_equal(at(np_svc, "spec", "ports", "#1", "targetPort", NULL)->valueint, 5353);
	assert_int_equal(at(np_svc, "spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds",
			    NULL)
				 ->valueint,
			 10800);

	assert_string_equal(str_at(at(headless, "spec", "clusterIPs", "#0", NULL)), "None");

	assert_string_equal(str_at(at(es, "ports", "#0", "protocol", NULL)), "TCP");

	assert_int_equal(cJSON_GetArraySize(at(np, "spec", "policyTypes", NULL)), 2);
	assert_string_equal(str_at(at(np, "spec", "policyTypes", "#0", NULL)), "Ingress");
	assert_string_equal(str_at(at(np, "spec", "policyTypes", "#1", NULL)), "Egress");
	assert_string_equal(str_at(at(np, "spec", "ingress", "#0", "ports", "#0", "protocol",
				      NULL)),
			    "TCP");
	assert_int_equal(cJSON_GetArraySize(at(deny, "spec", "policyTypes", NULL)), 1);
	assert_string_equal(str_at(at(deny, "spec", "policyTypes", "#0", NULL)), "Ingress");
	cJSON_Delete(items);
}

/* validate_bad.yaml, document by document. */
static const char *const bad_errors[] = {
	"Deployment default/web: kind: unsupported kind with apiVersion apps/v1 (supported: v1 "
	"Namespace, Pod, Service; discovery.k8s.io/v1 EndpointSlice; networking.k8s.io/v1 "
	"NetworkPolicy), got \"Deployment\"",
	"Service default/web: apiVersion: kind Service is served as v1, got \"apps/v1\"",
	"object default/web: kind: required",
	"Pod default/web: apiVersion: required",
	"Pod (unnamed): metadata.name: required",
	"Pod default/Web_0: metadata.name: must be a DNS-1123 subdomain (at most 253 lower-case "
	"alphanumerics, '-' or '.', starting and ending alphanumeric), got \"Web_0\"",
	"Namespace a.b: metadata.name: must be a DNS-1123 label (at most 63 lower-case "
	"alphanumerics or '-', starting and ending alphanumeric), got \"a.b\"",
	"Service default/1web: metadata.name: must be a DNS-1035 label (at most 63 lower-case "
	"alphanumerics or '-', starting with a letter and ending alphanumeric), got \"1web\"",
	"Pod Shop/web: metadata.namespace: must be a DNS-1123 label (at most 63 lower-case "
	"alphanumerics or '-', starting and ending alphanumeric), got \"Shop\"",
	"Pod default/web: metadata.labels: invalid key: must be a qualified name: an optional "
	"DNS-1123 subdomain prefix and '/', then at most 63 alphanumerics, '-', '_' or '.', "
	"starting and ending alphanumeric, got \"bad key\"",
	"Pod default/web: metadata.labels: invalid key: must be a qualified name: an optional "
	"DNS-1123 subdomain prefix and '/', then at most 63 alphanumerics, '-', '_' or '.', "
	"starting and ending alphanumeric, got \"Example.com/app\"",
	"Pod default/web: metadata.labels[app]: invalid value: must be at most 63 alphanumerics, "
	"'-', '_' or '.', starting and ending alphanumeric, got \"-web\"",
	"Pod default/web: metadata.labels[app]: invalid value: must be at most 63 alphanumerics, "
	"'-', '_' or '.', starting and ending alphanumeric, got "
	"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	"Pod default/web: metadata.labels[app]: must be a string, got 5",
	"Pod default/web: spec.containers: must have at least one container",
	"Pod default/web: spec.containers[0].name: must be a DNS-1123 label (at most 63 "
	"lower-case alphanumerics or '-', starting and ending alphanumeric), got \"Main\"",
	"Pod default/web: spec.containers[0].command[1]: must be a string, got 5",
	"Pod default/web: spec.containers[0].ports[0].containerPort: must be between 1 and 65535, "
	"got 0",
	"Pod default/web: spec.containers[0].ports[0].name: must be an IANA service name (at most "
	"15 lower-case alphanumerics or '-', with a letter, no leading, trailing or double '-'), "
	"got \"much-too-long-name\"",
	"Pod default/web: spec.containers[0].ports[0].protocol: must be one of TCP, UDP, SCTP, got "
	"\"tcp\"",
	"Service default/web: spec.type: must be one of ClusterIP, NodePort, LoadBalancer, got "
	"\"ExternalName\"",
	"Service default/web: spec.clusterIP: must be a valid IP address or \"None\", got "
	"\"10.96.0.300\"",
	"Service default/web: spec.ports: required (at least one port)",
	"Service default/web: spec.ports[0].port: must be between 1 and 65535, got 70000",
	"Service default/web: spec.ports[0].port: must be an integer, got \"80\"",
	"Service default/web: spec.ports[1].name: required when the service has more than one "
	"port",
	"Service default/web: spec.ports[1].name: duplicate port name, got \"a\"",
	"Service default/web: spec.ports[0].targetPort: must be a port number or an IANA service "
	"name (at most 15 lower-case alphanumerics or '-', with a letter), got \"8080\"",
	"Service default/web: spec.ports[0].nodePort: may not be used when type is ClusterIP, got "
	"30080",
	"Service default/web: spec.ports[0].nodePort: must be between 30000 and 32767, got 8080",
	"Service default/web: spec.sessionAffinity: must be one of None, ClientIP, got \"Sticky\"",
	"Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be between "
	"1 and 86400, got 86401",
	"Service default/web: spec.externalIPs[0]: must be a valid IP address, got \"not-an-ip\"",
	"Service default/web: spec.selector[app]: invalid value: must be at most 63 alphanumerics, "
	"'-', '_' or '.', starting and ending alphanumeric, got \"a b\"",
	"Service default/web: spec.clusterIP: may not be \"None\" when type is NodePort, got "
	"\"None\"",
	"EndpointSlice default/web-1: addressType: must be one of IPv4, IPv6, FQDN, got \"IPv5\"",
	"EndpointSlice default/web-1: endpoints[0].addresses[0]: must be a valid IPv4 address, got "
	"\"fd00::1\"",
	"EndpointSlice default/web-1: endpoints[0].addresses: required (at least one address)",
	"EndpointSlice default/web-1: endpoints[0].conditions.ready: must be a boolean, got "
	"\"yes\"",
	"EndpointSlice default/web-1: ports[0].port: must be between 1 and 65535, got 0",
	"NetworkPolicy default/np: spec.podSelector: required",
	"NetworkPolicy default/np: spec.policyTypes[0]: must be one of Ingress, Egress, got "
	"\"Inbound\"",
	"NetworkPolicy default/np: spec.ingress[0].from[0]: must specify podSelector, "
	"namespaceSelector or ipBlock, got {}",
	"NetworkPolicy default/np: spec.egress[0].to[0]: ipBlock may not be combined with "
	"podSelector or namespaceSelector, got {\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"},"
	"\"podSelector\":{}}",
	"NetworkPolicy default/np: spec.ingress[0].from[0].ipBlock.cidr: must be a valid IPv4 or "
	"IPv6 CIDR, got \"10.0.0.0/33\"",
	"NetworkPolicy default/np: spec.ingress[0].from[0].ipBlock.except[0]: must be a strict "
	"subset of cidr 10.0.0.0/16, got \"10.1.0.0/24\"",
	"NetworkPolicy default/np: spec.ingress[0].ports[0].endPort: must be greater than or equal "
	"to port 9000, got 8000",
	"NetworkPolicy default/np: spec.ingress[0].ports[0].endPort: may only be used with a "
	"numeric port, got 8000",
	"NetworkPolicy default/np: spec.podSelector.matchExpressions[0].operator: must be one of "
	"In, NotIn, Exists, DoesNotExist, got \"Equals\"",
	"NetworkPolicy default/np: spec.podSelector.matchExpressions[0].values: must be non-empty "
	"when operator is In",
	"NetworkPolicy default/np: spec.podSelector.matchExpressions[0].values: must be empty when "
	"operator is Exists, got [\"a\"]",
	"Namespace (unnamed): metadata.name: required",
	"Service shop/web: spec.ports[1].port: duplicate of spec.ports[0] (same port and "
	"protocol), got 80",
	"Namespace (unnamed): metadata: required",
};

static void validate__bad_objects__exact_errors(void **state)
{
	cJSON *items = fixture_items("validate_bad.yaml"), *it;
	enum obj_kind kind;
	char err[512];
	size_t i = 0;

	(void)state;
	assert_int_equal(cJSON_GetArraySize(items), sizeof(bad_errors) / sizeof(bad_errors[0]));
	cJSON_ArrayForEach(it, items) {
		kind = OBJ_KIND_MAX;
		if (obj_validate(it, &kind, err, sizeof(err)) != -EINVAL)
			fail_msg("document %zu: accepted, want: %s", i + 1, bad_errors[i]);
		if (strcmp(err, bad_errors[i]))
			fail_msg("document %zu:\n got: %s\nwant: %s", i + 1, err, bad_errors[i]);
		assert_int_equal(kind, OBJ_KIND_MAX); /* ret_kind untouched on error */
		i++;
	}
	cJSON_Delete(items);
}

/* Validates one JSON object; returns the code, error in err. */
static int validate_json(const char *json, char *err, size_t errlen)
{
	cJSON *obj = cJSON_Parse(json);
	enum obj_kind kind;
	int r;

	assert_non_null(obj);
	r = obj_validate(obj, &kind, err, errlen);
	cJSON_Delete(obj);
	return r;
}

static void validate__more_error_cases__named_field(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "[1]", "object: not a mapping" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}",
		  "Pod default/p: spec: required" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":"
		  "{\"containers\":[{\"name\":\"a\"},{\"name\":\"a\"}]}}",
		  "Pod default/p: spec.containers[1].name: duplicate container name, got \"a\"" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":"
		  "{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80.5}]}]}}",
		  "Pod default/p: spec.containers[0].ports[0].containerPort: must be an integer, "
		  "got 80.5" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		  "\"spec\":{\"clusterIP\":\"10.0.0.1\",\"clusterIPs\":[\"10.0.0.2\"],\"ports\":"
		  "[{\"port\":1}]}}",
		  "Service default/s: spec.clusterIPs[0]: must match spec.clusterIP 10.0.0.1, got "
		  "\"10.0.0.2\"" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		  "\"spec\":{\"clusterIPs\":[\"10.0.0.1\",\"10.0.0.2\"],\"ports\":[{\"port\":1}]}}",
		  "Service default/s: spec.clusterIPs[1]: must be of a different IP family than "
		  "clusterIPs[0], got \"10.0.0.2\"" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		  "\"spec\":{\"sessionAffinityConfig\":{\"clientIP\":{}},\"ports\":[{\"port\":1}]}}",
		  "Service default/s: spec.sessionAffinityConfig: must not be set when "
		  "sessionAffinity is None, got {\"clientIP\":{}}" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		  "\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":1,\"targetPort\":"
		  "70000}]}}",
		  "Service default/s: spec.ports[0].targetPort: must be between 1 and 65535, got "
		  "70000" },
		{ "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
		  "{\"name\":\"e\"},\"addressType\":\"FQDN\",\"endpoints\":[{\"addresses\":"
		  "[\"Not_A_Host\"]}]}",
		  "EndpointSlice default/e: endpoints[0].addresses[0]: must be a DNS-1123 subdomain "
		  "(FQDN), got \"Not_A_Host\"" },
		{ "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
		  "{\"name\":\"e\"}}",
		  "EndpointSlice default/e: addressType: required" },
		{ "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":"
		  "{\"name\":\"n\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":"
		  "{\"cidr\":\"10.0.0.0/8\",\"except\":[\"fd00::/64\"]}}]}]}}",
		  "NetworkPolicy default/n: spec.ingress[0].from[0].ipBlock.except[0]: must be a "
		  "strict subset of cidr 10.0.0.0/8, got \"fd00::/64\"" },
		{ "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":"
		  "{\"name\":\"n\"},\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Egress\","
		  "\"Egress\"]}}",
		  "NetworkPolicy default/n: spec.policyTypes[1]: duplicate policy type, got "
		  "\"Egress\"" },
		{ "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":"
		  "{\"name\":\"n\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":1}}}}",
		  "NetworkPolicy default/n: spec.podSelector.matchLabels[app]: must be a string, got "
		  "1" },
		{ "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":"
		  "{\"name\":\"n\"},\"spec\":{\"podSelector\":{},\"egress\":[{\"ports\":[{\"port\":"
		  "\"bad_name\"}]}]}}",
		  "NetworkPolicy default/n: spec.egress[0].ports[0].port: must be a port number or "
		  "an IANA service name (at most 15 lower-case alphanumerics or '-', with a letter), "
		  "got \"bad_name\"" },
	};
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (validate_json(cases[i].json, err, sizeof(err)) != -EINVAL)
			fail_msg("case %zu accepted", i);
		if (strcmp(err, cases[i].want))
			fail_msg("case %zu:\n got: %s\nwant: %s", i, err, cases[i].want);
	}
}

static void validate__long_value__truncated_in_message(void **state)
{
	char json[1024], name[300], err[512];

	(void)state;
	memset(name, 'a', 260);
	name[260] = '\0';
	snprintf(json, sizeof(json),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"}}", name);
	assert_int_equal(validate_json(json, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "metadata.name: must be a DNS-1123 subdomain"));
	assert_non_null(strstr(err, "aaa...")); /* the 260-character name is cut short */
	/* A tiny buffer is still terminated. */
	assert_int_equal(validate_json(json, err, 8), -EINVAL);
	assert_int_equal(strlen(err), 7);
}

static void obj_kind__names_and_plurals__round_trip(void **state)
{
	static const char *const names[] = { "Namespace", "Pod", "Service", "EndpointSlice",
					     "NetworkPolicy", "HTTPPolicy" };
	static const char *const plurals[] = { "namespaces", "pods", "services", "endpointslices",
					       "networkpolicies", "httppolicies" };
	enum obj_kind k, got;

	(void)state;
	for (k = 0; k < OBJ_KIND_MAX; k++) {
		assert_string_equal(obj_kind_name(k), names[k]);
		assert_string_equal(obj_kind_plural(k), plurals[k]);
		assert_int_equal(obj_kind_parse(names[k], &got), 0);
		assert_int_equal(got, k);
		assert_int_equal(obj_kind_parse(plurals[k], &got), 0);
		assert_int_equal(got, k);
	}
}

static void obj_kind__parse__short_names_and_groups(void **state)
{
	static const struct {
		const char *s;
		enum obj_kind want;
	} ok[] = {
		{ "ns", OBJ_NAMESPACE },
		{ "po", OBJ_POD },
		{ "pod", OBJ_POD },
		{ "svc", OBJ_SERVICE },
		{ "SVC", OBJ_SERVICE },
		{ "netpol", OBJ_NETWORKPOLICY },
		{ "networkpolicy", OBJ_NETWORKPOLICY },
		{ "networkpolicies.networking.k8s.io", OBJ_NETWORKPOLICY },
		{ "endpointslice", OBJ_ENDPOINTSLICE },
		{ "endpointslices.discovery.k8s.io", OBJ_ENDPOINTSLICE },
		{ "httppol", OBJ_HTTPPOLICY },
		{ "httppolicies.sluice.dev", OBJ_HTTPPOLICY },
	};
	static const char *const bad[] = { "", "deployments", "pods.apps", "po.", "services.v1",
					   "p" };
	enum obj_kind k = OBJ_KIND_MAX;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (obj_kind_parse(ok[i].s, &k) != 0)
			fail_msg("\"%s\" rejected", ok[i].s);
		assert_int_equal(k, ok[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k = OBJ_KIND_MAX;
		if (obj_kind_parse(bad[i], &k) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(k, OBJ_KIND_MAX);
	}
	assert_int_equal(obj_kind_parse(NULL, &k), -EINVAL);
}

static void obj_key__objects__kind_namespace_name(void **state)
{
	cJSON *svc = cJSON_Parse("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
				 "\"namespace\":\"shop\"}}");
	cJSON *ns = cJSON_Parse("{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}}");
	cJSON *pod = cJSON_Parse("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}");
	cJSON *anon = cJSON_Parse("{\"kind\":\"Pod\",\"metadata\":{}}");
	char buf[64];

	(void)state;
	assert_int_equal(obj_key(svc, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Service/shop/web");
	assert_int_equal(obj_key(ns, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Namespace//shop");
	assert_int_equal(obj_key(pod, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Pod/default/p");
	assert_int_equal(obj_key(anon, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(obj_key(svc, buf, 10), -ENAMETOOLONG);
	assert_string_equal(buf, "Service/s");
	cJSON_Delete(svc);
	cJSON_Delete(ns);
	cJSON_Delete(pod);
	cJSON_Delete(anon);
}

static void selector__fixture_cases__match_as_kubernetes(void **state)
{
	cJSON *items = fixture_items("selector_cases.yaml");
	const cJSON *cases = at(cJSON_GetArrayItem(items, 0), "cases", NULL), *c, *sel, *labels;
	bool got, want;
	int n = 0;

	(void)state;
	cJSON_ArrayForEach(c, cases) {
		sel = at(c, "selector", NULL);
		labels = at(c, "labels", NULL);
		want = cJSON_IsTrue(at(c, "match", NULL));
		if (!strcmp(str_at(at(c, "type", NULL)), "map"))
			got = selector_matches_map(sel, labels);
		else
			got = selector_matches_label_selector(sel, labels);
		if (got != want)
			fail_msg("case %s: got %s, want %s", str_at(at(c, "name", NULL)),
				 got ? "match" : "no match", want ? "match" : "no match");
		n++;
	}
	assert_true(n >= 20);
	cJSON_Delete(items);
}

static void selector__validated_selectors__match_own_labels(void **state)
{
	cJSON *items = fixture_items("validate_good.yaml"), *it;
	const cJSON *pod, *svc, *np;
	enum obj_kind kind;
	char err[512];

	(void)state;
	cJSON_ArrayForEach(it, items)
		assert_int_equal(obj_validate(it, &kind, err, sizeof(err)), 0);
	pod = cJSON_GetArrayItem(items, 1);
	svc = cJSON_GetArrayItem(items, 2);
	np = cJSON_GetArrayItem(items, 7);
	assert_true(selector_matches_map(at(svc, "spec", "selector", NULL),
					 at(pod, "metadata", "labels", NULL)));
	/* allow-web also wants tier in (frontend, edge), which web-0 lacks. */
	assert_false(selector_matches_label_selector(at(np, "spec", "podSelector", NULL),
						     at(pod, "metadata", "labels", NULL)));
	cJSON_Delete(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(validate__good_objects__accepted_with_kind),
		cmocka_unit_test(validate__defaults__filled_as_api_server),
		cmocka_unit_test(validate__bad_objects__exact_errors),
		cmocka_unit_test(validate__more_error_cases__named_field),
		cmocka_unit_test(validate__long_value__truncated_in_message),
		cmocka_unit_test(obj_kind__names_and_plurals__round_trip),
		cmocka_unit_test(obj_kind__parse__short_names_and_groups),
		cmocka_unit_test(obj_key__objects__kind_namespace_name),
		cmocka_unit_test(selector__fixture_cases__match_as_kubernetes),
		cmocka_unit_test(selector__validated_selectors__match_own_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
