// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipaddr.h"
#include "sync.h"

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

static void addr_to_abi(const struct ip_addr *a, __u32 out[4], __u8 *family)
{
	memset(out, 0, 16);
	memcpy(out, a->a, a->family == AF_INET ? 4 : 16);
	*family = a->family == AF_INET ? SL_AF_INET : SL_AF_INET6;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int cmp_backend(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sl_backend_val));
}

/* Service id of an existing frontend, or 0. */
static __u32 cur_svc_id(const void *cur, size_t n, const struct sl_svc_key *k)
{
	size_t rec = sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val), i;
	const unsigned char *r;
	struct sl_svc_val v;

	for (i = 0; i < n; i++) {
		r = (const unsigned char *)cur + i * rec;
		if (!memcmp(r, k, sizeof(*k))) {
			memcpy(&v, r + sizeof(*k), sizeof(v));
			return v.svc_id;
		}
	}
	return 0;
}

static bool id_taken(const struct vec *svc, const void *cur, size_t n_cur, __u32 id)
{
	size_t rec = sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val), i;
	struct sl_svc_val v;

	for (i = 0; i < svc->n; i++) {
		memcpy(&v, svc->buf + i * rec + sizeof(struct sl_svc_key), sizeof(v));
		if (v.svc_id == id)
			return true;
	}
	for (i = 0; i < n_cur; i++) {
		memcpy(&v, (const unsigned char *)cur + i * rec + sizeof(struct sl_svc_key),
		       sizeof(v));
		if (v.svc_id == id)
			return true;
	}
	return false;
}

static int build_service(const struct store *st, const cJSON *item, const void *cur,
			 size_t n_cur, struct vec *svc, struct vec *bk, __u32 *next_id)
{
	const char *ns = jstr(item, "namespace"), *name = jstr(item, "service");
	const cJSON *obj = store_obj_get(st, OBJ_SERVICE, ns, name);
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *ips = cJSON_GetObjectItemCaseSensitive(spec, "clusterIPs");
	const cJSON *port, *ip, *ep, *pm, *pv, *aff;
	struct sl_backend_val bv[SL_MAX_BACKENDS_PER_SVC];
	struct sl_svc_key k;
	struct sl_svc_val v;
	struct ip_addr vip, ba;
	const char *proto, *pname, *single;
	cJSON *single_arr = NULL;
	int nb, i, err = 0;

	single = jstr(spec, "clusterIP");
	if (!cJSON_IsArray(ips) || cJSON_GetArraySize(ips) == 0) {
		if (!single)
			return 0;
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
	cJSON_ArrayForEach(ip, ips) {
		if (!cJSON_IsString(ip) || ip_parse(ip->valuestring, &vip) < 0)
			continue; /* "None": headless, no frontend */
		cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(spec, "ports")) {
			proto = jstr(port, "protocol") ?: "TCP";
			if (strcmp(proto, "TCP") && strcmp(proto, "UDP"))
				continue; /* SCTP: not on this datapath */
			pname = jstr(port, "name") ?: "";
			nb = 0;
			cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(item, "endpoints")) {
				if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ep, "ready")))
					continue;
				if (ip_parse(jstr(ep, "ip"), &ba) < 0 || ba.family != vip.family)
					continue;
				pm = cJSON_GetObjectItemCaseSensitive(ep, "ports");
				pv = cJSON_GetObjectItemCaseSensitive(pm, pname);
				if (!cJSON_IsNumber(pv) || nb >= SL_MAX_BACKENDS_PER_SVC)
					continue;
				memset(&bv[nb], 0, sizeof(bv[nb]));
				addr_to_abi(&ba, bv[nb].addr, &bv[nb].family);
				bv[nb].port = htons((uint16_t)pv->valueint);
				pv = cJSON_GetObjectItemCaseSensitive(ep, "endpointID");
				bv[nb].ep_id = cJSON_IsNumber(pv) ? (__u32)pv->valuedouble : 0;
				nb++;
			}
			qsort(bv, nb, sizeof(bv[0]), cmp_backend);

			memset(&k, 0, sizeof(k));
			addr_to_abi(&vip, k.addr, &k.family);
			k.port = htons((uint16_t)cJSON_GetObjectItemCaseSensitive(port, "port")->valueint);
			k.proto = strcmp(proto, "TCP") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
			memset(&v, 0, sizeof(v));
			v.svc_id = cur_svc_id(cur, n_cur, &k);
			if (!v.svc_id || id_taken(svc, NULL, 0, v.svc_id)) {
				while (id_taken(svc, cur, n_cur, *next_id))
					(*next_id)++;
				v.svc_id = (*next_id)++;
			}
			v.count = (__u16)nb;
			if (!strcmp(jstr(spec, "sessionAffinity") ?: "None", "ClientIP")) {
				v.flags |= SL_SVC_F_AFFINITY;
				v.affinity_timeout = cJSON_IsNumber(aff) ? (__u32)aff->valuedouble
									 : 10800;
			}
			err = vec_push(svc, &k, sizeof(k), &v, sizeof(v));
			for (i = 0; !err && i < nb; i++) {
				struct sl_backend_key bkk = { .svc_id = v.svc_id, .slot = i };

				err = vec_push(bk, &bkk, sizeof(bkk), &bv[i], sizeof(bv[i]));
			}
			if (err)
				goto out;
		}
	}
out:
	cJSON_Delete(single_arr);
	return err;
}

int sync_build(const struct store *st, const void *cur_svc, size_t n_cur_svc,
	       size_t ep_stats_value_size, struct sync_desired *ret, char *err, size_t errlen)
{
	struct vec ep = { .rec = sizeof(struct sl_ep_key) + sizeof(struct sl_ep_val) };
	struct vec es = { .rec = sizeof(__u32) + ep_stats_value_size };
	struct vec svc = { .rec = sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val) };
	struct vec bk = { .rec = sizeof(struct sl_backend_key) + sizeof(struct sl_backend_val) };
	const struct store_ep *e;
	cJSON *items = NULL, *item;
	struct ip_addr a;
	__u32 next_id = 1, ifindex;
	size_t i;
	int j, r = 0;

	for (i = 0; i < store_ep_count(st); i++) {
		e = store_ep_at(st, i);
		for (j = 0; j < e->n_ips; j++) {
			struct sl_ep_key k = {};
			struct sl_ep_val v = { .ifindex = (__u32)e->host_ifindex, .ep_id = e->ep_id };

			if (ip_parse(e->ips[j], &a) < 0)
				continue;
			addr_to_abi(&a, k.addr, &k.family);
			if (vec_has_key(&ep, &k, sizeof(k)))
				continue; /* a stale registration of a reused address: first wins */
			r = vec_push(&ep, &k, sizeof(k), &v, sizeof(v));
			if (r < 0)
				goto err_free;
		}
		ifindex = (__u32)e->host_ifindex;
		if (vec_has_key(&es, &ifindex, sizeof(ifindex)))
			continue;
		r = vec_push(&es, &ifindex, sizeof(ifindex), NULL, ep_stats_value_size);
		if (r < 0)
			goto err_free;
	}
	items = store_service_endpoints(st);
	if (!items) {
		r = -ENOMEM;
		goto err_free;
	}
	cJSON_ArrayForEach(item, items) {
		r = build_service(st, item, cur_svc, n_cur_svc, &svc, &bk, &next_id);
		if (r < 0)
			goto err_free;
	}
	cJSON_Delete(items);
	*ret = (struct sync_desired){
		.ep = ep.buf, .n_ep = ep.n,
		.ep_stats = es.buf, .n_ep_stats = es.n,
		.svc = svc.buf, .n_svc = svc.n,
		.backend = bk.buf, .n_backend = bk.n,
		.ep_stats_value_size = ep_stats_value_size,
	};
	return 0;

err_free:
	snprintf(err, errlen, "building desired map contents: %s", strerror(-r));
	cJSON_Delete(items);
	free(ep.buf);
	free(es.buf);
	free(svc.buf);
	free(bk.buf);
	return r;
}

void sync_desired_free(struct sync_desired *d)
{
	if (!d)
		return;
	free(d->ep);
	free(d->ep_stats);
	free(d->svc);
	free(d->backend);
	memset(d, 0, sizeof(*d));
}
