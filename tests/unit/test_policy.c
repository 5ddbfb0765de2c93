// SPDX-License-Identifier: Apache-2.0
/*
 * agent/policy/policy_build: Kubernetes NetworkPolicy semantics as the compiled maps answer
 * them. Each case applies objects to a store, builds, and asks the compiled sluice_ipcache and
 * sluice_policy records the question the datapath asks (bpf/include/policy.h: longest-prefix
 * identity of the peer, then exact port, port-0 ranges, protocol 0, each for the identity and
 * for SL_ID_ANY), so the truth tables here are those of the datapath's lookups. Covers
 * isolation and policyTypes, podSelector (matchLabels, every matchExpressions operator),
 * namespaceSelector alone and with podSelector, ipBlock with except (pods included), ports by
 * number and by name (ingress: the pod's own; egress: per destination pod), endPort, UDP and
 * SCTP, union of policies, IPv6, stable identity numbers, and the port-range limit.
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

#include "agent/policy/policy.h"
#include "agent/state/store.h"
#include "ipaddr.h"
#include "sl_abi.h"

#define IPC_REC (sizeof(struct sl_ipc_key) + sizeof(struct sl_ipc_val))
#define POL_REC (sizeof(struct sl_pol_key) + sizeof(struct sl_pol_val))

struct t {
	struct store *st;
	struct policy_desired d;
	struct ip_addr host[2];
	size_t n_host;
	int next_if;
	char *json;
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
	policy_desired_free(&t->d);
	free(t->json);
	free(t);
	return 0;
}

/* --- input ---------------------------------------------------------------------------------- */

static void apply(struct t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void apply(struct t *t, const char *fmt, ...)
{
	cJSON *items, *res = NULL;
	va_list ap, cp;
	char *c;
	int n, r;

	va_start(ap, fmt);
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	free(t->json);
	t->json = malloc((size_t)n + 1);
	assert_non_null(t->json);
	vsnprintf(t->json, (size_t)n + 1, fmt, ap);
	va_end(ap);
	for (c = t->json; *c; c++)
		if (*c == '\'')
			*c = '"';
	items = cJSON_Parse(t->json);
	if (!items)
		fail_msg("bad test JSON: %s", t->json);
	r = store_apply(t->st, items, &res, t->err, sizeof(t->err));
	cJSON_Delete(res);
	cJSON_Delete(items);
	if (r < 0)
		fail_msg("store_apply: %d %s", r, t->err);
}

static void ns(struct t *t, const char *name, const char *labels)
{
	apply(t, "[{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'%s','labels':{%s}}}]",
	      name, labels);
}

/* A local pod (registered endpoint) in namespace nsn with labels and container ports. */
static void pod(struct t *t, const char *nsn, const char *name, const char *labels,
		const char *ports, const char *ip, const char *ip6)
{
	struct store_ep e = { .host_ifindex = t->next_if++, .n_ips = ip6 ? 2 : 1 };
	unsigned int id;

	apply(t,
	      "[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'%s',"
	      "'labels':{%s}},'spec':{'containers':[{'name':'c','image':'x','ports':[%s]}]}}]",
	      name, nsn, labels, ports);
	snprintf(e.container_id, sizeof(e.container_id), "%s-%s", nsn, name);
	snprintf(e.pod_ns, sizeof(e.pod_ns), "%s", nsn);
	snprintf(e.pod_name, sizeof(e.pod_name), "%s", name);
	snprintf(e.host_ifname, sizeof(e.host_ifname), "veth%d", e.host_ifindex);
	snprintf(e.ips[0], sizeof(e.ips[0]), "%s", ip);
	if (ip6)
		snprintf(e.ips[1], sizeof(e.ips[1]), "%s", ip6);
	assert_int_equal(store_ep_add(t->st, &e, &id), 0);
}

/* A pod on another node: known by its status.podIP only. */
static void remote_pod(struct t *t, const char *nsn, const char *name, const char *labels,
		       const char *ip)
{
	apply(t,
	      "[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'%s',"
	      "'labels':{%s}},'spec':{'containers':[{'name':'c','image':'x'}]},"
	      "'status':{'podIP':'%s','podIPs':[{'ip':'%s'}]}}]",
	      name, nsn, labels, ip, ip);
}

/* A NetworkPolicy; spec is the JSON of its spec. */
static void netpol(struct t *t, const char *nsn, const char *name, const char *spec)
{
	apply(t,
	      "[{'apiVersion':'networking.k8s.io/v1','kind':'NetworkPolicy','metadata':"
	      "{'name':'%s','namespace':'%s'},'spec':%s}]",
	      name, nsn, spec);
}

static void build(struct t *t)
{
	struct policy_input in = { .host_addrs = t->host, .n_host_addrs = t->n_host };

	policy_desired_free(&t->d);
	if (policy_build(t->st, &in, &t->d, t->err, sizeof(t->err)) < 0)
		fail_msg("policy_build: %s", t->err);
}

/* --- the datapath's question ---------------------------------------------------------------- */

static const struct policy_ep *ep_of(struct t *t, const char *nsn, const char *name)
{
	const struct store_ep *e = store_ep_for_pod(t->st, nsn, name);

	assert_non_null(e);
	return policy_ep_find(&t->d, e->ep_id);
}

static uint32_t identity_of(const struct t *t, const char *ip)
{
	const unsigned char *rec = t->d.ipc;
	struct ip_addr a;
	uint32_t best_id = SL_ID_WORLD;
	int best = -1;
	size_t i;

	assert_int_equal(ip_parse(ip, &a), 0);
	for (i = 0; i < t->d.n_ipc; i++, rec += IPC_REC) {
		struct sl_ipc_key k;
		struct sl_ipc_val v;
		unsigned bits, b;
		bool match = true;

		memcpy(&k, rec, sizeof(k));
		memcpy(&v, rec + sizeof(k), sizeof(v));
		if (k.family != (a.family == AF_INET ? SL_AF_INET : SL_AF_INET6))
			continue;
		bits = k.prefixlen - 32;
		for (b = 0; b < bits && match; b++) {
			unsigned char m = (unsigned char)(0x80u >> (b % 8));

			match = (((unsigned char *)k.addr)[b / 8] & m) == (a.a[b / 8] & m);
		}
		if (match && (int)bits > best) {
			best = (int)bits;
			best_id = v.identity;
		}
	}
	return best_id;
}

static const struct sl_pol_val *pol_get(const struct t *t, const struct sl_pol_key *k)
{
	const unsigned char *rec = t->d.pol;
	size_t i;

	for (i = 0; i < t->d.n_pol; i++, rec += POL_REC)
		if (!memcmp(rec, k, sizeof(*k)))
			return (const struct sl_pol_val *)(rec + sizeof(*k));
	return NULL;
}

static bool ranges_hold(const struct sl_pol_val *v, uint16_t port)
{
	int i;

	assert_true(v->n_ranges <= SL_POL_RANGES);
	if (!v->n_ranges)
		return true;
	for (i = 0; i < v->n_ranges; i++)
		if (port >= v->r[i].lo && port <= v->r[i].hi)
			return true;
	return false;
}

/* Would a new flow with this peer and destination port pass pod's policy in dir? */
static bool allowed(struct t *t, const char *pod_ns, const char *pod_name, int dir,
		    const char *peer, uint8_t proto, uint16_t port)
{
	const struct policy_ep *pe = ep_of(t, pod_ns, pod_name);
	uint32_t iso = dir == SL_POL_EGRESS ? SL_EP_F_EGRESS_ISOLATED : SL_EP_F_INGRESS_ISOLATED;
	struct sl_pol_key k = { .dir = (uint8_t)dir };
	const struct sl_pol_val *v;
	uint32_t id;
	int i;

	assert_non_null(pe);
	if (!(pe->flags & iso))
		return true;
	assert_int_not_equal(pe->ctx, 0);
	id = identity_of(t, peer);
	if (id == SL_ID_HOST)
		return true;
	k.ctx = pe->ctx;
	for (i = 0; i < 2; i++) {
		k.identity = i ? SL_ID_ANY : id;
		k.proto = proto;
		k.dport = htons(port);
		if (pol_get(t, &k))
			return true;
		k.dport = 0;
		v = pol_get(t, &k);
		if (v && ranges_hold(v, port))
			return true;
		k.proto = 0;
		if (pol_get(t, &k))
			return true;
	}
	return false;
}

#define IN  SL_POL_INGRESS
#define OUT SL_POL_EGRESS
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

/* The usual cast: default/web (app=web), default/client (app=client), default/other. */
static void cast(struct t *t)
{
	pod(t, "default", "web", "'app':'web'", "{'name':'http','containerPort':8080}",
	    "10.244.0.10", "fd00:10:244::10");
	pod(t, "default", "client", "'app':'client'", "", "10.244.0.11", "fd00:10:244::11");
	pod(t, "default", "other", "'app':'other'", "", "10.244.0.12", NULL);
}

/* --- cases ---------------------------------------------------------------------------------- */

static void no_policy__nothing_isolated__every_flow_allowed(void **state)
{
	struct t *t = *state;

	cast(t);
	build(t);
	assert_int_equal(ep_of(t, "default", "web")->flags, 0);
	assert_int_equal(ep_of(t, "default", "web")->ctx, 0);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.12", TCP, 1));
	assert_int_equal(t->d.n_pol, 0);
}

static void default_deny_ingress__selected_pods_isolated__egress_untouched(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "deny", "{'podSelector':{},'policyTypes':['Ingress']}");
	build(t);
	assert_int_equal(ep_of(t, "default", "web")->flags, SL_EP_F_INGRESS_ISOLATED);
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8080));
	assert_false(allowed(t, "default", "web", IN, "192.0.2.1", UDP, 53));
	assert_true(allowed(t, "default", "web", OUT, "10.244.0.11", TCP, 80));
}

static void default_deny_egress__policy_types_egress_only(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "deny-out", "{'podSelector':{},'policyTypes':['Egress']}");
	build(t);
	assert_int_equal(ep_of(t, "default", "client")->flags, SL_EP_F_EGRESS_ISOLATED);
	assert_false(allowed(t, "default", "client", OUT, "10.244.0.10", TCP, 8080));
	assert_true(allowed(t, "default", "client", IN, "10.244.0.10", TCP, 1234));
}

static void egress_rules_without_policy_types__egress_isolated_too(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'client'}},'egress':[{'to':[{'podSelector':"
	       "{'matchLabels':{'app':'web'}}}]}]}");
	build(t);
	assert_int_equal(ep_of(t, "default", "client")->flags,
			 SL_EP_F_INGRESS_ISOLATED | SL_EP_F_EGRESS_ISOLATED);
	assert_true(allowed(t, "default", "client", OUT, "10.244.0.10", TCP, 8080));
	assert_false(allowed(t, "default", "client", OUT, "10.244.0.12", TCP, 8080));
	assert_false(allowed(t, "default", "client", IN, "10.244.0.10", TCP, 1));
}

static void pod_selector_and_port__only_that_peer_and_port(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "web-allow-client",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'podSelector':"
	       "{'matchLabels':{'app':'client'}}}],'ports':[{'protocol':'TCP','port':8080}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8080));
	assert_true(allowed(t, "default", "web", IN, "fd00:10:244::11", TCP, 8080));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8081));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", UDP, 8080));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.12", TCP, 8080));
	assert_false(allowed(t, "default", "web", IN, "192.0.2.7", TCP, 8080));
	/* the client is not selected by the policy */
	assert_int_equal(ep_of(t, "default", "client")->flags, 0);
}

static void match_expressions__each_operator(void **state)
{
	struct t *t = *state;

	cast(t);
	pod(t, "default", "a", "'tier':'fe','env':'prod'", "", "10.244.0.20", NULL);
	pod(t, "default", "b", "'tier':'be','env':'dev'", "", "10.244.0.21", NULL);
	pod(t, "default", "c", "'tier':'db'", "", "10.244.0.22", NULL);
	netpol(t, "default", "in",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'podSelector':"
	       "{'matchExpressions':[{'key':'tier','operator':'In','values':['fe','be']}]}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.20", TCP, 1));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.21", TCP, 1));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.22", TCP, 1));
	netpol(t, "default", "in",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'podSelector':"
	       "{'matchExpressions':[{'key':'tier','operator':'NotIn','values':['fe']},"
	       "{'key':'env','operator':'Exists'}]}}]}]}");
	build(t);
	assert_false(allowed(t, "default", "web", IN, "10.244.0.20", TCP, 1));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.21", TCP, 1));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.22", TCP, 1)); /* no env */
	netpol(t, "default", "in",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'podSelector':"
	       "{'matchExpressions':[{'key':'env','operator':'DoesNotExist'}]}}]}]}");
	build(t);
	assert_false(allowed(t, "default", "web", IN, "10.244.0.20", TCP, 1));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.22", TCP, 1));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 1)); /* client */
}

static void namespace_selector__alone_and_with_pod_selector(void **state)
{
	struct t *t = *state;

	cast(t);
	ns(t, "prod", "'team':'a'");
	ns(t, "dev", "'team':'b'");
	pod(t, "prod", "p-client", "'app':'client'", "", "10.244.1.1", NULL);
	pod(t, "prod", "p-other", "'app':'other'", "", "10.244.1.2", NULL);
	pod(t, "dev", "d-client", "'app':'client'", "", "10.244.2.1", NULL);
	/* one peer with both selectors: client pods in team=a namespaces */
	netpol(t, "default", "and",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{"
	       "'namespaceSelector':{'matchLabels':{'team':'a'}},'podSelector':{'matchLabels':"
	       "{'app':'client'}}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.1.1", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "10.244.1.2", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "10.244.2.1", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 80)); /* own ns */
	/* two peers: every pod of team=a namespaces, or client pods of the policy's namespace */
	netpol(t, "default", "and",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{"
	       "'namespaceSelector':{'matchLabels':{'team':'a'}}},{'podSelector':{'matchLabels':"
	       "{'app':'client'}}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.1.1", TCP, 80));
	assert_true(allowed(t, "default", "web", IN, "10.244.1.2", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "10.244.2.1", TCP, 80));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 80));
	/* namespaceSelector by the automatic kubernetes.io/metadata.name label */
	netpol(t, "default", "and",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{"
	       "'namespaceSelector':{'matchLabels':{'kubernetes.io/metadata.name':'dev'}}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.2.1", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "10.244.1.1", TCP, 80));
}

static void empty_selectors__from_empty_pod_selector_is_own_namespace_only(void **state)
{
	struct t *t = *state;

	cast(t);
	ns(t, "prod", "");
	pod(t, "prod", "x", "'app':'client'", "", "10.244.1.1", NULL);
	netpol(t, "default", "p",
	       "{'podSelector':{},'ingress':[{'from':[{'podSelector':{}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.12", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "10.244.1.1", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "192.0.2.1", TCP, 80));
	/* an empty namespaceSelector: every pod of every namespace, still no outside address */
	netpol(t, "default", "p",
	       "{'podSelector':{},'ingress':[{'from':[{'namespaceSelector':{}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.1.1", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "192.0.2.1", TCP, 80));
	/* a rule without from: every source, outside ones too */
	netpol(t, "default", "p", "{'podSelector':{},'ingress':[{}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "192.0.2.1", UDP, 9));
}

static void ip_block_except__addresses_and_pods_inside(void **state)
{
	struct t *t = *state;

	cast(t);
	pod(t, "default", "in-except", "'app':'x'", "", "10.1.0.5", NULL);
	pod(t, "default", "in-block", "'app':'x'", "", "10.2.0.5", NULL);
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'client'}},'policyTypes':['Egress'],"
	       "'egress':[{'to':[{'ipBlock':{'cidr':'10.0.0.0/8','except':['10.1.0.0/16']}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "client", OUT, "10.2.3.4", TCP, 443));
	assert_true(allowed(t, "default", "client", OUT, "10.255.255.255", UDP, 1));
	assert_false(allowed(t, "default", "client", OUT, "10.1.2.3", TCP, 443));
	assert_false(allowed(t, "default", "client", OUT, "192.168.0.1", TCP, 443));
	/* pods are matched by address as well: same labels, different verdicts */
	assert_true(allowed(t, "default", "client", OUT, "10.2.0.5", TCP, 443));
	assert_false(allowed(t, "default", "client", OUT, "10.1.0.5", TCP, 443));
	assert_false(allowed(t, "default", "client", OUT, "fd00::1", TCP, 443));
	assert_int_not_equal(identity_of(t, "10.2.0.5"), identity_of(t, "10.1.0.5"));
}

static void ip_block_nested_prefixes__longer_prefix_of_another_policy_still_inside(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "wide",
	       "{'podSelector':{'matchLabels':{'app':'client'}},'policyTypes':['Egress'],"
	       "'egress':[{'to':[{'ipBlock':{'cidr':'192.0.2.0/24'}}]}]}");
	netpol(t, "default", "narrow",
	       "{'podSelector':{'matchLabels':{'app':'other'}},'policyTypes':['Egress'],"
	       "'egress':[{'to':[{'ipBlock':{'cidr':'192.0.2.128/25'}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "client", OUT, "192.0.2.200", TCP, 1));
	assert_true(allowed(t, "default", "client", OUT, "192.0.2.1", TCP, 1));
	assert_true(allowed(t, "default", "other", OUT, "192.0.2.200", TCP, 1));
	assert_false(allowed(t, "default", "other", OUT, "192.0.2.1", TCP, 1));
}

static void named_port_ingress__resolved_on_each_selected_pod(void **state)
{
	struct t *t = *state;

	cast(t);
	pod(t, "default", "web2", "'app':'web'", "{'name':'http','containerPort':9090}",
	    "10.244.0.13", NULL);
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'ports':[{'port':"
	       "'http'}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8080));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 9090));
	assert_true(allowed(t, "default", "web2", IN, "10.244.0.11", TCP, 9090));
	assert_false(allowed(t, "default", "web2", IN, "10.244.0.11", TCP, 8080));
	assert_int_not_equal(ep_of(t, "default", "web")->ctx, ep_of(t, "default", "web2")->ctx);
	/* a named port the pod does not have allows nothing */
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 0));
}

static void named_port_egress__resolved_on_each_destination_pod(void **state)
{
	struct t *t = *state;

	cast(t);
	pod(t, "default", "db", "'app':'db'", "{'name':'sql','containerPort':5432}", "10.244.0.30",
	    NULL);
	remote_pod(t, "default", "db-far", "'app':'db2'", "10.244.9.9");
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'client'}},'policyTypes':['Egress'],"
	       "'egress':[{'ports':[{'port':'sql'},{'port':'http'}]}]}");
	build(t);
	assert_true(allowed(t, "default", "client", OUT, "10.244.0.30", TCP, 5432));
	assert_false(allowed(t, "default", "client", OUT, "10.244.0.30", TCP, 8080));
	assert_true(allowed(t, "default", "client", OUT, "10.244.0.10", TCP, 8080));
	assert_false(allowed(t, "default", "client", OUT, "10.244.0.10", TCP, 5432));
	assert_false(allowed(t, "default", "client", OUT, "192.0.2.1", TCP, 5432));
	assert_false(allowed(t, "default", "client", OUT, "10.244.9.9", TCP, 5432));
}

static void end_port__range_inclusive_and_many_ranges_spill_to_exact(void **state)
{
	struct t *t = *state;
	char spec[2048];
	int i, n;

	cast(t);
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'ports':[{'port':8000,"
	       "'endPort':8010},{'port':8005,'endPort':8020},{'protocol':'UDP','port':53}]}]}");
	build(t);
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 7999));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8000));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8020));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8021));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", UDP, 53));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 53));
	/* nine disjoint ranges of 3 ports: more than a value holds, so some become exact */
	n = snprintf(spec, sizeof(spec),
		     "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'ports':[");
	for (i = 0; i < 9; i++)
		n += snprintf(spec + n, sizeof(spec) - (size_t)n, "%s{'port':%d,'endPort':%d}",
			      i ? "," : "", 1000 + i * 100, 1002 + i * 100);
	snprintf(spec + n, sizeof(spec) - (size_t)n, "]}]}");
	netpol(t, "default", "p", spec);
	build(t);
	for (i = 0; i < 9; i++) {
		assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP,
				    (uint16_t)(1000 + i * 100)));
		assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP,
				    (uint16_t)(1002 + i * 100)));
		assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP,
				     (uint16_t)(1003 + i * 100)));
	}
}

static void too_many_wide_ranges__build_fails_naming_the_policy(void **state)
{
	struct t *t = *state;
	struct policy_input in = { .n_host_addrs = 0 };
	char spec[2048];
	int i, n;

	cast(t);
	n = snprintf(spec, sizeof(spec),
		     "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'ports':[");
	for (i = 0; i < 8; i++)
		n += snprintf(spec + n, sizeof(spec) - (size_t)n, "%s{'port':%d,'endPort':%d}",
			      i ? "," : "", 1 + i * 5000, 2000 + i * 5000);
	snprintf(spec + n, sizeof(spec) - (size_t)n, "]}]}");
	netpol(t, "default", "wide-ranges", spec);
	assert_int_equal(policy_build(t->st, &in, &t->d, t->err, sizeof(t->err)), -E2BIG);
	assert_non_null(strstr(t->err, "NetworkPolicy default/wide-ranges"));
}

static void protocol_without_port__every_port_of_that_protocol(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'ports':[{'protocol':"
	       "'UDP'},{'protocol':'SCTP','port':9}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", UDP, 1));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", UDP, 65535));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 1));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", IPPROTO_SCTP, 9));
}

static void two_policies__allows_are_a_union(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "a",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'podSelector':"
	       "{'matchLabels':{'app':'client'}}}],'ports':[{'port':80}]}]}");
	netpol(t, "default", "b",
	       "{'podSelector':{},'ingress':[{'from':[{'podSelector':{'matchLabels':{'app':"
	       "'other'}}}],'ports':[{'port':81}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 81));
	assert_true(allowed(t, "default", "web", IN, "10.244.0.12", TCP, 81));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.12", TCP, 80));
	assert_true(allowed(t, "default", "client", IN, "10.244.0.12", TCP, 81));
	assert_false(allowed(t, "default", "client", IN, "10.244.0.10", TCP, 81));
}

static void ipv6__pods_and_ip_block(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'podSelector':"
	       "{'matchLabels':{'app':'client'}}},{'ipBlock':{'cidr':'2001:db8::/32','except':"
	       "['2001:db8:1::/48']}}]}]}");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "fd00:10:244::11", TCP, 80));
	assert_true(allowed(t, "default", "web", IN, "2001:db8:2::1", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "2001:db8:1::1", TCP, 80));
	assert_false(allowed(t, "default", "web", IN, "fd00:10:244::99", TCP, 80));
}

static void host_addresses__always_host_identity(void **state)
{
	struct t *t = *state;

	cast(t);
	assert_int_equal(ip_parse("10.244.0.1", &t->host[0]), 0);
	t->n_host = 1;
	netpol(t, "default", "deny", "{'podSelector':{}}");
	build(t);
	assert_int_equal(identity_of(t, "10.244.0.1"), SL_ID_HOST);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.1", TCP, 8080));
	assert_false(allowed(t, "default", "web", IN, "10.244.0.11", TCP, 8080));
}

static void identities__stable_across_builds_and_unrelated_changes(void **state)
{
	struct t *t = *state;
	uint32_t web, client;

	cast(t);
	build(t);
	web = identity_of(t, "10.244.0.10");
	client = identity_of(t, "10.244.0.11");
	assert_true(web >= SL_ID_MIN_DYN && client >= SL_ID_MIN_DYN && web != client);
	assert_int_equal(identity_of(t, "fd00:10:244::10"), web);
	pod(t, "default", "web-b", "'app':'web'", "", "10.244.0.40", NULL);
	pod(t, "default", "new", "'app':'new'", "", "10.244.0.41", NULL);
	build(t);
	assert_int_equal(identity_of(t, "10.244.0.10"), web);
	assert_int_equal(identity_of(t, "10.244.0.40"), web);
	assert_int_equal(identity_of(t, "10.244.0.11"), client);
	assert_int_equal(identity_of(t, "192.0.2.1"), SL_ID_WORLD);
}

static void label_change__pod_moves_to_the_other_identity(void **state)
{
	struct t *t = *state;

	cast(t);
	netpol(t, "default", "p",
	       "{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':[{'podSelector':"
	       "{'matchLabels':{'app':'client'}}}]}]}");
	build(t);
	assert_false(allowed(t, "default", "web", IN, "10.244.0.12", TCP, 80));
	apply(t, "[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'other','namespace':"
		 "'default','labels':{'app':'client'}},'spec':{'containers':[{'name':'c',"
		 "'image':'x'}]}}]");
	build(t);
	assert_true(allowed(t, "default", "web", IN, "10.244.0.12", TCP, 80));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(no_policy__nothing_isolated__every_flow_allowed),
		T(default_deny_ingress__selected_pods_isolated__egress_untouched),
		T(default_deny_egress__policy_types_egress_only),
		T(egress_rules_without_policy_types__egress_isolated_too),
		T(pod_selector_and_port__only_that_peer_and_port),
		T(match_expressions__each_operator),
		T(namespace_selector__alone_and_with_pod_selector),
		T(empty_selectors__from_empty_pod_selector_is_own_namespace_only),
		T(ip_block_except__addresses_and_pods_inside),
		T(ip_block_nested_prefixes__longer_prefix_of_another_policy_still_inside),
		T(named_port_ingress__resolved_on_each_selected_pod),
		T(named_port_egress__resolved_on_each_destination_pod),
		T(end_port__range_inclusive_and_many_ranges_spill_to_exact),
		T(too_many_wide_ranges__build_fails_naming_the_policy),
		T(protocol_without_port__every_port_of_that_protocol),
		T(two_policies__allows_are_a_union),
		T(ipv6__pods_and_ip_block),
		T(host_addresses__always_host_identity),
		T(identities__stable_across_builds_and_unrelated_changes),
		T(label_change__pod_moves_to_the_other_identity),
#undef T
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
