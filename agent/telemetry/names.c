// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/telemetry/names.h"
#include "ipaddr.h"
#include "jsonget.h"
#include "sl_abi.h"

bool tel_abi_addr(const char *s, __u32 out[4], __u8 *family)
{
	struct ip_addr a;

	if (!s || ip_parse(s, &a) < 0)
		return false;
	memset(out, 0, 16);
	memcpy(out, a.a, a.family == AF_INET ? 4 : 16);
	*family = a.family == AF_INET ? SL_AF_INET : SL_AF_INET6;
	return true;
}

void tel_addr_text(__u8 family, const __u32 *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == SL_AF_INET ? AF_INET : AF_INET6, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static int cmp_addr(__u8 fa, const __u32 *a, __u8 fb, const __u32 *b)
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return memcmp(a, b, 16);
}

static int cmp_pod(const void *x, const void *y)
{
	const struct tel_pod *a = x, *b = y;
	int c = cmp_addr(a->family, a->addr, b->family, b->addr);

	/* local endpoints first among equal addresses: they are this node's truth */
	return c ? c : (int)b->local - (int)a->local;
}

static int cmp_svc(const void *x, const void *y)
{
	const struct tel_svc *a = x, *b = y;
	int c = cmp_addr(a->family, a->addr, b->family, b->addr);

	return c ? c : (int)a->port - (int)b->port;
}

/* As cmp_svc, then by Service namespace and name: the first of equal backends is stable. */
static int cmp_svc_named(const void *x, const void *y)
{
	const struct tel_svc *a = x, *b = y;
	int c = cmp_svc(x, y);

	if (!c)
		c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->name, b->name);
}

struct grow {
	void **v;
	size_t *n, cap, size;
};

static void *grow_push(struct grow *g)
{
	void *nv;

	if (*g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		nv = realloc(*g->v, g->cap * g->size);
		if (!nv)
			return NULL;
		*g->v = nv;
	}
	return (char *)*g->v + (*g->n) * g->size;
}

static int pod_push(struct grow *g, const char *ip, const char *ns, const char *name, bool local)
{
	struct tel_pod *p = grow_push(g);

	if (!p)
		return -ENOMEM;
	if (!name || !tel_abi_addr(ip, p->addr, &p->family))
		return 0;
	p->local = local;
	p->ns = ns;
	p->name = name;
	(*g->n)++;
	return 0;
}

static int svc_push(struct grow *g, const char *ip, int port, const char *ns, const char *name)
{
	struct tel_svc *s = grow_push(g);

	if (!s)
		return -ENOMEM;
	if (!name || port <= 0 || port > 65535 || !tel_abi_addr(ip, s->addr, &s->family))
		return 0;
	s->port = (__u16)port;
	s->ns = ns;
	s->name = name;
	(*g->n)++;
	return 0;
}

struct be_ctx {
	struct grow *g;
	const cJSON *svc;
	const char *ns, *name;
};

static int backend_add(void *ctx, const struct store_backend *b)
{
	struct be_ctx *c = ctx;
	const cJSON *port;
	int r = 0, tp;

	cJSON_ArrayForEach(port, jget(jget(c->svc, "spec"), "ports")) {
		if (strcmp(jstr(port, "protocol") ?: "TCP", "TCP"))
			continue;
		tp = store_backend_port(b, port);
		if (tp > 0)
			r = svc_push(c->g, b->ip, tp, c->ns, c->name);
		if (r < 0)
			break;
	}
	return r;
}

static int pods_build(const struct store *st, struct tel_names *n)
{
	struct grow g = { (void **)&n->pods, &n->n_pods, 0, sizeof(*n->pods) };
	const cJSON *o, *md, *ipo, *status;
	const char *ns;
	size_t i;
	int k, cnt, r = 0;

	for (i = 0; i < store_ep_count(st) && !r; i++) {
		const struct store_ep *ep = store_ep_at(st, i);

		for (k = 0; k < ep->n_ips && !r; k++)
			r = pod_push(&g, ep->ips[k], ep->pod_ns, ep->pod_name, true);
	}
	cnt = store_count(st, OBJ_POD);
	for (k = 0; k < cnt && !r; k++) {
		o = store_obj_at(st, OBJ_POD, k);
		md = jget(o, "metadata");
		ns = jstr(md, "namespace") ?: "default";
		status = jget(o, "status");
		cJSON_ArrayForEach(ipo, jget(status, "podIPs"))
			if (!r)
				r = pod_push(&g, jstr(ipo, "ip"), ns, jstr(md, "name"), false);
		if (!r && !cJSON_GetArraySize(jget(status, "podIPs")))
			r = pod_push(&g, jstr(status, "podIP"), ns, jstr(md, "name"), false);
	}
	return r;
}

static int services_build(const struct store *st, struct tel_names *n)
{
	struct grow fg = { (void **)&n->fes, &n->n_fes, 0, sizeof(*n->fes) };
	struct grow bg = { (void **)&n->bes, &n->n_bes, 0, sizeof(*n->bes) };
	struct store_backends *it = NULL;
	const cJSON *o, *md, *ipo, *ips, *port;
	const char *single;
	int k, cnt, r;

	r = store_backends_begin(st, &it);
	if (r < 0)
		return r;
	cnt = store_count(st, OBJ_SERVICE);
	for (k = 0; k < cnt && !r; k++) {
		struct be_ctx bc = { .g = &bg };

		o = store_obj_at(st, OBJ_SERVICE, k);
		md = jget(o, "metadata");
		bc.svc = o;
		bc.ns = jstr(md, "namespace") ?: "default";
		bc.name = jstr(md, "name");
		ips = jget(jget(o, "spec"), "clusterIPs");
		single = jstr(jget(o, "spec"), "clusterIP");
		cJSON_ArrayForEach(port, jget(jget(o, "spec"), "ports")) {
			const cJSON *pn = jget(port, "port");

			if (!cJSON_IsNumber(pn) || strcmp(jstr(port, "protocol") ?: "TCP", "TCP"))
				continue;
			if (cJSON_GetArraySize(ips) > 0) {
				cJSON_ArrayForEach(ipo, ips)
					if (!r && cJSON_IsString(ipo))
						r = svc_push(&fg, ipo->valuestring, pn->valueint,
							     bc.ns, bc.name);
			} else if (!r) {
				r = svc_push(&fg, single, pn->valueint, bc.ns, bc.name);
			}
		}
		if (!r)
			r = store_backends_each(it, o, backend_add, &bc);
	}
	store_backends_end(it);
	return r;
}

int tel_names_build(const struct store *st, struct tel_names *n)
{
	int r;

	memset(n, 0, sizeof(*n));
	r = pods_build(st, n);
	if (!r)
		r = services_build(st, n);
	if (n->n_pods)
		qsort(n->pods, n->n_pods, sizeof(*n->pods), cmp_pod);
	if (n->n_fes)
		qsort(n->fes, n->n_fes, sizeof(*n->fes), cmp_svc);
	if (n->n_bes)
		qsort(n->bes, n->n_bes, sizeof(*n->bes), cmp_svc_named);
	return r;
}

void tel_names_free(struct tel_names *n)
{
	free(n->pods);
	free(n->fes);
	free(n->bes);
	memset(n, 0, sizeof(*n));
}

/* The first entry equal to key under cmp in a sorted array, or NULL (a lower bound). */
static const void *lower_bound(const void *base, size_t n, size_t size, const void *key,
			       int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (cmp((const char *)base + mid * size, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && !cmp((const char *)base + lo * size, key))
		return (const char *)base + lo * size;
	return NULL;
}

static int cmp_pod_addr(const void *x, const void *y)
{
	const struct tel_pod *a = x, *b = y;

	return cmp_addr(a->family, a->addr, b->family, b->addr);
}

const struct tel_pod *tel_pod_of(const struct tel_names *n, __u8 family, const __u32 *addr)
{
	struct tel_pod k = { .family = family };

	memcpy(k.addr, addr, sizeof(k.addr));
	return lower_bound(n->pods, n->n_pods, sizeof(k), &k, cmp_pod_addr);
}

const struct tel_svc *tel_svc_of(const struct tel_names *n, __u8 family, const __u32 *addr,
				 __u16 port)
{
	struct tel_svc k = { .family = family, .port = port };

	memcpy(k.addr, addr, sizeof(k.addr));
	return lower_bound(n->fes, n->n_fes, sizeof(k), &k, cmp_svc);
}

const struct tel_svc *tel_backend_of(const struct tel_names *n, __u8 family, const __u32 *addr,
				     __u16 port)
{
	struct tel_svc k = { .family = family, .port = port };

	memcpy(k.addr, addr, sizeof(k.addr));
	return lower_bound(n->bes, n->n_bes, sizeof(k), &k, cmp_svc);
}
