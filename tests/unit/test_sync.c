// SPDX-License-Identifier: Apache-2.0
/*
 * agent/sync/sync_build: how Services and their endpoints become sluice_svc, sluice_backend and
 * Maglev records. Covers port -> targetPort (numeric and named, per pod), protocols, address
 * families and dual stack, externalIPs, LoadBalancer ingress and NodePort frontends, endpoint
 * readiness, session affinity, backend slots that survive endpoint churn, service ids that
 * survive rebuilds, the Maglev tables of node-facing frontends, and the error paths. Every
 * encoded struct is compared whole, padding included.
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

#include "agent/lb/maglev.h"
#include "agent/state/store.h"
#include "agent/sync/sync.h"
#include "ipaddr.h"
#include "sl_abi.h"

#define SVC_REC (sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val))
#define BK_REC	(sizeof(struct sl_backend_key) + sizeof(struct sl_backend_val))
#define EP_REC	(sizeof(struct sl_ep_key) + sizeof(struct sl_ep_val))
#define ES_SIZE 96 /* an ep_stats per-CPU value size that is not sizeof(struct sl_ep_stats) */
#define MAXBK	SL_MAX_BACKENDS_PER_SVC
#define N_D	4

struct t {
	struct store *st;
	struct sync_desired d[N_D]; /* freed by teardown, so a failed assert leaks nothing */
	struct ip_addr node[4];
	size_t n_node;
	unsigned int maglev_size;
	struct sl_backend_val *bk;  /* scratch: MAXBK backends */
	struct sl_backend_val *bk2; /* scratch: MAXBK backends */
	char *json;		    /* scratch: the last formatted batch */
	char err[512];
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->bk = calloc(MAXBK, sizeof(*t->bk));
	t->bk2 = calloc(MAXBK, sizeof(*t->bk2));
	if (!t->bk || !t->bk2 || store_new(&t->st) < 0) {
		free(t->bk);
		free(t->bk2);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	int i;

	store_free(t->st);
	for (i = 0; i < N_D; i++)
		sync_desired_free(&t->d[i]);
	free(t->bk);
	free(t->bk2);
	free(t->json);
	free(t);
	return 0;
}

/* --- input ---------------------------------------------------------------------------------- */

/* Formats a JSON batch written with single quotes (so the literals stay readable). */
static cJSON *batch(struct t *t, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static cJSON *batch(struct t *t, const char *fmt, va_list ap)
{
	va_list cp;
	cJSON *j;
	char *c;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	assert_true(n > 0);
	free(t->json);
	t->json = malloc((size_t)n + 1);
	assert_non_null(t->json);
	assert_int_equal(vsnprintf(t->json, (size_t)n + 1, fmt, ap), n);
	for (c = t->json; *c; c++)
		if (*c == '\'')
			*c = '"';
	j = cJSON_Parse(t->json);
	if (!j)
		fail_msg("bad test JSON: %s", t->json);
	return j;
}

static void apply(struct t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void apply(struct t *t, const char *fmt, ...)
{
	cJSON *items, *res = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	items = batch(t, fmt, ap);
	va_end(ap);
	t->err[0] = '\0';
	r = store_apply(t->st, items, &res, t->err, sizeof(t->err));
	cJSON_Delete(res);
	cJSON_Delete(items);
	if (r < 0)
		fail_msg("store_apply: %d %s", r, t->err);
}

static void delete(struct t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void delete(struct t *t, const char *fmt, ...)
{
	cJSON *items, *res = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	items = batch(t, fmt, ap);
	va_end(ap);
	r = store_delete(t->st, items, &res, t->err, sizeof(t->err));
	cJSON_Delete(res);
	cJSON_Delete(items);
	if (r < 0)
		fail_msg("store_delete: %d %s", r, t->err);
}

/* A pod labelled app=<app> whose one container has the given ports JSON (may be empty). */
static void pod(struct t *t, const char *name, const char *app, const char *ports)
{
	apply(t,
	      "[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'default',"
	      "'labels':{'app':'%s'}},'spec':{'containers':[{'name':'c','image':'x',"
	      "'ports':[%s]}]}}]",
	      name, app, ports);
}

/* Registers pod's endpoint (container id = pod name) with one or two addresses. */
static unsigned int ep(struct t *t, const char *pod_name, int ifindex, const char *ip,
		       const char *ip2)
{
	struct store_ep e = { .host_ifindex = ifindex, .n_ips = ip2 ? 2 : 1 };
	unsigned int id;

	snprintf(e.container_id, sizeof(e.container_id), "%s", pod_name);
	snprintf(e.pod_ns, sizeof(e.pod_ns), "default");
	snprintf(e.pod_name, sizeof(e.pod_name), "%s", pod_name);
	snprintf(e.host_ifname, sizeof(e.host_ifname), "veth%d", ifindex);
	snprintf(e.ips[0], sizeof(e.ips[0]), "%s", ip);
	if (ip2)
		snprintf(e.ips[1], sizeof(e.ips[1]), "%s", ip2);
	assert_int_equal(store_ep_add(t->st, &e, &id), 0);
	return id;
}

/* A pod with app=<app> and no ports, registered at ip (and ip2). */
static unsigned int pod_ep(struct t *t, const char *name, const char *app, int ifindex,
			   const char *ip, const char *ip2)
{
	pod(t, name, app, "");
	return ep(t, name, ifindex, ip, ip2);
}

static void node_addr(struct t *t, const char *ip)
{
	assert_true(t->n_node < sizeof(t->node) / sizeof(t->node[0]));
	assert_int_equal(ip_parse(ip, &t->node[t->n_node]), 0);
	t->n_node++;
}

/* sync_build into t->d[i], fed the svc and backend records of t->d[cur] (cur < 0: none). */
static int sb(struct t *t, int i, int cur)
{
	const struct sync_desired *c = cur >= 0 ? &t->d[cur] : NULL;
	struct sync_input in = {
		.cur_svc = c ? c->svc : NULL,
		.n_cur_svc = c ? c->n_svc : 0,
		.cur_backend = c ? c->backend : NULL,
		.n_cur_backend = c ? c->n_backend : 0,
		.ep_stats_value_size = ES_SIZE,
		.node_addrs = t->n_node ? t->node : NULL,
		.n_node_addrs = t->n_node,
		.maglev_size = t->maglev_size,
	};

	sync_desired_free(&t->d[i]);
	t->err[0] = '\0';
	return sync_build(t->st, &in, &t->d[i], t->err, sizeof(t->err));
}

static void sb_ok(struct t *t, int i, int cur)
{
	int r = sb(t, i, cur);

	if (r < 0)
		fail_msg("sync_build: %d %s", r, t->err);
}

/* --- expected values ------------------------------------------------------------------------ */

static void abi_addr(const char *ip, __u32 addr[4], __u8 *family)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(ip, &a), 0);
	memset(addr, 0, 16);
	memcpy(addr, a.a, a.family == AF_INET ? 4 : 16);
	*family = a.family == AF_INET ? SL_AF_INET : SL_AF_INET6;
}

static struct sl_svc_key skey(const char *ip, uint16_t port, uint8_t proto)
{
	struct sl_svc_key k;

	memset(&k, 0, sizeof(k));
	abi_addr(ip, k.addr, &k.family);
	k.port = htons(port);
	k.proto = proto;
	return k;
}

static struct sl_svc_val sval(__u32 id, __u16 count, __u16 flags, __u32 aff, __u32 mg)
{
	struct sl_svc_val v;

	memset(&v, 0, sizeof(v));
	v.svc_id = id;
	v.count = count;
	v.flags = flags;
	v.affinity_timeout = aff;
	v.maglev_size = mg;
	return v;
}

static struct sl_backend_val bval(const char *ip, uint16_t port, __u32 ep_id)
{
	struct sl_backend_val v;

	memset(&v, 0, sizeof(v));
	abi_addr(ip, v.addr, &v.family);
	v.port = htons(port);
	v.ep_id = ep_id;
	return v;
}

/* --- decoding ------------------------------------------------------------------------------- */

static bool svc_try(const struct sync_desired *d, const struct sl_svc_key *k,
		    struct sl_svc_val *ret_v)
{
	const unsigned char *r;
	size_t i;

	for (i = 0; i < d->n_svc; i++) {
		r = (const unsigned char *)d->svc + i * SVC_REC;
		if (!memcmp(r, k, sizeof(*k))) {
			memcpy(ret_v, r + sizeof(*k), sizeof(*ret_v));
			return true;
		}
	}
	return false;
}

static struct sl_svc_val svc_get(const struct sync_desired *d, const char *ip, uint16_t port,
				 uint8_t proto)
{
	struct sl_svc_key k = skey(ip, port, proto);
	struct sl_svc_val v;

	if (!svc_try(d, &k, &v))
		fail_msg("no frontend %s:%u/%u", ip, port, proto);
	return v;
}

/* Asserts the frontend ip:port/proto exists with exactly value want. */
static void svc_expect(const struct sync_desired *d, const char *ip, uint16_t port, uint8_t proto,
		       struct sl_svc_val want)
{
	struct sl_svc_val v = svc_get(d, ip, port, proto);

	if (memcmp(&v, &want, sizeof(v)))
		fail_msg("frontend %s:%u/%u: got id=%u count=%u flags=%#x aff=%u mg=%u, want "
			 "id=%u count=%u flags=%#x aff=%u mg=%u",
			 ip, port, proto, v.svc_id, v.count, v.flags, v.affinity_timeout,
			 v.maglev_size, want.svc_id, want.count, want.flags, want.affinity_timeout,
			 want.maglev_size);
}

/* Backends of svc_id by slot into out; asserts slots are exactly 0..n-1, returns n. */
static size_t bk_of(const struct sync_desired *d, __u32 svc_id, struct sl_backend_val *out)
{
	bool seen[MAXBK] = {};
	struct sl_backend_key k;
	const unsigned char *r;
	size_t i, n = 0;

	for (i = 0; i < d->n_backend; i++) {
		r = (const unsigned char *)d->backend + i * BK_REC;
		memcpy(&k, r, sizeof(k));
		if (k.svc_id != svc_id)
			continue;
		assert_true(k.slot < MAXBK);
		assert_false(seen[k.slot]);
		seen[k.slot] = true;
		memcpy(&out[k.slot], r + sizeof(k), sizeof(out[0]));
		n++;
	}
	for (i = 0; i < n; i++)
		assert_true(seen[i]);
	return n;
}

/* Asserts svc_id's backends are exactly want[0..n-1], slot by slot. */
static void bk_expect(struct t *t, const struct sync_desired *d, __u32 svc_id,
		      const struct sl_backend_val *want, size_t n)
{
	size_t i;

	assert_int_equal(bk_of(d, svc_id, t->bk), n);
	for (i = 0; i < n; i++)
		if (memcmp(&t->bk[i], &want[i], sizeof(want[i])))
			fail_msg("svc %u slot %zu: got port %u family %u ep %u addr0 %08x, want "
				 "port %u family %u ep %u addr0 %08x",
				 svc_id, i, ntohs(t->bk[i].port), t->bk[i].family, t->bk[i].ep_id,
				 ntohl(t->bk[i].addr[0]), ntohs(want[i].port), want[i].family,
				 want[i].ep_id, ntohl(want[i].addr[0]));
}

static const struct sync_maglev *mg_of(const struct sync_desired *d, __u32 svc_id)
{
	const struct sync_maglev *hit = NULL;
	size_t i;

	for (i = 0; i < d->n_maglev; i++) {
		if (d->maglev[i].svc_id != svc_id)
			continue;
		assert_null(hit); /* one table per frontend */
		hit = &d->maglev[i];
	}
	return hit;
}

/*
 * Asserts svc_id has a Maglev table of size m that is exactly maglev_build over its backends
 * in slot order, hashed by (addr, port, family): entries are slots.
 */
static void mg_expect(struct t *t, const struct sync_desired *d, __u32 svc_id, __u32 m)
{
	struct maglev_backend mb[MAXBK];
	const struct sync_maglev *g = mg_of(d, svc_id);
	size_t n = bk_of(d, svc_id, t->bk), i;
	uint32_t *want;

	if (!g)
		fail_msg("no Maglev table for svc %u", svc_id);
	assert_int_equal(g->size, m);
	assert_non_null(g->table);
	assert_true(n > 0);
	for (i = 0; i < n; i++)
		mb[i] = (struct maglev_backend){ .id = &t->bk[i],
						 .len = offsetof(struct sl_backend_val, flags) };
	want = malloc((size_t)m * sizeof(*want));
	assert_non_null(want);
	assert_int_equal(maglev_build(mb, n, m, want), 0);
	for (i = 0; i < m; i++)
		assert_true(g->table[i] < n);
	assert_memory_equal(g->table, want, (size_t)m * sizeof(*want));
	free(want);
}

/* --- fixtures ------------------------------------------------------------------------------- */

#define SVC_HEAD(name)                                                                            \
	"{'apiVersion':'v1','kind':'Service','metadata':{'name':'" name "','namespace':'default'},"

/* A Service selecting app=web with one port http 80 -> 8080 and the extra spec fields. */
#define SVC_WEB(name, vip, extra)                                                                 \
	SVC_HEAD(name) "'spec':{'clusterIP':'" vip "','selector':{'app':'web'},"                 \
	"'ports':[{'name':'http','port':80,'targetPort':8080}]" extra "}}"

#define NODEPORT_WEB(name, vip, np)                                                               \
	SVC_HEAD(name) "'spec':{'type':'NodePort','clusterIP':'" vip "','selector':{'app':'web'},"\
	"'ports':[{'name':'http','port':80,'targetPort':8080,'nodePort':" np "}]}}"

/* --- ClusterIP translation ------------------------------------------------------------------ */

static void sync_build__cluster_ip_numeric_target_port__exact_records(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];
	unsigned char bk_want[2 * BK_REC], ep_want[3 * EP_REC], es_want[3 * (4 + ES_SIZE)];
	struct sl_backend_key bk;
	struct sl_ep_key ek;
	struct sl_ep_val ev;
	unsigned int e1, e2, e3;
	__u32 ifx;
	int i;

	apply(t, "[" SVC_WEB("web", "10.96.0.10", "") "]");
	e1 = pod_ep(t, "web-1", "web", 11, "10.1.0.6", NULL);
	e2 = pod_ep(t, "web-2", "web", 12, "10.1.0.5", NULL);
	e3 = pod_ep(t, "db-1", "db", 13, "10.1.0.9", NULL);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 1);
	svc_expect(&t->d[0], "10.96.0.10", 80, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	/* slots in sorted backend order: 10.1.0.5 before 10.1.0.6 */
	want[0] = bval("10.1.0.5", 8080, e2);
	want[1] = bval("10.1.0.6", 8080, e1);
	bk_expect(t, &t->d[0], 1, want, 2);
	/* the records themselves: key (svc_id, slot) then value, slot order */
	assert_int_equal(t->d[0].n_backend, 2);
	for (i = 0; i < 2; i++) {
		bk = (struct sl_backend_key){ .svc_id = 1, .slot = (__u32)i };
		memcpy(bk_want + i * BK_REC, &bk, sizeof(bk));
		memcpy(bk_want + i * BK_REC + sizeof(bk), &want[i], sizeof(want[i]));
	}
	assert_memory_equal(t->d[0].backend, bk_want, sizeof(bk_want));
	assert_int_equal(t->d[0].n_maglev, 0);
	assert_null(t->d[0].maglev);

	/* one sluice_ep record per registered address, in registration order */
	assert_int_equal(t->d[0].n_ep, 3);
	{
		const char *ips[3] = { "10.1.0.6", "10.1.0.5", "10.1.0.9" };
		unsigned int ids[3] = { e1, e2, e3 };

		for (i = 0; i < 3; i++) {
			memset(&ek, 0, sizeof(ek));
			abi_addr(ips[i], ek.addr, &ek.family);
			ev = (struct sl_ep_val){ .ifindex = (__u32)(11 + i), .ep_id = ids[i] };
			memcpy(ep_want + i * EP_REC, &ek, sizeof(ek));
			memcpy(ep_want + i * EP_REC + sizeof(ek), &ev, sizeof(ev));
		}
	}
	assert_memory_equal(t->d[0].ep, ep_want, sizeof(ep_want));
	/* one zeroed per-CPU counter record per host veth, of the size asked for */
	assert_int_equal(t->d[0].n_ep_stats, 3);
	assert_int_equal(t->d[0].ep_stats_value_size, ES_SIZE);
	memset(es_want, 0, sizeof(es_want));
	for (i = 0; i < 3; i++) {
		ifx = (__u32)(11 + i);
		memcpy(es_want + i * (4 + ES_SIZE), &ifx, sizeof(ifx));
	}
	assert_memory_equal(t->d[0].ep_stats, es_want, sizeof(es_want));
}

static void sync_build__named_target_port__resolved_per_pod_pod_without_it_skipped(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];
	unsigned int ea, eb;

	apply(t, "[" SVC_HEAD("web") "'spec':{'clusterIP':'10.96.0.11','selector':{'app':'web'},"
		 "'ports':[{'name':'web','port':80,'targetPort':'http'}]}}]");
	pod(t, "a", "web", "{'name':'http','containerPort':8080}");
	pod(t, "b", "web", "{'name':'metrics','containerPort':9100},"
			   "{'name':'http','containerPort':9090,'protocol':'TCP'}");
	pod(t, "c", "web", "{'name':'metrics','containerPort':9100}"); /* no 'http' */
	pod(t, "d", "web", "{'name':'http','containerPort':7070,'protocol':'UDP'}"); /* not TCP */
	ea = ep(t, "a", 21, "10.1.0.21", NULL);
	eb = ep(t, "b", 22, "10.1.0.22", NULL);
	(void)ep(t, "c", 23, "10.1.0.23", NULL);
	(void)ep(t, "d", 24, "10.1.0.24", NULL);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 1);
	svc_expect(&t->d[0], "10.96.0.11", 80, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	want[0] = bval("10.1.0.21", 8080, ea);
	want[1] = bval("10.1.0.22", 9090, eb);
	bk_expect(t, &t->d[0], 1, want, 2);
	assert_int_equal(t->d[0].n_backend, 2);
}

static void sync_build__tcp_udp_and_sctp_ports__one_frontend_per_tcp_udp_port(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[1];
	unsigned int e;

	apply(t, "[" SVC_HEAD("dns") "'spec':{'clusterIP':'10.96.0.53','selector':{'app':'dns'},"
		 "'ports':[{'name':'dns','port':53,'protocol':'UDP','targetPort':5353},"
		 "{'name':'dns-tcp','port':53,'protocol':'TCP','targetPort':5354},"
		 "{'name':'sig','port':9,'protocol':'SCTP'}]}}]");
	e = pod_ep(t, "dns-1", "dns", 31, "10.1.0.31", NULL);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 2); /* SCTP has no frontend on this datapath */
	svc_expect(&t->d[0], "10.96.0.53", 53, IPPROTO_UDP, sval(1, 1, 0, 0, 0));
	svc_expect(&t->d[0], "10.96.0.53", 53, IPPROTO_TCP, sval(2, 1, 0, 0, 0));
	want[0] = bval("10.1.0.31", 5353, e);
	bk_expect(t, &t->d[0], 1, want, 1);
	want[0] = bval("10.1.0.31", 5354, e);
	bk_expect(t, &t->d[0], 2, want, 1);
	assert_int_equal(t->d[0].n_backend, 2);
}

static void sync_build__headless_service__no_frontend(void **state)
{
	struct t *t = *state;

	apply(t, "[" SVC_WEB("web", "None", "") "]");
	(void)pod_ep(t, "web-1", "web", 11, "10.1.0.5", NULL);
	sb_ok(t, 0, -1);
	assert_int_equal(t->d[0].n_svc, 0);
	assert_int_equal(t->d[0].n_backend, 0);
	assert_int_equal(t->d[0].n_ep, 1);
}

/* --- address families ----------------------------------------------------------------------- */

static void sync_build__single_stack_services__backends_of_their_family_only(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];
	unsigned int e1, e2;

	apply(t, "[" SVC_WEB("web4", "10.96.0.10", "") "," SVC_WEB("web6", "fd00:96::10", "") "]");
	e1 = pod_ep(t, "web-1", "web", 11, "10.1.0.5", "fd00:10:244::5");
	e2 = pod_ep(t, "web-2", "web", 12, "fd00:10:244::6", "10.1.0.6");
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 2);
	svc_expect(&t->d[0], "10.96.0.10", 80, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	svc_expect(&t->d[0], "fd00:96::10", 80, IPPROTO_TCP, sval(2, 2, 0, 0, 0));
	want[0] = bval("10.1.0.5", 8080, e1);
	want[1] = bval("10.1.0.6", 8080, e2);
	bk_expect(t, &t->d[0], 1, want, 2);
	want[0] = bval("fd00:10:244::5", 8080, e1);
	want[1] = bval("fd00:10:244::6", 8080, e2);
	bk_expect(t, &t->d[0], 2, want, 2);
	assert_int_equal(t->d[0].n_backend, 4);
	assert_int_equal(t->d[0].n_ep, 4);
	assert_int_equal(t->d[0].n_ep_stats, 2); /* one per veth, not per address */
}

static void sync_build__dual_stack_cluster_ips__one_frontend_per_family(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];
	unsigned int e1, e2;

	apply(t, "[" SVC_HEAD("web") "'spec':{'clusterIP':'10.96.0.30',"
		 "'clusterIPs':['10.96.0.30','fd00:96::30'],'selector':{'app':'web'},"
		 "'ports':[{'name':'http','port':80,'targetPort':8080}]}}]");
	e1 = pod_ep(t, "web-1", "web", 11, "10.1.0.5", "fd00:10:244::5");
	e2 = pod_ep(t, "web-2", "web", 12, "10.1.0.6", NULL); /* IPv4 only */
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 2);
	svc_expect(&t->d[0], "10.96.0.30", 80, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	svc_expect(&t->d[0], "fd00:96::30", 80, IPPROTO_TCP, sval(2, 1, 0, 0, 0));
	want[0] = bval("10.1.0.5", 8080, e1);
	want[1] = bval("10.1.0.6", 8080, e2);
	bk_expect(t, &t->d[0], 1, want, 2);
	want[0] = bval("fd00:10:244::5", 8080, e1);
	bk_expect(t, &t->d[0], 2, want, 1);
}

/* --- node-facing frontends ------------------------------------------------------------------ */

static void sync_build__external_ips__external_flag_and_maglev(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];
	unsigned int e1, e2;

	t->maglev_size = 251;
	node_addr(t, "192.168.0.2"); /* a ClusterIP Service has no NodePort frontends */
	apply(t, "[" SVC_WEB("web", "10.96.0.10", ",'externalIPs':['192.0.2.10','2001:db8::10']")
		 "]");
	e1 = pod_ep(t, "web-1", "web", 11, "10.1.0.5", NULL);
	e2 = pod_ep(t, "web-2", "web", 12, "10.1.0.6", NULL);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 3);
	svc_expect(&t->d[0], "10.96.0.10", 80, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	svc_expect(&t->d[0], "192.0.2.10", 80, IPPROTO_TCP, sval(2, 2, SL_SVC_F_EXTERNAL, 0, 251));
	/* an IPv6 externalIP of an IPv4 Service: a frontend without backends or table */
	svc_expect(&t->d[0], "2001:db8::10", 80, IPPROTO_TCP, sval(3, 0, SL_SVC_F_EXTERNAL, 0, 0));
	want[0] = bval("10.1.0.5", 8080, e1);
	want[1] = bval("10.1.0.6", 8080, e2);
	bk_expect(t, &t->d[0], 1, want, 2);
	bk_expect(t, &t->d[0], 2, want, 2);
	assert_int_equal(bk_of(&t->d[0], 3, t->bk), 0);
	assert_int_equal(t->d[0].n_backend, 4);
	assert_int_equal(t->d[0].n_maglev, 1);
	mg_expect(t, &t->d[0], 2, 251);
}

static void sync_build__load_balancer__ingress_ips_and_node_ports(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];
	unsigned int e1, e2;
	__u32 id;

	t->maglev_size = 257;
	node_addr(t, "192.168.0.2");
	node_addr(t, "192.168.0.3");
	apply(t, "[" SVC_HEAD("lb") "'spec':{'type':'LoadBalancer','clusterIP':'10.96.0.40',"
		 "'selector':{'app':'web'},'ports':[{'name':'http','port':80,'targetPort':8080,"
		 "'nodePort':30080}]},'status':{'loadBalancer':{'ingress':[{'ip':'198.51.100.7'},"
		 "{'hostname':'lb.example.com'}]}}},"
		 /* ingress in the status of a NodePort Service is not a frontend */
		 SVC_HEAD("np") "'spec':{'type':'NodePort','clusterIP':'10.96.0.41',"
		 "'selector':{'app':'web'},'ports':[{'name':'http','port':81,'targetPort':8081,"
		 "'nodePort':30081}]},"
		 "'status':{'loadBalancer':{'ingress':[{'ip':'198.51.100.8'}]}}}"
		 "]");
	e1 = pod_ep(t, "web-1", "web", 11, "10.1.0.5", NULL);
	e2 = pod_ep(t, "web-2", "web", 12, "10.1.0.6", NULL);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 7);
	svc_expect(&t->d[0], "10.96.0.40", 80, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	svc_expect(&t->d[0], "198.51.100.7", 80, IPPROTO_TCP,
		   sval(2, 2, SL_SVC_F_EXTERNAL, 0, 257));
	svc_expect(&t->d[0], "192.168.0.2", 30080, IPPROTO_TCP,
		   sval(3, 2, SL_SVC_F_NODEPORT, 0, 257));
	svc_expect(&t->d[0], "192.168.0.3", 30080, IPPROTO_TCP,
		   sval(4, 2, SL_SVC_F_NODEPORT, 0, 257));
	svc_expect(&t->d[0], "10.96.0.41", 81, IPPROTO_TCP, sval(5, 2, 0, 0, 0));
	svc_expect(&t->d[0], "192.168.0.2", 30081, IPPROTO_TCP,
		   sval(6, 2, SL_SVC_F_NODEPORT, 0, 257));
	svc_expect(&t->d[0], "192.168.0.3", 30081, IPPROTO_TCP,
		   sval(7, 2, SL_SVC_F_NODEPORT, 0, 257));
	want[0] = bval("10.1.0.5", 8080, e1);
	want[1] = bval("10.1.0.6", 8080, e2);
	for (id = 1; id <= 4; id++)
		bk_expect(t, &t->d[0], id, want, 2);
	want[0] = bval("10.1.0.5", 8081, e1);
	want[1] = bval("10.1.0.6", 8081, e2);
	for (id = 5; id <= 7; id++)
		bk_expect(t, &t->d[0], id, want, 2);
	assert_int_equal(t->d[0].n_backend, 14);
	/* a table for every node-facing frontend, none for the ClusterIPs */
	assert_int_equal(t->d[0].n_maglev, 5);
	assert_null(mg_of(&t->d[0], 1));
	assert_null(mg_of(&t->d[0], 5));
	mg_expect(t, &t->d[0], 2, 257);
	mg_expect(t, &t->d[0], 3, 257);
	mg_expect(t, &t->d[0], 4, 257);
	mg_expect(t, &t->d[0], 6, 257);
	mg_expect(t, &t->d[0], 7, 257);
}

static void sync_build__node_port__per_node_addr_of_each_family(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[1];
	unsigned int e1;

	node_addr(t, "192.168.0.2");
	node_addr(t, "fd00:1::2");
	apply(t, "[" NODEPORT_WEB("web", "10.96.0.10", "30082") "]");
	e1 = pod_ep(t, "web-1", "web", 11, "10.1.0.5", NULL);
	sb_ok(t, 0, -1);

	/* maglev_size 0 in the input: the default table size */
	assert_int_equal(t->d[0].n_svc, 3);
	svc_expect(&t->d[0], "10.96.0.10", 80, IPPROTO_TCP, sval(1, 1, 0, 0, 0));
	svc_expect(&t->d[0], "192.168.0.2", 30082, IPPROTO_TCP,
		   sval(2, 1, SL_SVC_F_NODEPORT, 0, SL_MAGLEV_DEFAULT));
	svc_expect(&t->d[0], "fd00:1::2", 30082, IPPROTO_TCP, sval(3, 0, SL_SVC_F_NODEPORT, 0, 0));
	want[0] = bval("10.1.0.5", 8080, e1);
	bk_expect(t, &t->d[0], 2, want, 1);
	assert_int_equal(t->d[0].n_maglev, 1);
	mg_expect(t, &t->d[0], 2, SL_MAGLEV_DEFAULT);

	/* without node addresses there is nothing for a NodePort to listen on */
	t->n_node = 0;
	sb_ok(t, 1, -1);
	assert_int_equal(t->d[1].n_svc, 1);
	svc_expect(&t->d[1], "10.96.0.10", 80, IPPROTO_TCP, sval(1, 1, 0, 0, 0));
	assert_int_equal(t->d[1].n_maglev, 0);
}

/* --- readiness ------------------------------------------------------------------------------ */

#define SVC_SLICE(name, vip)                                                                      \
	SVC_HEAD(name) "'spec':{'clusterIP':'" vip "','ports':[{'name':'https','port':443}]}}"

#define SLICE(name, svc, eps)                                                                     \
	"{'apiVersion':'discovery.k8s.io/v1','kind':'EndpointSlice','metadata':{'name':'" name   \
	"','namespace':'default','labels':{'kubernetes.io/service-name':'" svc "'}},"           \
	"'addressType':'IPv4','endpoints':[" eps "],"                                            \
	"'ports':[{'name':'https','port':8443,'protocol':'TCP'}]}"

#define EPC(ip, cond) "{'addresses':['" ip "'],'conditions':{" cond "}}"

static void sync_build__ready_and_not_ready__only_ready_used(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];

	apply(t, "[" SVC_SLICE("ext", "10.96.0.20") ","
		 SLICE("ext-1", "ext",
		       EPC("192.168.1.10", "'ready':true") ","
		       EPC("192.168.1.11", "'ready':false") ","
		       EPC("192.168.1.12", "'ready':false,'serving':true,'terminating':true") ","
		       EPC("192.168.1.9", "")) "]"); /* conditions unset: ready */
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 1);
	svc_expect(&t->d[0], "10.96.0.20", 443, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	want[0] = bval("192.168.1.9", 8443, 0); /* not a local pod: ep_id 0 */
	want[1] = bval("192.168.1.10", 8443, 0);
	bk_expect(t, &t->d[0], 1, want, 2);
	assert_int_equal(t->d[0].n_backend, 2);
	assert_int_equal(t->d[0].n_ep, 0);
}

static void sync_build__none_ready__serving_terminating_used(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[2];

	apply(t, "[" SVC_SLICE("ext", "10.96.0.20") ","
		 SLICE("ext-1", "ext",
		       EPC("192.168.1.11", "'ready':false") ","
		       EPC("192.168.1.12", "'ready':false,'serving':true,'terminating':true") ","
		       EPC("192.168.1.13", "'ready':false,'serving':false,'terminating':true") ","
		       /* serving but not terminating */
		       EPC("192.168.1.14", "'ready':false,'serving':true")) ","
		 SLICE("ext-2", "ext",
		       EPC("192.168.1.2", "'ready':false,'serving':true,'terminating':true")) "]");
	sb_ok(t, 0, -1);

	svc_expect(&t->d[0], "10.96.0.20", 443, IPPROTO_TCP, sval(1, 2, 0, 0, 0));
	want[0] = bval("192.168.1.2", 8443, 0);
	want[1] = bval("192.168.1.12", 8443, 0);
	bk_expect(t, &t->d[0], 1, want, 2);
	assert_int_equal(t->d[0].n_backend, 2);
}

static void sync_build__no_usable_endpoint__frontend_with_count_zero(void **state)
{
	struct t *t = *state;

	node_addr(t, "192.168.0.2");
	apply(t, "[" SVC_SLICE("ext", "10.96.0.20") ","
		 SLICE("ext-1", "ext",
		       EPC("192.168.1.11", "'ready':false") ","
		       EPC("192.168.1.13", "'ready':false,'serving':false,'terminating':true")) ","
		 /* a selector that matches no pod at all */
		 NODEPORT_WEB("web", "10.96.0.10", "30083") "]");
	(void)pod_ep(t, "db-1", "db", 13, "10.1.0.9", NULL);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 3);
	svc_expect(&t->d[0], "10.96.0.20", 443, IPPROTO_TCP, sval(1, 0, 0, 0, 0));
	svc_expect(&t->d[0], "10.96.0.10", 80, IPPROTO_TCP, sval(2, 0, 0, 0, 0));
	/* node-facing, but no backend to build a table from */
	svc_expect(&t->d[0], "192.168.0.2", 30083, IPPROTO_TCP,
		   sval(3, 0, SL_SVC_F_NODEPORT, 0, 0));
	assert_int_equal(t->d[0].n_backend, 0);
	assert_int_equal(t->d[0].n_maglev, 0);
}

/* --- session affinity ----------------------------------------------------------------------- */

static void sync_build__session_affinity_client_ip__flag_and_timeout_encoded(void **state)
{
	struct t *t = *state;

	node_addr(t, "192.168.0.2");
	t->maglev_size = 251;
	apply(t, "[" SVC_WEB("a1", "10.96.0.1",
			     ",'sessionAffinity':'ClientIP','sessionAffinityConfig':"
			     "{'clientIP':{'timeoutSeconds':600}}") ","
		 SVC_WEB("a2", "10.96.0.2", ",'sessionAffinity':'ClientIP'") ","
		 SVC_WEB("a3", "10.96.0.3", ",'sessionAffinity':'None'") ","
		 SVC_HEAD("a4") "'spec':{'type':'NodePort','clusterIP':'10.96.0.4',"
		 "'selector':{'app':'web'},'sessionAffinity':'ClientIP','sessionAffinityConfig':"
		 "{'clientIP':{'timeoutSeconds':86400}},'ports':[{'name':'http','port':80,"
		 "'targetPort':8080,'nodePort':30084}]}}]");
	(void)pod_ep(t, "web-1", "web", 11, "10.1.0.5", NULL);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 5);
	svc_expect(&t->d[0], "10.96.0.1", 80, IPPROTO_TCP, sval(1, 1, SL_SVC_F_AFFINITY, 600, 0));
	/* no timeout given: Kubernetes' default of three hours */
	svc_expect(&t->d[0], "10.96.0.2", 80, IPPROTO_TCP,
		   sval(2, 1, SL_SVC_F_AFFINITY, 10800, 0));
	svc_expect(&t->d[0], "10.96.0.3", 80, IPPROTO_TCP, sval(3, 1, 0, 0, 0));
	svc_expect(&t->d[0], "10.96.0.4", 80, IPPROTO_TCP,
		   sval(4, 1, SL_SVC_F_AFFINITY, 86400, 0));
	svc_expect(&t->d[0], "192.168.0.2", 30084, IPPROTO_TCP,
		   sval(5, 1, SL_SVC_F_AFFINITY | SL_SVC_F_NODEPORT, 86400, 251));
	mg_expect(t, &t->d[0], 5, 251);
}

/* --- stability across rebuilds -------------------------------------------------------------- */

static void five_web_pods(struct t *t, unsigned int *ids)
{
	char name[24], ip[24];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "web-%d", i + 1);
		snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
		ids[i] = pod_ep(t, name, "web", 11 + i, ip, NULL);
	}
}

static void sync_build__backend_removed__others_keep_slots_last_fills_gap(void **state)
{
	struct t *t = *state;
	struct sl_backend_val want[5];
	unsigned int ids[5], e6;

	apply(t, "[" SVC_WEB("web", "10.96.0.10", "") "]");
	five_web_pods(t, ids);
	sb_ok(t, 0, -1);
	want[0] = bval("10.1.0.1", 8080, ids[0]);
	want[1] = bval("10.1.0.2", 8080, ids[1]);
	want[2] = bval("10.1.0.3", 8080, ids[2]);
	want[3] = bval("10.1.0.4", 8080, ids[3]);
	want[4] = bval("10.1.0.5", 8080, ids[4]);
	bk_expect(t, &t->d[0], 1, want, 5);

	/* web-2 (slot 1) goes: slots 0, 2, 3 stay, web-5 leaves slot 4 for the gap */
	assert_int_equal(store_ep_del(t->st, "web-2"), 0);
	sb_ok(t, 1, 0);
	svc_expect(&t->d[1], "10.96.0.10", 80, IPPROTO_TCP, sval(1, 4, 0, 0, 0));
	want[1] = bval("10.1.0.5", 8080, ids[4]);
	bk_expect(t, &t->d[1], 1, want, 4);
	assert_int_equal(t->d[1].n_backend, 4);

	/* a newcomer, 10.1.0.0, sorts first but takes the free slot; nothing else moves */
	e6 = pod_ep(t, "web-6", "web", 16, "10.1.0.0", NULL);
	sb_ok(t, 2, 1);
	svc_expect(&t->d[2], "10.96.0.10", 80, IPPROTO_TCP, sval(1, 5, 0, 0, 0));
	want[4] = bval("10.1.0.0", 8080, e6);
	bk_expect(t, &t->d[2], 1, want, 5);

	/* the backend in the last slot goes: nobody moves */
	assert_int_equal(store_ep_del(t->st, "web-6"), 0);
	sb_ok(t, 3, 2);
	bk_expect(t, &t->d[3], 1, want, 4);
}

static void sync_build__backend_removed__maglev_entries_of_others_mostly_kept(void **state)
{
	struct t *t = *state;
	char name[24], ip[24];
	const struct sync_maglev *g1, *g2;
	size_t n1, n2, collateral = 0, on_removed = 0;
	__u32 old, now, i;
	int k;

	t->maglev_size = SL_MAGLEV_DEFAULT;
	node_addr(t, "192.168.0.2");
	apply(t, "[" NODEPORT_WEB("web", "10.96.0.10", "30085") "]");
	for (k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "web-%d", k);
		snprintf(ip, sizeof(ip), "10.1.0.%d", 10 + k);
		(void)pod_ep(t, name, "web", 20 + k, ip, NULL);
	}
	sb_ok(t, 0, -1);
	assert_int_equal(store_ep_del(t->st, "web-3"), 0);
	sb_ok(t, 1, 0);

	svc_expect(&t->d[1], "192.168.0.2", 30085, IPPROTO_TCP,
		   sval(2, 9, SL_SVC_F_NODEPORT, 0, SL_MAGLEV_DEFAULT));
	mg_expect(t, &t->d[0], 2, SL_MAGLEV_DEFAULT);
	mg_expect(t, &t->d[1], 2, SL_MAGLEV_DEFAULT);
	g1 = mg_of(&t->d[0], 2);
	g2 = mg_of(&t->d[1], 2);
	n1 = bk_of(&t->d[0], 2, t->bk);
	n2 = bk_of(&t->d[1], 2, t->bk2);
	assert_int_equal(n1, 10);
	assert_int_equal(n2, 9);
	/* compare entries by the backend they name (slots may differ, addresses do not) */
	for (i = 0; i < SL_MAGLEV_DEFAULT; i++) {
		old = t->bk[g1->table[i]].addr[0];
		now = t->bk2[g2->table[i]].addr[0];
		assert_int_not_equal(now, htonl(0x0a01000d)); /* 10.1.0.13 is gone */
		if (old == htonl(0x0a01000d))
			on_removed++;
		else if (old != now)
			collateral++;
	}
	assert_in_range(on_removed, SL_MAGLEV_DEFAULT / 10 - 1, SL_MAGLEV_DEFAULT / 10 + 1);
	assert_true(collateral < SL_MAGLEV_DEFAULT / 20);
}

static void sync_build__fed_its_own_output__identical_records_and_tables(void **state)
{
	struct t *t = *state;
	unsigned char *rev;
	size_t i, n;

	t->maglev_size = 251;
	node_addr(t, "192.168.0.2");
	node_addr(t, "fd00:1::2");
	apply(t, "[" SVC_HEAD("lb") "'spec':{'type':'LoadBalancer','clusterIP':'10.96.0.40',"
		 "'clusterIPs':['10.96.0.40','fd00:96::40'],'selector':{'app':'web'},"
		 "'externalIPs':['192.0.2.1'],'ports':[{'name':'http','port':80,'targetPort':8080,"
		 "'nodePort':30080},{'name':'q','port':53,'protocol':'UDP','targetPort':53,"
		 "'nodePort':30053}]},"
		 "'status':{'loadBalancer':{'ingress':[{'ip':'198.51.100.7'}]}}},"
		 SVC_WEB("web", "10.96.0.10", "") "]");
	(void)pod_ep(t, "web-1", "web", 11, "10.1.0.5", "fd00:10:244::5");
	(void)pod_ep(t, "web-2", "web", 12, "10.1.0.6", "fd00:10:244::6");
	(void)pod_ep(t, "web-3", "web", 13, "10.1.0.7", NULL);
	sb_ok(t, 0, -1);
	sb_ok(t, 1, 0);

	assert_int_equal(t->d[0].n_svc, 2 * 6 + 1);
	assert_int_equal(t->d[1].n_svc, t->d[0].n_svc);
	assert_int_equal(t->d[1].n_backend, t->d[0].n_backend);
	assert_int_equal(t->d[1].n_maglev, t->d[0].n_maglev);
	assert_memory_equal(t->d[0].svc, t->d[1].svc, t->d[0].n_svc * SVC_REC);
	assert_memory_equal(t->d[0].backend, t->d[1].backend, t->d[0].n_backend * BK_REC);
	for (i = 0; i < t->d[0].n_maglev; i++) {
		assert_int_equal(t->d[0].maglev[i].svc_id, t->d[1].maglev[i].svc_id);
		assert_int_equal(t->d[0].maglev[i].size, t->d[1].maglev[i].size);
		assert_memory_equal(t->d[0].maglev[i].table, t->d[1].maglev[i].table,
				    (size_t)t->d[0].maglev[i].size * sizeof(__u32));
	}

	/* the current records in another order (as a hash map dumps them): the same again */
	n = t->d[0].n_svc;
	rev = malloc(n * SVC_REC);
	assert_non_null(rev);
	for (i = 0; i < n; i++)
		memcpy(rev + i * SVC_REC, (unsigned char *)t->d[0].svc + (n - 1 - i) * SVC_REC,
		       SVC_REC);
	memcpy(t->d[1].svc, rev, n * SVC_REC);
	free(rev);
	n = t->d[0].n_backend;
	rev = malloc(n * BK_REC);
	assert_non_null(rev);
	for (i = 0; i < n; i++)
		memcpy(rev + i * BK_REC, (unsigned char *)t->d[0].backend + (n - 1 - i) * BK_REC,
		       BK_REC);
	memcpy(t->d[1].backend, rev, n * BK_REC);
	free(rev);
	sb_ok(t, 2, 1);
	assert_int_equal(t->d[2].n_svc, t->d[0].n_svc);
	assert_memory_equal(t->d[0].svc, t->d[2].svc, t->d[0].n_svc * SVC_REC);
	assert_memory_equal(t->d[0].backend, t->d[2].backend, t->d[0].n_backend * BK_REC);
}

static void sync_build__service_replaced__old_id_not_reused_until_gone(void **state)
{
	struct t *t = *state;

	apply(t, "[" SVC_WEB("a", "10.96.0.1", "") "," SVC_WEB("b", "10.96.0.2", "") "]");
	(void)pod_ep(t, "web-1", "web", 11, "10.1.0.5", NULL);
	sb_ok(t, 0, -1);
	svc_expect(&t->d[0], "10.96.0.1", 80, IPPROTO_TCP, sval(1, 1, 0, 0, 0));
	svc_expect(&t->d[0], "10.96.0.2", 80, IPPROTO_TCP, sval(2, 1, 0, 0, 0));

	/*
	 * a goes and c comes in one step: c must not get id 1 while sluice_svc still maps a's
	 * frontend to 1 (the backends under 1 would change before a's frontend is deleted).
	 */
	delete(t, "[" SVC_WEB("a", "10.96.0.1", "") "]");
	apply(t, "[" SVC_WEB("c", "10.96.0.3", "") "]");
	sb_ok(t, 1, 0);
	assert_int_equal(t->d[1].n_svc, 2);
	svc_expect(&t->d[1], "10.96.0.2", 80, IPPROTO_TCP, sval(2, 1, 0, 0, 0));
	svc_expect(&t->d[1], "10.96.0.3", 80, IPPROTO_TCP, sval(3, 1, 0, 0, 0));

	/* once id 1 is out of the map it is the lowest free one again */
	apply(t, "[" SVC_WEB("d", "10.96.0.4", "") "]");
	sb_ok(t, 2, 1);
	assert_int_equal(t->d[2].n_svc, 3);
	svc_expect(&t->d[2], "10.96.0.2", 80, IPPROTO_TCP, sval(2, 1, 0, 0, 0));
	svc_expect(&t->d[2], "10.96.0.3", 80, IPPROTO_TCP, sval(3, 1, 0, 0, 0));
	svc_expect(&t->d[2], "10.96.0.4", 80, IPPROTO_TCP, sval(1, 1, 0, 0, 0));
}

/* --- endpoints ------------------------------------------------------------------------------ */

static void sync_build__endpoint_registrations__ep_records_first_address_wins(void **state)
{
	struct t *t = *state;
	unsigned char want[3 * EP_REC];
	struct sl_ep_key k;
	struct sl_ep_val v;
	unsigned int e1, e2;
	__u32 ifx;

	e1 = ep(t, "old", 11, "10.1.0.5", "fd00:10:244::5");
	e2 = ep(t, "new", 12, "10.1.0.5", NULL); /* the address reused before old's DEL */
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_ep, 2);
	memset(&k, 0, sizeof(k));
	abi_addr("10.1.0.5", k.addr, &k.family);
	v = (struct sl_ep_val){ .ifindex = 11, .ep_id = e1 };
	memcpy(want, &k, sizeof(k));
	memcpy(want + sizeof(k), &v, sizeof(v));
	memset(&k, 0, sizeof(k));
	abi_addr("fd00:10:244::5", k.addr, &k.family);
	memcpy(want + EP_REC, &k, sizeof(k));
	memcpy(want + EP_REC + sizeof(k), &v, sizeof(v));
	assert_memory_equal(t->d[0].ep, want, 2 * EP_REC);
	/* both veths still get counters */
	assert_int_equal(t->d[0].n_ep_stats, 2);
	ifx = 12;
	assert_memory_equal((unsigned char *)t->d[0].ep_stats + 4 + ES_SIZE, &ifx, 4);

	/* once old is gone, new owns the address */
	assert_int_equal(store_ep_del(t->st, "old"), 0);
	sb_ok(t, 1, -1);
	assert_int_equal(t->d[1].n_ep, 1);
	memset(&k, 0, sizeof(k));
	abi_addr("10.1.0.5", k.addr, &k.family);
	v = (struct sl_ep_val){ .ifindex = 12, .ep_id = e2 };
	memcpy(want, &k, sizeof(k));
	memcpy(want + sizeof(k), &v, sizeof(v));
	assert_memory_equal(t->d[1].ep, want, EP_REC);
}

/* --- limits and errors ---------------------------------------------------------------------- */

static void sync_build__more_backends_than_per_service_cap__count_capped(void **state)
{
	struct t *t = *state;
	size_t len = 0, cap = 1 << 20, n, i;
	char *buf = malloc(cap);
	struct sl_svc_val v;
	int s, e;

	assert_non_null(buf);
	t->maglev_size = SL_MAGLEV_DEFAULT;
	node_addr(t, "192.168.0.2");
	/* two slices of 600 ready endpoints each: 1200 > SL_MAX_BACKENDS_PER_SVC */
	len += (size_t)snprintf(buf + len, cap - len,
				"[" SVC_HEAD("big") "'spec':{'type':'NodePort',"
				"'clusterIP':'10.96.0.20','ports':[{'name':'https','port':443,"
				"'nodePort':30443}]}}");
	for (s = 0; s < 2; s++) {
		len += (size_t)snprintf(
			buf + len, cap - len,
			",{'apiVersion':'discovery.k8s.io/v1','kind':'EndpointSlice',"
			"'metadata':{'name':'big-%d','namespace':'default','labels':"
			"{'kubernetes.io/service-name':'big'}},'addressType':'IPv4',"
			"'ports':[{'name':'https','port':8443}],'endpoints':[",
			s);
		for (e = 0; e < 600; e++)
			len += (size_t)snprintf(buf + len, cap - len,
						"%s{'addresses':['10.%d.%d.%d']}", e ? "," : "",
						2 + s, e / 256, e % 256);
		len += (size_t)snprintf(buf + len, cap - len, "]}");
	}
	len += (size_t)snprintf(buf + len, cap - len, "]");
	assert_true(len < cap);
	apply(t, "%s", buf);
	free(buf);
	sb_ok(t, 0, -1);

	assert_int_equal(t->d[0].n_svc, 2);
	v = svc_get(&t->d[0], "10.96.0.20", 443, IPPROTO_TCP);
	assert_int_equal(v.count, SL_MAX_BACKENDS_PER_SVC);
	v = svc_get(&t->d[0], "192.168.0.2", 30443, IPPROTO_TCP);
	assert_int_equal(v.count, SL_MAX_BACKENDS_PER_SVC);
	n = bk_of(&t->d[0], v.svc_id, t->bk);
	assert_int_equal(n, SL_MAX_BACKENDS_PER_SVC);
	for (i = 1; i < n; i++) /* distinct, in sorted order */
		assert_true(memcmp(&t->bk[i - 1], &t->bk[i], sizeof(t->bk[i])) < 0);
	assert_int_equal(t->d[0].n_backend, 2 * SL_MAX_BACKENDS_PER_SVC);
	mg_expect(t, &t->d[0], v.svc_id, SL_MAGLEV_DEFAULT);
}

/* sync_build fails and leaves *ret as it was. */
static void expect_build_fails(struct t *t, int want_err)
{
	struct sync_desired d, before;
	struct sync_input in = {
		.ep_stats_value_size = ES_SIZE,
		.node_addrs = t->node,
		.n_node_addrs = t->n_node,
		.maglev_size = t->maglev_size,
	};

	memset(&d, 0x5a, sizeof(d));
	before = d;
	t->err[0] = '\0';
	assert_int_equal(sync_build(t->st, &in, &d, t->err, sizeof(t->err)), want_err);
	assert_memory_equal(&d, &before, sizeof(d));
	assert_string_equal(t->err, "building desired map contents: Invalid argument");
}

static void sync_build__maglev_size_not_prime__einval_nothing_returned(void **state)
{
	struct t *t = *state;

	node_addr(t, "192.168.0.2");
	apply(t, "[" SVC_WEB("a", "10.96.0.1", "") "," NODEPORT_WEB("web", "10.96.0.10", "30086")
		 "]");
	(void)pod_ep(t, "web-1", "web", 11, "10.1.0.5", NULL);
	t->maglev_size = 1000;
	expect_build_fails(t, -EINVAL);
	/* a table smaller than the backend count cannot be built either */
	(void)pod_ep(t, "web-2", "web", 12, "10.1.0.6", NULL);
	(void)pod_ep(t, "web-3", "web", 13, "10.1.0.7", NULL);
	t->maglev_size = 3;
	expect_build_fails(t, -EINVAL);
	/* the size matters only where a table is built: ClusterIP frontends alone are fine */
	t->n_node = 0;
	t->maglev_size = 1000;
	sb_ok(t, 0, -1);
	assert_int_equal(t->d[0].n_svc, 2);
	assert_int_equal(t->d[0].n_maglev, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(sync_build__cluster_ip_numeric_target_port__exact_records),
		T(sync_build__named_target_port__resolved_per_pod_pod_without_it_skipped),
		T(sync_build__tcp_udp_and_sctp_ports__one_frontend_per_tcp_udp_port),
		T(sync_build__headless_service__no_frontend),
		T(sync_build__single_stack_services__backends_of_their_family_only),
		T(sync_build__dual_stack_cluster_ips__one_frontend_per_family),
		T(sync_build__external_ips__external_flag_and_maglev),
		T(sync_build__load_balancer__ingress_ips_and_node_ports),
		T(sync_build__node_port__per_node_addr_of_each_family),
		T(sync_build__ready_and_not_ready__only_ready_used),
		T(sync_build__none_ready__serving_terminating_used),
		T(sync_build__no_usable_endpoint__frontend_with_count_zero),
		T(sync_build__session_affinity_client_ip__flag_and_timeout_encoded),
		T(sync_build__backend_removed__others_keep_slots_last_fills_gap),
		T(sync_build__backend_removed__maglev_entries_of_others_mostly_kept),
		T(sync_build__fed_its_own_output__identical_records_and_tables),
		T(sync_build__service_replaced__old_id_not_reused_until_gone),
		T(sync_build__endpoint_registrations__ep_records_first_address_wins),
		T(sync_build__more_backends_than_per_service_cap__count_capped),
		T(sync_build__maglev_size_not_prime__einval_nothing_returned),
#undef T
	};

	return cmocka_run_group_tests_name("sync", tests, NULL, NULL);
}
