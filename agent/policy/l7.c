// SPDX-License-Identifier: Apache-2.0
/* HTTPPolicy compiler: see l7.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy/l7.h"
#include "agent/policy/policy.h"
#include "jsonget.h"
#include "sl_abi.h"

/* One (endpoint address, port) an HTTPPolicy applies to. */
struct pair {
	struct sl_l7_port_key key;
	unsigned int policy; /* index into the HTTPPolicy list */
	const struct store_ep *ep; /* for errors */
};

/* A distinct list of policies, which is a rule set. */
struct set {
	unsigned int *pols;
	size_t n;
	size_t n_rules;
};

static int cmp_pair(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int c = memcmp(&a->key, &b->key, sizeof(a->key));

	return c ? c : (a->policy > b->policy) - (a->policy < b->policy);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 16) * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = *cap ? *cap * 2 : 16;
	return 0;
}

/* The TCP port a policy's port entry names on this pod, or -1. */
static int port_of(const cJSON *pod, const cJSON *port)
{
	const cJSON *pn = jget(port, "port");

	if (cJSON_IsNumber(pn))
		return pn->valueint;
	if (cJSON_IsString(pn))
		return policy_pod_named_port(pod, pn->valuestring, IPPROTO_TCP);
	return -1;
}

static bool addr_key(const char *ip, uint16_t port, struct sl_l7_port_key *k)
{
	memset(k, 0, sizeof(*k));
	k->port = htons(port);
	if (inet_pton(AF_INET, ip, k->addr) == 1) {
		k->family = SL_AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, ip, k->addr) == 1) {
		k->family = SL_AF_INET6;
		return true;
	}
	return false;
}

/* Every (address, port, policy) of the local endpoints, sorted, each once. */
static int pairs_collect(const struct store *st, int n_pol, struct pair **ret, size_t *ret_n)
{
	size_t i, j, n = 0, cap = 0, n_ep = store_ep_count(st);
	struct pair *pairs = NULL;
	int k, port;

	for (i = 0; i < n_ep; i++) {
		const struct store_ep *e = store_ep_at(st, i);
		const cJSON *pod = store_obj_get(st, OBJ_POD, e->pod_ns, e->pod_name);
		const cJSON *labels = jget(jget(pod, "metadata"), "labels"), *pt;

		if (!pod)
			continue;
		for (k = 0; k < n_pol; k++) {
			const cJSON *pol = store_obj_at(st, OBJ_HTTPPOLICY, k);
			const cJSON *spec = jget(pol, "spec");
			const char *ns = jstr(jget(pol, "metadata"), "namespace") ?: "default";

			if (strcmp(ns, e->pod_ns) ||
			    !selector_matches_label_selector(jget(spec, "podSelector"), labels))
				continue;
			cJSON_ArrayForEach(pt, jget(spec, "ports")) {
				port = port_of(pod, pt);
				if (port <= 0 || port > 65535)
					continue;
				for (j = 0; j < (size_t)e->n_ips; j++) {
					if (grow((void **)&pairs, &cap, n, sizeof(*pairs)) < 0) {
						free(pairs);
						return -ENOMEM;
					}
					if (!addr_key(e->ips[j], (uint16_t)port, &pairs[n].key))
						continue;
					pairs[n].policy = (unsigned int)k;
					pairs[n].ep = e;
					n++;
				}
			}
		}
	}
	if (n)
		qsort(pairs, n, sizeof(*pairs), cmp_pair);
	/* a policy listing a port twice, or by name and by number: once */
	for (i = j = 0; i < n; i++)
		if (!j || cmp_pair(&pairs[i], &pairs[j - 1]))
			pairs[j++] = pairs[i];
	n = (size_t)j;
	*ret = pairs;
	*ret_n = n;
	return 0;
}

static void rule_compile(const cJSON *r, unsigned int policy, struct sl_l7_rule *out)
{
	const cJSON *m, *path = jget(r, "path");
	const char *p = NULL, *host = jstr(r, "host");
	size_t i;
	int k;

	memset(out, 0, sizeof(*out));
	out->policy = policy;
	cJSON_ArrayForEach(m, jget(r, "methods"))
		for (k = 0; k < 9; k++)
			if (cJSON_IsString(m) && !strcmp(m->valuestring, httppol_methods[k]))
				out->methods |= 1u << k;
	if (cJSON_IsTrue(jget(r, "upgrade")))
		out->flags |= SL_L7_RULE_F_UPGRADE;
	if ((p = jstr(path, "exact")))
		out->path_kind = SL_L7_PATH_EXACT;
	else if ((p = jstr(path, "prefix")))
		out->path_kind = SL_L7_PATH_PREFIX;
	if (p) {
		out->path_len = (uint16_t)strnlen(p, HTTPPOL_PATH_MAX);
		memcpy(out->path, p, out->path_len);
	}
	if (host) {
		out->host_len = (uint8_t)strnlen(host, HTTPPOL_HOST_MAX);
		for (i = 0; i < out->host_len; i++)
			out->host[i] = (char)tolower((unsigned char)host[i]);
	}
}

/* The set of the pairs [lo, hi) (one key, its policies), created if new. Returns its index. */
static int set_of(struct set **sets, size_t *n_sets, size_t *cap, const struct pair *pairs,
		  size_t lo, size_t hi, const struct store *st)
{
	size_t i, j, n = hi - lo;
	struct set *s;

	for (i = 0; i < *n_sets; i++) {
		s = &(*sets)[i];
		if (s->n != n)
			continue;
		for (j = 0; j < n && s->pols[j] == pairs[lo + j].policy; j++)
			;
		if (j == n)
			return (int)i;
	}
	if (grow((void **)sets, cap, *n_sets, sizeof(**sets)) < 0)
		return -ENOMEM;
	s = &(*sets)[*n_sets];
	s->pols = calloc(n, sizeof(*s->pols));
	if (!s->pols)
		return -ENOMEM;
	s->n = n;
	s->n_rules = 0;
	for (j = 0; j < n; j++) {
		s->pols[j] = pairs[lo + j].policy;
		s->n_rules += (size_t)cJSON_GetArraySize(
			jget(jget(store_obj_at(st, OBJ_HTTPPOLICY, (int)s->pols[j]), "spec"), "rules"));
	}
	return (int)(*n_sets)++;
}

static void too_many(const struct l7_desired *d, const struct set *s, const struct pair *p,
		     char *err, size_t errlen)
{
	char names[256] = "";
	size_t i, o = 0;

	for (i = 0; i < s->n && o < sizeof(names) - 1; i++)
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
				      d->policies[s->pols[i]]);
	snprintf(err, errlen,
		 "HTTPPolicy: pod %s/%s port %u: %s together have %zu rules; at most %d apply to "
		 "one pod and port",
		 p->ep->pod_ns, p->ep->pod_name, ntohs(p->key.port), names, s->n_rules,
		 HTTPPOL_MAX_RULES);
}

int l7_build(const struct store *st, struct l7_desired *ret, char *err, size_t errlen)
{
	size_t prec = sizeof(struct sl_l7_port_key) + sizeof(struct sl_l7_port_val);
	size_t rrec = sizeof(struct sl_l7_rule_key) + sizeof(struct sl_l7_rule);
	size_t n_pairs = 0, n_sets = 0, cap_sets = 0, i, j, n_rules = 0;
	int n_pol = store_count(st, OBJ_HTTPPOLICY), r = 0, k, si;
	struct l7_desired d = {};
	struct pair *pairs = NULL;
	struct set *sets = NULL;
	unsigned char *o;

	err[0] = '\0';
	d.policies = calloc(n_pol ? (size_t)n_pol : 1, sizeof(*d.policies));
	if (!d.policies) {
		r = -ENOMEM;
		goto out;
	}
	for (k = 0; k < n_pol; k++) {
		const cJSON *md = jget(store_obj_at(st, OBJ_HTTPPOLICY, k), "metadata");
		const char *ns = jstr(md, "namespace") ?: "default", *name = jstr(md, "name") ?: "";

		d.policies[k] = malloc(strlen(ns) + strlen(name) + 2);
		if (!d.policies[k]) {
			r = -ENOMEM;
			goto out;
		}
		sprintf(d.policies[k], "%s/%s", ns, name);
		d.n_policies++;
	}
	r = pairs_collect(st, n_pol, &pairs, &n_pairs);
	if (r < 0)
		goto out;
	/* one port record per distinct key: count them first */
	for (i = 0; i < n_pairs; i = j) {
		for (j = i + 1; j < n_pairs && !memcmp(&pairs[j].key, &pairs[i].key,
						       sizeof(pairs[i].key));
		     j++)
			;
		d.n_ports++;
	}
	d.ports = calloc(d.n_ports ? d.n_ports : 1, prec);
	if (!d.ports) {
		r = -ENOMEM;
		goto out;
	}
	o = d.ports;
	for (i = 0; i < n_pairs; i = j) {
		struct sl_l7_port_val v = {};

		for (j = i + 1; j < n_pairs && !memcmp(&pairs[j].key, &pairs[i].key,
						       sizeof(pairs[i].key));
		     j++)
			;
		si = set_of(&sets, &n_sets, &cap_sets, pairs, i, j, st);
		if (si < 0) {
			r = si;
			goto out;
		}
		if (sets[si].n_rules > HTTPPOL_MAX_RULES) {
			d.n_policies = (size_t)n_pol;
			too_many(&d, &sets[si], &pairs[i], err, errlen);
			r = -E2BIG;
			goto out;
		}
		v.set = (uint32_t)si + 1;
		v.n_rules = (uint16_t)sets[si].n_rules;
		memcpy(o, &pairs[i].key, sizeof(pairs[i].key));
		memcpy(o + sizeof(pairs[i].key), &v, sizeof(v));
		o += prec;
	}
	for (i = 0; i < n_sets; i++)
		n_rules += sets[i].n_rules;
	d.rules = calloc(n_rules ? n_rules : 1, rrec);
	if (!d.rules) {
		r = -ENOMEM;
		goto out;
	}
	o = d.rules;
	for (i = 0; i < n_sets; i++) {
		uint32_t idx = 0;

		for (j = 0; j < sets[i].n; j++) {
			const cJSON *pol = store_obj_at(st, OBJ_HTTPPOLICY, (int)sets[i].pols[j]), *rule;

			cJSON_ArrayForEach(rule, jget(jget(pol, "spec"), "rules")) {
				struct sl_l7_rule_key rk = { .set = (uint32_t)i + 1, .idx = idx++ };
				struct sl_l7_rule rv;

				rule_compile(rule, sets[i].pols[j] + 1, &rv);
				memcpy(o, &rk, sizeof(rk));
				memcpy(o + sizeof(rk), &rv, sizeof(rv));
				o += rrec;
			}
		}
	}
	d.n_rules = n_rules;
	d.n_sets = n_sets;
	*ret = d;
	d = (struct l7_desired){};
out:
	if (r < 0 && !err[0])
		snprintf(err, errlen, "HTTPPolicy: %s", strerror(-r));
	for (i = 0; i < n_sets; i++)
		free(sets[i].pols);
	free(sets);
	free(pairs);
	l7_desired_free(&d);
	return r;
}

void l7_desired_free(struct l7_desired *d)
{
	size_t i;

	free(d->ports);
	free(d->rules);
	for (i = 0; d->policies && i < d->n_policies; i++)
		free(d->policies[i]);
	free(d->policies);
	*d = (struct l7_desired){};
}

const char *l7_policy_name(const struct l7_desired *d, unsigned int policy)
{
	return policy && policy <= d->n_policies ? d->policies[policy - 1] : NULL;
}
