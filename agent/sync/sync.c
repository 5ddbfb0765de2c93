// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lb/maglev.h"
#include "jsonget.h"
#include "sync.h"

#define SVC_REC (sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val))
#define BK_REC	(sizeof(struct sl_backend_key) + sizeof(struct sl_backend_val))

struct vec {
	unsigned char *buf;
	size_t n, cap, rec;
};

static int vec_push(struct vec *v, const void *key, size_t ksz, const void *val, size_t vsz)
{
	unsigned char *nb;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 32;
		nb = realloc(v->buf, v->cap * v->rec);
		if (!nb)
			return -ENOMEM;
		v->buf = nb;
	}
	memcpy(v->buf + v->n * v->rec, key, ksz);
	if (val)
		memcpy(v->buf + v->n * v->rec + ksz, val, vsz);
	else
		memset(v->buf + v->n * v->rec + ksz, 0, vsz);
	v->n++;
	return 0;
}

static bool vec_has_key(const struct vec *v, const void *key, size_t ksz)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!memcmp(v->buf + i * v->rec, key, ksz))
			return true;
	return false;
}

/* A set of service ids: open addressing, grown at half load. */
struct idset {
	__u32 *slot;
	size_t cap, n;
};

static size_t id_hash(__u32 id, size_t cap)
{
	return (size_t)((id * 2654435761u) & (cap - 1));
}

static bool idset_has(const struct idset *s, __u32 id)
{
	size_t i;

	if (!s->cap)
		return false;
	for (i = id_hash(id, s->cap); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == id)
			return true;
	return false;
}

static int idset_add(struct idset *s, __u32 id)
{
	struct idset g = {};
	size_t i;

	if (idset_has(s, id))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		g.cap = s->cap ? s->cap * 2 : 64;
		g.slot = calloc(g.cap, sizeof(*g.slot));
		if (!g.slot)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++)
			if (s->slot[i])
				(void)idset_add(&g, s->slot[i]);
		free(s->slot);
		*s = g;
	}
	for (i = id_hash(id, s->cap); s->slot[i]; i = (i + 1) & (s->cap - 1))
		;
	s->slot[i] = id;
	s->n++;
	return 0;
}

/* One Service's endpoint addresses, collected by store_backends_each. */
struct svc_eps {
	struct store_backend *v;
	size_t n, cap;
};

struct build {
	const struct store *st;
	const struct sync_input *in;
	unsigned char *cur_svc; /* sorted by key */
	unsigned char *cur_bk;	/* sorted by (svc_id, slot) */
	struct idset used;	/* ids in the current map or already given out */
	struct idset given;	/* ids given out in this build */
	__u32 next_id;
	struct vec svc, bk;
	struct sync_maglev *mg;
	size_t n_mg, cap_mg;
	struct store_backends *bit; /* the store's endpoints, indexed once per build */
	struct svc_eps eps;	    /* the endpoints of the Service being built */
};

static void addr_to_abi(const struct ip_addr *a, __u32 out[4], __u8 *family)
{
	memset(out, 0, 16);
	memcpy(out, a->a, a->family == AF_INET ? 4 : 16);
	*family = a->family == AF_INET ? SL_AF_INET : SL_AF_INET6;
}

static int cmp_backend(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sl_backend_val));
}

static int cmp_svc_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sl_svc_key));
}

static int cmp_bk_key(const void *a, const void *b)
{
	const struct sl_backend_key *x = a, *y = b;

	if (x->svc_id != y->svc_id)
		return x->svc_id < y->svc_id ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Same backend (address, port, family), whatever the endpoint id. */
static bool backend_same(const struct sl_backend_val *a, const struct sl_backend_val *b)
{
	return !memcmp(a->addr, b->addr, sizeof(a->addr)) && a->port == b->port &&
	       a->family == b->family;
}

/* Current backends of svc_id: pointer to the first record and their count. */
static const unsigned char *cur_backends(const struct build *b, __u32 svc_id, size_t *ret_n)
{
	size_t lo = 0, hi = b->in->n_cur_backend, mid, n = 0;
	struct sl_backend_key k;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		memcpy(&k, b->cur_bk + mid * BK_REC, sizeof(k));
		if (k.svc_id < svc_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + n < b->in->n_cur_backend) {
		memcpy(&k, b->cur_bk + (lo + n) * BK_REC, sizeof(k));
		if (k.svc_id != svc_id)
			break;
		n++;
	}
	*ret_n = n;
	return b->cur_bk + lo * BK_REC;
}

/*
 * Orders want[0..n-1] into slots: a backend that already sits in a slot below n keeps it;
 * the others fill the remaining slots in sorted order. out[slot] = backend.
 */
static void slots_assign(const struct build *b, __u32 svc_id, const struct sl_backend_val *want,
			 int n, struct sl_backend_val *out)
{
	bool placed[SL_MAX_BACKENDS_PER_SVC] = {}, taken[SL_MAX_BACKENDS_PER_SVC] = {};
	const unsigned char *cur;
	struct sl_backend_key k;
	struct sl_backend_val v;
	size_t n_cur = 0, i;
	int j, s;

	cur = svc_id ? cur_backends(b, svc_id, &n_cur) : NULL;
	for (i = 0; i < n_cur; i++) {
		memcpy(&k, cur + i * BK_REC, sizeof(k));
		memcpy(&v, cur + i * BK_REC + sizeof(k), sizeof(v));
		if (k.slot >= (__u32)n || taken[k.slot])
			continue;
		for (j = 0; j < n; j++) {
			if (!placed[j] && backend_same(&want[j], &v)) {
				out[k.slot] = want[j];
				placed[j] = taken[k.slot] = true;
				break;
			}
		}
	}
	for (j = 0, s = 0; j < n; j++) {
		if (placed[j])
			continue;
		while (taken[s])
			s++;
		out[s] = want[j];
		taken[s] = true;
	}
}

/* The id a frontend keeps (from the current map) or gets (the lowest free one). */
static int frontend_id(struct build *b, const struct sl_svc_key *k, __u32 *ret_id)
{
	const unsigned char *hit = NULL;
	struct sl_svc_val v;
	__u32 id = 0;
	int r;

	if (b->in->n_cur_svc)
		hit = bsearch(k, b->cur_svc, b->in->n_cur_svc, SVC_REC, cmp_svc_key);
	if (hit) {
		memcpy(&v, hit + sizeof(*k), sizeof(v));
		id = v.svc_id;
	}
	if (!id || idset_has(&b->given, id)) {
		while (idset_has(&b->used, b->next_id))
			b->next_id++;
		id = b->next_id++;
	}
	r = idset_add(&b->used, id);
	if (r == 0)
		r = idset_add(&b->given, id);
	if (r == 0)
		*ret_id = id;
	return r;
}

static int maglev_push(struct build *b, __u32 svc_id, const struct sl_backend_val *slots, int n)
{
	struct maglev_backend mb[SL_MAX_BACKENDS_PER_SVC];
	struct sync_maglev *g, *m;
	__u32 size = b->in->maglev_size ?: SL_MAGLEV_DEFAULT;
	int i, r;

	if (b->n_mg == b->cap_mg) {
		b->cap_mg = b->cap_mg ? b->cap_mg * 2 : 8;
		g = realloc(b->mg, b->cap_mg * sizeof(*g));
		if (!g)
			return -ENOMEM;
		b->mg = g;
	}
	m = &b->mg[b->n_mg];
	m->svc_id = svc_id;
	m->size = size;
	m->table = malloc((size_t)size * sizeof(*m->table));
	if (!m->table)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		mb[i].id = &slots[i];
		mb[i].len = offsetof(struct sl_backend_val, flags);
	}
	r = maglev_build(mb, (size_t)n, size, m->table);
	if (r < 0) {
		free(m->table);
		return r;
	}
	b->n_mg++;
	return 0;
}

/* One frontend: its id, stable backend slots, and a Maglev table when node-facing. */
static int frontend_push(struct build *b, const struct ip_addr *addr, __u16 port, __u8 proto,
			 __u16 flags, __u32 aff_timeout, const struct sl_backend_val *all, int n_all)
{
	struct sl_backend_val want[SL_MAX_BACKENDS_PER_SVC], slots[SL_MAX_BACKENDS_PER_SVC];
	struct sl_svc_key k = {};
	struct sl_svc_val v = {};
	int i, n = 0, r;

	addr_to_abi(addr, k.addr, &k.family);
	k.port = htons(port);
	k.proto = proto;
	for (i = 0; i < n_all; i++)
		if (all[i].family == k.family)
			want[n++] = all[i];
	r = frontend_id(b, &k, &v.svc_id);
	if (r < 0)
		return r;
	slots_assign(b, v.svc_id, want, n, slots);
	v.count = (__u16)n;
	v.flags = flags;
	v.affinity_timeout = aff_timeout;
	if ((flags & (SL_SVC_F_NODEPORT | SL_SVC_F_EXTERNAL)) && n > 0) {
		v.maglev_size = b->in->maglev_size ?: SL_MAGLEV_DEFAULT;
		r = maglev_push(b, v.svc_id, slots, n);
		if (r < 0)
			return r;
	}
	r = vec_push(&b->svc, &k, sizeof(k), &v, sizeof(v));
	for (i = 0; !r && i < n; i++) {
		struct sl_backend_key bkk = { .svc_id = v.svc_id, .slot = (__u32)i };

		r = vec_push(&b->bk, &bkk, sizeof(bkk), &slots[i], sizeof(slots[i]));
	}
	return r;
}

static int svc_eps_add(void *ctx, const struct store_backend *be)
{
	struct svc_eps *e = ctx;
	struct store_backend *nv;

	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		nv = realloc(e->v, e->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		e->v = nv;
	}
	e->v[e->n++] = *be;
	return 0;
}

/*
 * Backends of one Service port in one address family: ready endpoints; when none is ready, the
 * serving and terminating ones (so a rolling restart does not drop traffic), decided per family
 * as kube-proxy does.
 */
static int port_backends(const struct svc_eps *eps, const cJSON *svc_port, int family,
			 struct sl_backend_val *bv)
{
	const struct store_backend *e;
	struct ip_addr ba;
	int nb = 0, pass, tp;
	size_t i;

	for (pass = 0; pass < 2 && nb == 0; pass++) {
		for (i = 0; i < eps->n; i++) {
			e = &eps->v[i];
			if (pass == 0 && !e->ready)
				continue;
			if (pass == 1 && !(e->serving && e->terminating))
				continue;
			if (nb >= SL_MAX_BACKENDS_PER_SVC || ip_parse(e->ip, &ba) < 0 ||
			    ba.family != family)
				continue;
			tp = store_backend_port(e, svc_port);
			if (tp <= 0 || tp > 65535)
				continue;
			memset(&bv[nb], 0, sizeof(bv[nb]));
			addr_to_abi(&ba, bv[nb].addr, &bv[nb].family);
			bv[nb].port = htons((uint16_t)tp);
			bv[nb].ep_id = e->ep_id;
			nb++;
		}
	}
	qsort(bv, nb, sizeof(bv[0]), cmp_backend);
	return nb;
}

static int build_service(struct build *b, const cJSON *obj)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *ips = cJSON_GetObjectItemCaseSensitive(spec, "clusterIPs");
	const cJSON *ext = cJSON_GetObjectItemCaseSensitive(spec, "externalIPs");
	const cJSON *lb = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(obj, "status"), "loadBalancer"),
		"ingress");
	const cJSON *port, *ip, *aff, *np;
	struct sl_backend_val bv4[SL_MAX_BACKENDS_PER_SVC], bv6[SL_MAX_BACKENDS_PER_SVC];
	const char *proto, *single, *type = jstr(spec, "type") ?: "ClusterIP";
	struct ip_addr vip;
	cJSON *single_arr = NULL;
	__u32 timeout = 0;
	__u16 flags = 0, pnum;
	__u8 l4;
	size_t i;
	int nb4, nb6, r;

/* the backends of the port being built, for a frontend address of a */
#define BV(a) ((a)->family == AF_INET ? bv4 : bv6), ((a)->family == AF_INET ? nb4 : nb6)
	b->eps.n = 0;
	r = store_backends_each(b->bit, obj, svc_eps_add, &b->eps);
	if (r < 0)
		return r;
	single = jstr(spec, "clusterIP");
	if ((!cJSON_IsArray(ips) || cJSON_GetArraySize(ips) == 0) && single) {
		single_arr = cJSON_CreateStringArray(&single, 1);
		if (!single_arr)
			return -ENOMEM;
		ips = single_arr;
	}
	aff = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(spec, "sessionAffinityConfig"),
			"clientIP"),
		"timeoutSeconds");
	if (!strcmp(jstr(spec, "sessionAffinity") ?: "None", "ClientIP")) {
		flags |= SL_SVC_F_AFFINITY;
		timeout = cJSON_IsNumber(aff) ? (__u32)aff->valuedouble : 10800;
	}
	cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(spec, "ports")) {
		proto = jstr(port, "protocol") ?: "TCP";
		if (strcmp(proto, "TCP") && strcmp(proto, "UDP"))
			continue; /* SCTP: not on this datapath */
		l4 = strcmp(proto, "TCP") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
		nb4 = port_backends(&b->eps, port, AF_INET, bv4);
		nb6 = port_backends(&b->eps, port, AF_INET6, bv6);
		pnum = (__u16)cJSON_GetObjectItemCaseSensitive(port, "port")->valueint;
		cJSON_ArrayForEach(ip, ips) {
			if (!cJSON_IsString(ip) || ip_parse(ip->valuestring, &vip) < 0)
				continue; /* "None": headless, no frontend */
			r = frontend_push(b, &vip, pnum, l4, flags, timeout, BV(&vip));
			if (r < 0)
				goto out;
		}
		cJSON_ArrayForEach(ip, ext) {
			if (!cJSON_IsString(ip) || ip_parse(ip->valuestring, &vip) < 0)
				continue;
			r = frontend_push(b, &vip, pnum, l4, flags | SL_SVC_F_EXTERNAL, timeout,
					  BV(&vip));
			if (r < 0)
				goto out;
		}
		if (!strcmp(type, "LoadBalancer")) {
			cJSON_ArrayForEach(ip, lb) {
				if (ip_parse(jstr(ip, "ip"), &vip) < 0)
					continue; /* hostname-only ingress: nothing to balance here */
				r = frontend_push(b, &vip, pnum, l4, flags | SL_SVC_F_EXTERNAL,
						  timeout, BV(&vip));
				if (r < 0)
					goto out;
			}
		}
		np = cJSON_GetObjectItemCaseSensitive(port, "nodePort");
		if (strcmp(type, "ClusterIP") && cJSON_IsNumber(np) && np->valueint > 0) {
			for (i = 0; i < b->in->n_node_addrs; i++) {
				r = frontend_push(b, &b->in->node_addrs[i], (__u16)np->valueint, l4,
						  flags | SL_SVC_F_NODEPORT, timeout,
						  BV(&b->in->node_addrs[i]));
				if (r < 0)
					goto out;
			}
		}
	}
#undef BV
out:
	cJSON_Delete(single_arr);
	return r;
}

static unsigned char *sorted_copy(const void *recs, size_t n, size_t rec,
				  int (*cmp)(const void *, const void *))
{
	unsigned char *c;

	if (!n)
		return NULL;
	c = malloc(n * rec);
	if (!c)
		return NULL;
	memcpy(c, recs, n * rec);
	qsort(c, n, rec, cmp);
	return c;
}

static void build_free(struct build *b)
{
	size_t i;

	free(b->cur_svc);
	free(b->cur_bk);
	free(b->used.slot);
	free(b->given.slot);
	free(b->svc.buf);
	free(b->bk.buf);
	for (i = 0; i < b->n_mg; i++)
		free(b->mg[i].table);
	free(b->mg);
	free(b->eps.v);
	store_backends_end(b->bit);
}

int sync_build(const struct store *st, const struct sync_input *in, struct sync_desired *ret,
	       char *err, size_t errlen)
{
	size_t es_size = in->ep_stats_value_size;
	struct vec ep = { .rec = sizeof(struct sl_ep_key) + sizeof(struct sl_ep_val) };
	struct vec es = { .rec = sizeof(__u32) + es_size };
	struct build b = {
		.st = st, .in = in, .next_id = 1,
		.svc = { .rec = SVC_REC }, .bk = { .rec = BK_REC },
	};
	const struct store_ep *e;
	int si, n_svc;
	struct sl_svc_val v;
	struct ip_addr a;
	__u32 ifindex;
	size_t i;
	int j, r = -ENOMEM;

	b.cur_svc = sorted_copy(in->cur_svc, in->n_cur_svc, SVC_REC, cmp_svc_key);
	b.cur_bk = sorted_copy(in->cur_backend, in->n_cur_backend, BK_REC, cmp_bk_key);
	if ((in->n_cur_svc && !b.cur_svc) || (in->n_cur_backend && !b.cur_bk))
		goto err_free;
	for (i = 0; i < in->n_cur_svc; i++) {
		memcpy(&v, b.cur_svc + i * SVC_REC + sizeof(struct sl_svc_key), sizeof(v));
		if (idset_add(&b.used, v.svc_id) < 0)
			goto err_free;
	}
	for (i = 0; i < store_ep_count(st); i++) {
		e = store_ep_at(st, i);
		for (j = 0; j < e->n_ips; j++) {
			struct sl_ep_key k = {};
			struct sl_ep_val ev = { .ifindex = (__u32)e->host_ifindex, .ep_id = e->ep_id };

			if (ip_parse(e->ips[j], &a) < 0)
				continue;
			addr_to_abi(&a, k.addr, &k.family);
			if (vec_has_key(&ep, &k, sizeof(k)))
				continue; /* a stale registration of a reused address: first wins */
			r = vec_push(&ep, &k, sizeof(k), &ev, sizeof(ev));
			if (r < 0)
				goto err_free;
		}
		ifindex = (__u32)e->host_ifindex;
		if (vec_has_key(&es, &ifindex, sizeof(ifindex)))
			continue;
		r = vec_push(&es, &ifindex, sizeof(ifindex), NULL, es_size);
		if (r < 0)
			goto err_free;
	}
	r = store_backends_begin(st, &b.bit);
	if (r < 0)
		goto err_free;
	n_svc = store_count(st, OBJ_SERVICE);
	for (si = 0; si < n_svc; si++) {
		r = build_service(&b, store_obj_at(st, OBJ_SERVICE, si));
		if (r < 0)
			goto err_free;
	}
	*ret = (struct sync_desired){
		.ep = ep.buf, .n_ep = ep.n,
		.ep_stats = es.buf, .n_ep_stats = es.n,
		.svc = b.svc.buf, .n_svc = b.svc.n,
		.backend = b.bk.buf, .n_backend = b.bk.n,
		.ep_stats_value_size = es_size,
		.maglev = b.mg, .n_maglev = b.n_mg,
	};
	b.svc.buf = b.bk.buf = NULL;
	b.mg = NULL;
	b.n_mg = 0;
	build_free(&b);
	return 0;

err_free:
	snprintf(err, errlen, "building desired map contents: %s", strerror(-r));
	free(ep.buf);
	free(es.buf);
	build_free(&b);
	return r;
}

void sync_desired_free(struct sync_desired *d)
{
	size_t i;

	if (!d)
		return;
	free(d->ep);
	free(d->ep_stats);
	free(d->svc);
	free(d->backend);
	for (i = 0; i < d->n_maglev; i++)
		free(d->maglev[i].table);
	free(d->maglev);
	memset(d, 0, sizeof(*d));
}
