// SPDX-License-Identifier: Apache-2.0
#include "agent/policy/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/state/validate.h"
#include "jsonget.h"

#define MAX_EXPAND_PORTS 1024 /* a port range this small may become exact entries */
#define SEP		 "\x1f"

/* ---- growable arrays -------------------------------------------------------------------- */

struct arr {
	void *p;
	size_t n, cap, sz;
};

static void *arr_push(struct arr *a)
{
	void *np;
	size_t cap;

	if (a->n == a->cap) {
		cap = a->cap ? a->cap * 2 : 16;
		np = realloc(a->p, cap * a->sz);
		if (!np)
			return NULL;
		a->p = np;
		a->cap = cap;
	}
	memset((char *)a->p + a->n * a->sz, 0, a->sz);
	return (char *)a->p + a->n++ * a->sz;
}

#define ARR(type) { .sz = sizeof(type) }
#define AT(a, type, i) (&((type *)(a)->p)[i])

/* ---- prefixes --------------------------------------------------------------------------- */

struct pfx {
	int family; /* AF_INET / AF_INET6 */
	uint8_t a[16];
	unsigned len;
};

static unsigned fam_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void pfx_mask(struct pfx *p)
{
	unsigned i, bits = fam_bits(p->family);

	for (i = 0; i < bits; i++)
		if (i >= p->len)
			p->a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

/* inner lies in outer (equal counts). */
static bool pfx_in(const struct pfx *inner, const struct pfx *outer)
{
	unsigned full, rem;

	if (inner->family != outer->family || inner->len < outer->len)
		return false;
	full = outer->len / 8;
	rem = outer->len % 8;
	if (memcmp(inner->a, outer->a, full))
		return false;
	return !rem || ((inner->a[full] ^ outer->a[full]) & (uint8_t)(0xff00u >> rem)) == 0;
}

static int pfx_cmp(const struct pfx *x, const struct pfx *y)
{
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->a, y->a, 16);
}

static bool pfx_parse(const char *s, struct pfx *ret)
{
	struct pfx p = { .family = AF_INET };
	const char *slash = strchr(s, '/');
	char host[64];
	char *end;
	unsigned long len;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	if (inet_pton(AF_INET, host, p.a) != 1) {
		p.family = AF_INET6;
		if (inet_pton(AF_INET6, host, p.a) != 1)
			return false;
	}
	len = strtoul(slash + 1, &end, 10);
	if (*end || end == slash + 1 || len > fam_bits(p.family))
		return false;
	p.len = (unsigned)len;
	pfx_mask(&p);
	*ret = p;
	return true;
}

static void pfx_text(const struct pfx *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->a, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

static bool pfx_of_ip(const char *ip, struct pfx *ret)
{
	struct ip_addr a;

	if (!ip || ip_parse(ip, &a) < 0)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->family = a.family;
	memcpy(ret->a, a.a, 16);
	ret->len = fam_bits(a.family);
	return true;
}

/* ---- strings ---------------------------------------------------------------------------- */

static char *str_join(const char *a, const char *b, const char *c, const char *d)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 4;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s" SEP "%s" SEP "%s" SEP "%s", a, b, c, d);
	return s;
}

static int cmp_strp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* "k=v" pairs of a string map, sorted, joined by SEP-like 0x1e; "" for none. */
static char *labels_canon(const cJSON *labels)
{
	const cJSON *it;
	size_t n = 0, i, len = 1;
	char **kv, *s;

	cJSON_ArrayForEach(it, labels)
		if (cJSON_IsString(it))
			n++;
	kv = calloc(n ? n : 1, sizeof(*kv));
	if (!kv)
		return NULL;
	i = 0;
	cJSON_ArrayForEach(it, labels) {
		size_t l;

		if (!cJSON_IsString(it))
			continue;
		l = strlen(it->string) + strlen(it->valuestring) + 2;
		kv[i] = malloc(l);
		if (!kv[i])
			goto fail;
		snprintf(kv[i], l, "%s=%s", it->string, it->valuestring);
		len += l;
		i++;
	}
	qsort(kv, n, sizeof(*kv), cmp_strp);
	s = malloc(len);
	if (s) {
		s[0] = '\0';
		for (i = 0; i < n; i++) {
			if (i)
				strcat(s, "\x1e");
			strcat(s, kv[i]);
		}
	}
	for (i = 0; i < n; i++)
		free(kv[i]);
	free(kv);
	return s;
fail:
	while (i--)
		free(kv[i]);
	free(kv);
	return NULL;
}

static uint8_t proto_num(const char *p)
{
	if (p && !strcmp(p, "UDP"))
		return IPPROTO_UDP;
	if (p && !strcmp(p, "SCTP"))
		return IPPROTO_SCTP;
	return IPPROTO_TCP;
}

/* The container port a pod names name for proto, or -1. */
int policy_pod_named_port(const cJSON *pod, const char *name, uint8_t proto)
{
	const cJSON *c, *p;

	cJSON_ArrayForEach(c, jget(jget(pod, "spec"), "containers"))
		cJSON_ArrayForEach(p, jget(c, "ports")) {
			const char *n = jstr(p, "name");
			const cJSON *cp = jget(p, "containerPort");

			if (n && !strcmp(n, name) && proto_num(jstr(p, "protocol")) == proto &&
			    cJSON_IsNumber(cp) && cp->valueint > 0 && cp->valueint < 65536)
				return cp->valueint;
		}
	return -1;
}

/* Canonical "name/proto=port" list of a pod's named ports. */
static char *ports_canon(const cJSON *pod)
{
	cJSON *m = cJSON_CreateObject();
	const cJSON *c, *p;
	char *s;

	if (!m)
		return NULL;
	cJSON_ArrayForEach(c, jget(jget(pod, "spec"), "containers"))
		cJSON_ArrayForEach(p, jget(c, "ports")) {
			const char *n = jstr(p, "name");
			const cJSON *cp = jget(p, "containerPort");
			char k[96], v[16];

			if (!n || !cJSON_IsNumber(cp))
				continue;
			snprintf(k, sizeof(k), "%s/%u", n, proto_num(jstr(p, "protocol")));
			snprintf(v, sizeof(v), "%d", cp->valueint);
			if (!cJSON_HasObjectItem(m, k))
				cJSON_AddStringToObject(m, k, v);
		}
	s = labels_canon(m);
	cJSON_Delete(m);
	return s;
}

/* ---- the build -------------------------------------------------------------------------- */

struct pns {
	const char *name;
	cJSON *labels; /* owned: metadata.labels plus kubernetes.io/metadata.name */
	char *lkey;
};

struct ppod {
	const char *ns;
	const cJSON *pod;		/* NULL: an endpoint without a Pod object */
	const cJSON *labels;
	const struct store_ep *ep;	/* local endpoint, or NULL */
	size_t nsi;
	char *lkey;
	int n_addr;
	struct pfx addr[2];
	size_t ident[2];		/* index into idents */
	size_t ctx;			/* index into ctxs, for local endpoints */
};

enum { IDK_POD, IDK_CIDR };

struct ident {
	char *key;
	int kind;
	size_t nsi;			/* pods */
	const cJSON *labels;		/* pods */
	struct pfx rep;			/* pod address or ipBlock prefix */
	uint32_t id;
	struct arr pods;		/* size_t indexes into pods */
};

struct pctx {
	char *key;
	size_t pod;			/* a pod of the context (labels, ports) */
	uint32_t id;
	uint32_t flags;
};

struct pentry {
	struct sl_pol_key k;
	uint32_t policy;
	bool all;			/* port 0: every port of the protocol */
	struct arr ranges;		/* struct sl_port_range */
	bool used;
};

/* Open addressing from a key string to an index (SIZE_MAX: empty), for the identities. */
struct strtab {
	size_t *slot;
	size_t cap, n;
};

struct build {
	const struct store *st;
	struct arr ns, pods, idents, ctxs, pfxs;
	struct strtab ident_tab;
	struct pentry *tab;		/* open addressing on sl_pol_key */
	size_t tab_cap, tab_n;
	char *err;
	size_t errlen;
};

static size_t ns_index(struct build *b, const char *name, int *ret_err)
{
	const cJSON *obj;
	struct pns *n;
	size_t i;

	for (i = 0; i < b->ns.n; i++)
		if (!strcmp(AT(&b->ns, struct pns, i)->name, name))
			return i;
	n = arr_push(&b->ns);
	if (!n)
		goto nomem;
	n->name = name;
	obj = store_obj_get(b->st, OBJ_NAMESPACE, NULL, name);
	n->labels = cJSON_Duplicate(jget(jget(obj, "metadata"), "labels"), true);
	if (!n->labels)
		n->labels = cJSON_CreateObject();
	if (!n->labels)
		goto nomem;
	cJSON_DeleteItemFromObjectCaseSensitive(n->labels, "kubernetes.io/metadata.name");
	cJSON_AddStringToObject(n->labels, "kubernetes.io/metadata.name", name);
	n->lkey = labels_canon(n->labels);
	if (!n->lkey)
		goto nomem;
	return i;
nomem:
	*ret_err = -ENOMEM;
	return 0;
}

static int pods_collect(struct build *b)
{
	int i, n = store_count(b->st, OBJ_POD), err = 0;
	size_t e, ne = store_ep_count(b->st);

	for (i = 0; i < n; i++) {
		const cJSON *pod = store_obj_at(b->st, OBJ_POD, i), *md = jget(pod, "metadata");
		const char *ns = jstr(md, "namespace") ?: "default", *name = jstr(md, "name");
		const cJSON *ipo, *st = jget(pod, "status");
		struct ppod *p = arr_push(&b->pods);

		if (!p)
			return -ENOMEM;
		p->ns = ns;
		p->pod = pod;
		p->labels = jget(md, "labels");
		p->ep = name ? store_ep_for_pod(b->st, ns, name) : NULL;
		p->nsi = ns_index(b, ns, &err);
		if (err)
			return err;
		if (p->ep) {
			for (int k = 0; k < p->ep->n_ips && p->n_addr < 2; k++)
				if (pfx_of_ip(p->ep->ips[k], &p->addr[p->n_addr]))
					p->n_addr++;
		} else {
			cJSON_ArrayForEach(ipo, jget(st, "podIPs"))
				if (p->n_addr < 2 && pfx_of_ip(jstr(ipo, "ip"), &p->addr[p->n_addr]))
					p->n_addr++;
			if (!p->n_addr && pfx_of_ip(jstr(st, "podIP"), &p->addr[0]))
				p->n_addr = 1;
		}
	}
	/* endpoints the CNI registered for pods the state has no object of */
	for (e = 0; e < ne; e++) {
		const struct store_ep *ep = store_ep_at(b->st, e);
		struct ppod *p;

		if (store_obj_get(b->st, OBJ_POD, ep->pod_ns, ep->pod_name))
			continue;
		p = arr_push(&b->pods);
		if (!p)
			return -ENOMEM;
		p->ns = ep->pod_ns;
		p->ep = ep;
		p->nsi = ns_index(b, ep->pod_ns, &err);
		if (err)
			return err;
		for (int k = 0; k < ep->n_ips && p->n_addr < 2; k++)
			if (pfx_of_ip(ep->ips[k], &p->addr[p->n_addr]))
				p->n_addr++;
	}
	for (e = 0; e < b->pods.n; e++) {
		struct ppod *p = AT(&b->pods, struct ppod, e);

		p->lkey = labels_canon(p->labels);
		if (!p->lkey)
			return -ENOMEM;
	}
	return 0;
}

static int pfx_add(struct build *b, const struct pfx *p)
{
	struct pfx *n;

	n = arr_push(&b->pfxs); /* duplicates go in pfxs_collect */
	if (!n)
		return -ENOMEM;
	*n = *p;
	return 0;
}

static int pfx_qcmp(const void *x, const void *y)
{
	return pfx_cmp(x, y);
}

/* Every ipBlock prefix (cidr and except) of every policy, sorted, each once. */
static int pfxs_collect(struct build *b)
{
	static const char *const dirs[][2] = { { "ingress", "from" }, { "egress", "to" } };
	int i, n = store_count(b->st, OBJ_NETWORKPOLICY), d, r;

	for (i = 0; i < n; i++) {
		const cJSON *spec = jget(store_obj_at(b->st, OBJ_NETWORKPOLICY, i), "spec");

		for (d = 0; d < 2; d++) {
			const cJSON *rule, *peer, *e;

			cJSON_ArrayForEach(rule, jget(spec, dirs[d][0]))
				cJSON_ArrayForEach(peer, jget(rule, dirs[d][1])) {
					const cJSON *blk = jget(peer, "ipBlock");
					struct pfx p;

					if (!blk)
						continue;
					if (pfx_parse(jstr(blk, "cidr") ?: "", &p) &&
					    (r = pfx_add(b, &p)) < 0)
						return r;
					cJSON_ArrayForEach(e, jget(blk, "except"))
						if (cJSON_IsString(e) && pfx_parse(e->valuestring, &p) &&
						    (r = pfx_add(b, &p)) < 0)
							return r;
				}
		}
	}
	if (b->pfxs.n) {
		struct pfx *v = b->pfxs.p;
		size_t k, m = 0;

		qsort(v, b->pfxs.n, sizeof(*v), pfx_qcmp);
		for (k = 1; k < b->pfxs.n; k++)
			if (pfx_cmp(&v[k], &v[m]))
				v[++m] = v[k];
		b->pfxs.n = m + 1;
	}
	return 0;
}

/* The longest collected prefix holding p, as text ("-" when none): p masked to each length,
 * longest first, looked up in the sorted prefixes. */
static void class_of(const struct build *b, const struct pfx *p, char *buf, size_t len)
{
	int l;

	for (l = (int)p->len; b->pfxs.n && l >= 0; l--) {
		struct pfx q = *p;

		q.len = (unsigned)l;
		pfx_mask(&q);
		if (bsearch(&q, b->pfxs.p, b->pfxs.n, sizeof(q), pfx_qcmp)) {
			pfx_text(&q, buf, len);
			return;
		}
	}
	snprintf(buf, len, "-");
}

static uint32_t hash32(const char *s, uint32_t salt);

/* Where key sits in t (or the empty slot it would take); keys are idents' keys. */
static size_t strtab_find(const struct build *b, const struct strtab *t, const char *key)
{
	size_t i = hash32(key, 0x5bd1e995) & (t->cap - 1);

	while (t->slot[i] != SIZE_MAX && strcmp(AT(&b->idents, struct ident, t->slot[i])->key, key))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int strtab_grow(struct build *b, struct strtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256, i, j;
	struct strtab nt = { .cap = cap, .n = t->n };

	nt.slot = malloc(cap * sizeof(*nt.slot));
	if (!nt.slot)
		return -ENOMEM;
	for (i = 0; i < cap; i++)
		nt.slot[i] = SIZE_MAX;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i] != SIZE_MAX) {
			j = strtab_find(b, &nt, AT(&b->idents, struct ident, t->slot[i])->key);
			nt.slot[j] = t->slot[i];
		}
	free(t->slot);
	*t = nt;
	return 0;
}

/* The identity with this key, created (with the given fields) when new. */
static int ident_get(struct build *b, char *key, const struct ident *proto, size_t *ret)
{
	struct strtab *t = &b->ident_tab;
	struct ident *id;
	size_t pos;

	if ((t->n + 1) * 2 > t->cap && strtab_grow(b, t) < 0) {
		free(key);
		return -ENOMEM;
	}
	pos = strtab_find(b, t, key);
	if (t->slot[pos] != SIZE_MAX) {
		free(key);
		*ret = t->slot[pos];
		return 0;
	}
	id = arr_push(&b->idents);
	if (!id) {
		free(key);
		return -ENOMEM;
	}
	*id = *proto;
	id->key = key;
	id->pods = (struct arr)ARR(size_t);
	*ret = b->idents.n - 1;
	t->slot[pos] = *ret;
	t->n++;
	return 0;
}

static uint32_t hash32(const char *s, uint32_t salt)
{
	uint64_t h = 0xcbf29ce484222325ull ^ salt;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static int cmp_identp(const void *x, const void *y)
{
	return strcmp((*(struct ident *const *)x)->key, (*(struct ident *const *)y)->key);
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;

	return a < c ? -1 : a > c;
}

/* A set of numbers, open addressing (0 never stored: every number here is >= 1). */
static bool u32_take(uint32_t *set, size_t cap, uint32_t v)
{
	size_t i = (size_t)(v * 2654435761u) & (cap - 1);

	for (; set[i]; i = (i + 1) & (cap - 1))
		if (set[i] == v)
			return false;
	set[i] = v;
	return true;
}

/* Numbers from key hashes, in key order, probing past collisions and reserved values. */
static int number_keys(void **objs, size_t n, size_t key_off, size_t id_off, uint32_t min)
{
	size_t cap = 16, i;
	uint32_t *used;

	while (cap < n * 2)
		cap *= 2;
	used = calloc(cap, sizeof(*used));
	if (!used)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *key = *(char **)((char *)objs[i] + key_off);
		uint32_t v = hash32(key, 0);

		if (v < min)
			v += min;
		while (v < min || !u32_take(used, cap, v))
			v++;
		memcpy((char *)objs[i] + id_off, &v, sizeof(v));
	}
	free(used);
	return 0;
}

static int idents_build(struct build *b)
{
	char cls[64], buf[80];
	struct ident **order;
	size_t i;
	int k, r;

	for (i = 0; i < b->pods.n; i++) {
		struct ppod *p = AT(&b->pods, struct ppod, i);
		const struct pns *n = AT(&b->ns, struct pns, p->nsi);

		for (k = 0; k < p->n_addr; k++) {
			struct ident proto = { .kind = IDK_POD, .nsi = p->nsi, .labels = p->labels,
					       .rep = p->addr[k] };
			size_t *pi;
			char *key;

			class_of(b, &p->addr[k], cls, sizeof(cls));
			key = str_join(p->ns, n->lkey, p->lkey, cls);
			if (!key)
				return -ENOMEM;
			r = ident_get(b, key, &proto, &p->ident[k]);
			if (r < 0)
				return r;
			pi = arr_push(&AT(&b->idents, struct ident, p->ident[k])->pods);
			if (!pi)
				return -ENOMEM;
			*pi = i;
		}
	}
	for (i = 0; i < b->pfxs.n; i++) {
		const struct pfx *c = AT(&b->pfxs, struct pfx, i);
		struct ident proto = { .kind = IDK_CIDR, .rep = *c };
		size_t idx;
		char *key;

		pfx_text(c, buf, sizeof(buf));
		key = str_join("cidr", buf, "", "");
		if (!key)
			return -ENOMEM;
		r = ident_get(b, key, &proto, &idx);
		if (r < 0)
			return r;
	}
	order = calloc(b->idents.n ? b->idents.n : 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < b->idents.n; i++)
		order[i] = AT(&b->idents, struct ident, i);
	qsort(order, b->idents.n, sizeof(*order), cmp_identp);
	r = number_keys((void **)order, b->idents.n, offsetof(struct ident, key),
			offsetof(struct ident, id), SL_ID_MIN_DYN);
	free(order);
	return r;
}

/* ---- policy entries --------------------------------------------------------------------- */

static size_t key_hash(const struct sl_pol_key *k, size_t cap)
{
	uint64_t h = ((uint64_t)k->ctx * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)k->identity * 0xc2b2ae3d27d4eb4full) ^
		     ((uint64_t)k->dport << 16 | (uint64_t)k->proto << 8 | k->dir);

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (size_t)(h & (cap - 1));
}

static struct pentry *entry_get(struct build *b, const struct sl_pol_key *k, uint32_t policy)
{
	struct pentry *e;
	size_t i;

	if ((b->tab_n + 1) * 2 > b->tab_cap) {
		size_t cap = b->tab_cap ? b->tab_cap * 2 : 1024, j;
		struct pentry *nt = calloc(cap, sizeof(*nt));

		if (!nt)
			return NULL;
		for (j = 0; j < b->tab_cap; j++) {
			if (!b->tab[j].used)
				continue;
			i = key_hash(&b->tab[j].k, cap);
			while (nt[i].used)
				i = (i + 1) & (cap - 1);
			nt[i] = b->tab[j];
		}
		free(b->tab);
		b->tab = nt;
		b->tab_cap = cap;
	}
	i = key_hash(k, b->tab_cap);
	for (;; i = (i + 1) & (b->tab_cap - 1)) {
		e = &b->tab[i];
		if (!e->used)
			break;
		if (!memcmp(&e->k, k, sizeof(*k)))
			return e;
	}
	e->used = true;
	e->k = *k;
	e->policy = policy;
	e->ranges = (struct arr)ARR(struct sl_port_range);
	b->tab_n++;
	return e;
}

static int allow_exact(struct build *b, const struct sl_pol_key *k, uint32_t policy)
{
	return entry_get(b, k, policy) ? 0 : -ENOMEM;
}

/* A range (or every port: lo 0) of one protocol at port 0 of the key. */
static int allow_range(struct build *b, struct sl_pol_key k, uint16_t lo, uint16_t hi,
		       uint32_t policy)
{
	struct sl_port_range *r;
	struct pentry *e;

	k.dport = 0;
	e = entry_get(b, &k, policy);
	if (!e)
		return -ENOMEM;
	if (!lo) {
		e->all = true;
		return 0;
	}
	r = arr_push(&e->ranges);
	if (!r)
		return -ENOMEM;
	r->lo = lo;
	r->hi = hi;
	return 0;
}

static int cmp_range(const void *x, const void *y)
{
	const struct sl_port_range *a = x, *c = y;

	return a->lo != c->lo ? (a->lo < c->lo ? -1 : 1) : (a->hi < c->hi ? -1 : a->hi > c->hi);
}

/* Sorts and merges the ranges of one port-0 entry; spills the smallest ranges into exact
 * entries while more than SL_POL_RANGES remain. */
static int ranges_finish_one(struct build *b, struct sl_pol_key key, const char *const *names)
{
	struct pentry *e = entry_get(b, &key, 0);
	struct sl_port_range *r;
	size_t j, m;

	if (!e)
		return -ENOMEM;
	r = e->ranges.p;
	qsort(r, e->ranges.n, sizeof(*r), cmp_range);
	for (j = 1, m = 0; j < e->ranges.n; j++) {
		if ((uint32_t)r[j].lo <= (uint32_t)r[m].hi + 1) {
			if (r[j].hi > r[m].hi)
				r[m].hi = r[j].hi;
		} else {
			r[++m] = r[j];
		}
	}
	e->ranges.n = m + 1;
	while (e->ranges.n > SL_POL_RANGES) {
		struct sl_pol_key ek = key;
		struct sl_port_range sr;
		uint32_t policy = e->policy, p;
		size_t small = 0, k;

		for (k = 1; k < e->ranges.n; k++)
			if (r[k].hi - r[k].lo < r[small].hi - r[small].lo)
				small = k;
		sr = r[small];
		if (sr.hi - sr.lo + 1 > MAX_EXPAND_PORTS) {
			snprintf(b->err, b->errlen,
				 "NetworkPolicy %s: more than %d disjoint port ranges for one peer "
				 "and protocol, each over %d ports (datapath limit)",
				 policy ? names[policy - 1] : "?", SL_POL_RANGES, MAX_EXPAND_PORTS);
			return -E2BIG;
		}
		memmove(&r[small], &r[small + 1], (e->ranges.n - small - 1) * sizeof(*r));
		e->ranges.n--;
		for (p = sr.lo; p <= sr.hi; p++) { /* may move the table: e is found again */
			ek.dport = htons((uint16_t)p);
			if (!entry_get(b, &ek, policy))
				return -ENOMEM;
		}
		e = entry_get(b, &key, 0);
		r = e->ranges.p;
	}
	return 0;
}

static int ranges_finish(struct build *b, const char *const *names)
{
	struct arr keys = ARR(struct sl_pol_key);
	size_t i;
	int r = 0;

	for (i = 0; i < b->tab_cap; i++) {
		const struct pentry *e = &b->tab[i];
		struct sl_pol_key *k;

		if (!e->used || e->k.dport || !e->k.proto || e->all || !e->ranges.n)
			continue;
		k = arr_push(&keys);
		if (!k) {
			r = -ENOMEM;
			goto out;
		}
		*k = e->k;
	}
	for (i = 0; i < keys.n && r == 0; i++)
		r = ranges_finish_one(b, *AT(&keys, struct sl_pol_key, i), names);
out:
	free(keys.p);
	return r;
}

/* ---- selection -------------------------------------------------------------------------- */

struct rule_ctx {
	struct build *b;
	const struct pctx *cx;
	const char *pol_ns;
	uint32_t policy;
	uint8_t dir;
};

static bool peer_matches(const struct build *b, const struct rule_ctx *rc, const cJSON *peer,
			 const struct ident *id)
{
	const cJSON *blk = jget(peer, "ipBlock"), *ps, *nss, *e;
	const struct pns *n;
	struct pfx c, x;

	if (blk) {
		if (!pfx_parse(jstr(blk, "cidr") ?: "", &c) || !pfx_in(&id->rep, &c))
			return false;
		cJSON_ArrayForEach(e, jget(blk, "except"))
			if (cJSON_IsString(e) && pfx_parse(e->valuestring, &x) && pfx_in(&id->rep, &x))
				return false;
		return true;
	}
	if (id->kind != IDK_POD)
		return false;
	n = AT(&b->ns, struct pns, id->nsi);
	ps = jget(peer, "podSelector");
	nss = jget(peer, "namespaceSelector");
	if (nss) {
		if (!selector_matches_label_selector(nss, n->labels))
			return false;
	} else if (strcmp(n->name, rc->pol_ns)) {
		return false;
	}
	return !ps || selector_matches_label_selector(ps, id->labels);
}

/* Allows one port entry of a rule for the peer identity (SL_ID_ANY: every peer). */
static int allow_port(struct rule_ctx *rc, const struct ident *peer, const cJSON *port)
{
	struct build *b = rc->b;
	struct sl_pol_key k = { .ctx = rc->cx->id, .identity = peer ? peer->id : SL_ID_ANY,
				.dir = rc->dir };
	const cJSON *pn = port ? jget(port, "port") : NULL, *ep;
	size_t i;
	int v, r;

	if (!port) { /* no ports: every protocol and port */
		k.proto = 0;
		return allow_range(b, k, 0, 0, rc->policy);
	}
	k.proto = proto_num(jstr(port, "protocol"));
	if (!pn)
		return allow_range(b, k, 0, 0, rc->policy);
	if (cJSON_IsNumber(pn)) {
		ep = jget(port, "endPort");
		if (cJSON_IsNumber(ep) && ep->valueint > pn->valueint)
			return allow_range(b, k, (uint16_t)pn->valueint, (uint16_t)ep->valueint,
					   rc->policy);
		k.dport = htons((uint16_t)pn->valueint);
		return allow_exact(b, &k, rc->policy);
	}
	if (!cJSON_IsString(pn))
		return 0;
	if (rc->dir == SL_POL_INGRESS) { /* the port of the endpoint itself */
		v = policy_pod_named_port(AT(&b->pods, struct ppod, rc->cx->pod)->pod, pn->valuestring,
				   k.proto);
		if (v < 0)
			return 0;
		k.dport = htons((uint16_t)v);
		return allow_exact(b, &k, rc->policy);
	}
	if (!peer) { /* egress to a named port of any pod: every pod identity */
		for (i = 0; i < b->idents.n; i++) {
			const struct ident *id = AT(&b->idents, struct ident, i);

			if (id->kind == IDK_POD && (r = allow_port(rc, id, port)) < 0)
				return r;
		}
		return 0;
	}
	for (i = 0; i < peer->pods.n; i++) {
		const struct ppod *p = AT(&b->pods, struct ppod, *AT(&peer->pods, size_t, i));

		v = p->pod ? policy_pod_named_port(p->pod, pn->valuestring, k.proto) : -1;
		if (v < 0)
			continue;
		k.dport = htons((uint16_t)v);
		r = allow_exact(b, &k, rc->policy);
		if (r < 0)
			return r;
	}
	return 0;
}

static int allow_peer_ports(struct rule_ctx *rc, const struct ident *peer, const cJSON *ports)
{
	const cJSON *port;
	int r;

	if (cJSON_GetArraySize(ports) == 0)
		return allow_port(rc, peer, NULL);
	cJSON_ArrayForEach(port, ports)
		if ((r = allow_port(rc, peer, port)) < 0)
			return r;
	return 0;
}

static int rule_compile(struct rule_ctx *rc, const cJSON *rule, const char *peers_key)
{
	const cJSON *peers = jget(rule, peers_key), *ports = jget(rule, "ports"), *peer;
	struct build *b = rc->b;
	size_t i;
	int r;

	if (cJSON_GetArraySize(peers) == 0)
		return allow_peer_ports(rc, NULL, ports);
	for (i = 0; i < b->idents.n; i++) {
		const struct ident *id = AT(&b->idents, struct ident, i);

		cJSON_ArrayForEach(peer, peers)
			if (peer_matches(b, rc, peer, id)) {
				if ((r = allow_peer_ports(rc, id, ports)) < 0)
					return r;
				break;
			}
	}
	return 0;
}

static bool has_type(const cJSON *spec, const char *t)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, jget(spec, "policyTypes"))
		if (cJSON_IsString(it) && !strcmp(it->valuestring, t))
			return true;
	return false;
}

static int ctxs_build(struct build *b)
{
	struct pctx **order;
	size_t i, j;
	int r;

	for (i = 0; i < b->pods.n; i++) {
		struct ppod *p = AT(&b->pods, struct ppod, i);
		char *pk, *key;
		bool found = false;

		if (!p->ep)
			continue;
		pk = p->pod ? ports_canon(p->pod) : strdup("");
		if (!pk)
			return -ENOMEM;
		key = str_join(p->ns, p->lkey, pk, "");
		free(pk);
		if (!key)
			return -ENOMEM;
		for (j = 0; j < b->ctxs.n && !found; j++)
			if (!strcmp(AT(&b->ctxs, struct pctx, j)->key, key)) {
				found = true;
				p->ctx = j;
			}
		if (found) {
			free(key);
			continue;
		}
		struct pctx *c = arr_push(&b->ctxs);

		if (!c) {
			free(key);
			return -ENOMEM;
		}
		c->key = key;
		c->pod = i;
		p->ctx = b->ctxs.n - 1;
	}
	order = calloc(b->ctxs.n ? b->ctxs.n : 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < b->ctxs.n; i++)
		order[i] = AT(&b->ctxs, struct pctx, i);
	qsort(order, b->ctxs.n, sizeof(*order), cmp_identp); /* key is the first member too */
	r = number_keys((void **)order, b->ctxs.n, offsetof(struct pctx, key),
			offsetof(struct pctx, id), 1);
	free(order);
	return r;
}

/* The rules of every policy selecting each context, and its isolation flags. */
static int rules_compile(struct build *b, char **names)
{
	int i, n = store_count(b->st, OBJ_NETWORKPOLICY), r;
	size_t c;

	for (c = 0; c < b->ctxs.n; c++) {
		struct pctx *cx = AT(&b->ctxs, struct pctx, c);
		const struct ppod *p = AT(&b->pods, struct ppod, cx->pod);

		for (i = 0; i < n; i++) {
			const cJSON *pol = store_obj_at(b->st, OBJ_NETWORKPOLICY, i);
			const cJSON *md = jget(pol, "metadata"), *spec = jget(pol, "spec"), *rule;
			const char *ns = jstr(md, "namespace") ?: "default";
			struct rule_ctx rc = { .b = b, .cx = cx, .pol_ns = ns,
					       .policy = (uint32_t)i + 1 };

			(void)names;
			if (strcmp(ns, p->ns) ||
			    !selector_matches_label_selector(jget(spec, "podSelector"), p->labels))
				continue;
			if (has_type(spec, "Ingress")) {
				cx->flags |= SL_EP_F_INGRESS_ISOLATED;
				rc.dir = SL_POL_INGRESS;
				cJSON_ArrayForEach(rule, jget(spec, "ingress"))
					if ((r = rule_compile(&rc, rule, "from")) < 0)
						return r;
			}
			if (has_type(spec, "Egress")) {
				cx->flags |= SL_EP_F_EGRESS_ISOLATED;
				rc.dir = SL_POL_EGRESS;
				cJSON_ArrayForEach(rule, jget(spec, "egress"))
					if ((r = rule_compile(&rc, rule, "to")) < 0)
						return r;
			}
		}
	}
	return 0;
}

/* ---- output ----------------------------------------------------------------------------- */

static void ipc_key_of(const struct pfx *p, struct sl_ipc_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32 + p->len;
	k->family = p->family == AF_INET ? SL_AF_INET : SL_AF_INET6;
	memcpy(k->addr, p->a, p->family == AF_INET ? 4 : 16);
}

static int ipc_push(struct arr *out, const struct pfx *p, uint32_t id)
{
	struct sl_ipc_key k;
	struct sl_ipc_val v = { .identity = id };
	unsigned char *rec;
	size_t i, rs = sizeof(k) + sizeof(v);

	ipc_key_of(p, &k);
	for (i = 0; i < out->n; i++) /* first writer wins: host, then pods, then prefixes */
		if (!memcmp((unsigned char *)out->p + i * rs, &k, sizeof(k)))
			return 0;
	rec = arr_push(out);
	if (!rec)
		return -ENOMEM;
	memcpy(rec, &k, sizeof(k));
	memcpy(rec + sizeof(k), &v, sizeof(v));
	return 0;
}

static int cmp_ep(const void *x, const void *y)
{
	const struct policy_ep *a = x, *c = y;

	return a->ep_id < c->ep_id ? -1 : a->ep_id > c->ep_id;
}

static int cmp_ident_id(const void *x, const void *y)
{
	return cmp_u32(&((const struct policy_ident *)x)->id, &((const struct policy_ident *)y)->id);
}

static int output(struct build *b, const struct policy_input *in, struct policy_desired *d)
{
	struct arr ipc = { .sz = sizeof(struct sl_ipc_key) + sizeof(struct sl_ipc_val) };
	struct arr pol = { .sz = sizeof(struct sl_pol_key) + sizeof(struct sl_pol_val) };
	struct arr eps = ARR(struct policy_ep), ids = ARR(struct policy_ident);
	size_t i;
	int k, r = -ENOMEM;

	for (i = 0; i < in->n_host_addrs; i++) {
		struct pfx p = { .family = in->host_addrs[i].family };

		memcpy(p.a, in->host_addrs[i].a, 16);
		p.len = fam_bits(p.family);
		if ((r = ipc_push(&ipc, &p, SL_ID_HOST)) < 0)
			goto fail;
	}
	for (i = 0; i < b->pods.n; i++) {
		const struct ppod *p = AT(&b->pods, struct ppod, i);

		for (k = 0; k < p->n_addr; k++)
			if ((r = ipc_push(&ipc, &p->addr[k],
					  AT(&b->idents, struct ident, p->ident[k])->id)) < 0)
				goto fail;
	}
	for (i = 0; i < b->idents.n; i++) {
		const struct ident *id = AT(&b->idents, struct ident, i);
		struct policy_ident *pi;
		char buf[80];

		if (id->kind != IDK_CIDR)
			continue;
		if ((r = ipc_push(&ipc, &id->rep, id->id)) < 0)
			goto fail;
		pi = arr_push(&ids);
		r = -ENOMEM;
		if (!pi)
			goto fail;
		pfx_text(&id->rep, buf, sizeof(buf));
		pi->id = id->id;
		pi->desc = malloc(strlen(buf) + 6);
		if (!pi->desc)
			goto fail;
		sprintf(pi->desc, "cidr:%s", buf);
	}
	for (i = 0; i < b->tab_cap; i++) {
		const struct pentry *e = &b->tab[i];
		struct sl_pol_val v = { .policy = e->policy };
		unsigned char *rec;

		if (!e->used)
			continue;
		if (!e->k.dport && e->k.proto && !e->all) {
			if (e->ranges.n > SL_POL_RANGES) /* ranges_finish saw to it */
				return -EOVERFLOW;
			v.n_ranges = (uint8_t)e->ranges.n;
			memcpy(v.r, e->ranges.p, e->ranges.n * sizeof(v.r[0]));
		}
		rec = arr_push(&pol);
		r = -ENOMEM;
		if (!rec)
			goto fail;
		memcpy(rec, &e->k, sizeof(e->k));
		memcpy(rec + sizeof(e->k), &v, sizeof(v));
	}
	for (i = 0; i < b->pods.n; i++) {
		const struct ppod *p = AT(&b->pods, struct ppod, i);
		const struct pctx *cx;
		struct policy_ep *pe;

		if (!p->ep)
			continue;
		pe = arr_push(&eps);
		r = -ENOMEM;
		if (!pe)
			goto fail;
		pe->ep_id = p->ep->ep_id;
		cx = AT(&b->ctxs, struct pctx, p->ctx);
		pe->flags = cx->flags | (in->track_all ? SL_EP_F_TRACK : 0);
		pe->ctx = cx->flags ? cx->id : 0;
	}
	qsort(eps.p, eps.n, sizeof(struct policy_ep), cmp_ep);
	qsort(ids.p, ids.n, sizeof(struct policy_ident), cmp_ident_id);
	d->ipc = ipc.p;
	d->n_ipc = ipc.n;
	d->pol = pol.p;
	d->n_pol = pol.n;
	d->eps = eps.p;
	d->n_eps = eps.n;
	d->ids = ids.p;
	d->n_ids = ids.n;
	d->n_contexts = b->ctxs.n;
	return 0;
fail:
	free(ipc.p);
	free(pol.p);
	free(eps.p);
	for (i = 0; i < ids.n; i++)
		free(AT(&ids, struct policy_ident, i)->desc);
	free(ids.p);
	return r;
}

static void build_free(struct build *b)
{
	size_t i;

	for (i = 0; i < b->ns.n; i++) {
		cJSON_Delete(AT(&b->ns, struct pns, i)->labels);
		free(AT(&b->ns, struct pns, i)->lkey);
	}
	for (i = 0; i < b->pods.n; i++)
		free(AT(&b->pods, struct ppod, i)->lkey);
	for (i = 0; i < b->idents.n; i++) {
		free(AT(&b->idents, struct ident, i)->key);
		free(AT(&b->idents, struct ident, i)->pods.p);
	}
	for (i = 0; i < b->ctxs.n; i++)
		free(AT(&b->ctxs, struct pctx, i)->key);
	for (i = 0; i < b->tab_cap; i++)
		if (b->tab[i].used)
			free(b->tab[i].ranges.p);
	free(b->tab);
	free(b->ident_tab.slot);
	free(b->ns.p);
	free(b->pods.p);
	free(b->idents.p);
	free(b->ctxs.p);
	free(b->pfxs.p);
}

int policy_build(const struct store *st, const struct policy_input *in,
		 struct policy_desired *ret, char *err, size_t errlen)
{
	struct build b = { .st = st, .ns = ARR(struct pns), .pods = ARR(struct ppod),
			   .idents = ARR(struct ident), .ctxs = ARR(struct pctx),
			   .pfxs = ARR(struct pfx), .err = err, .errlen = errlen };
	struct policy_desired d = {};
	int i, n = store_count(st, OBJ_NETWORKPOLICY), r;

	err[0] = '\0';
	d.policies = calloc(n ? (size_t)n : 1, sizeof(*d.policies));
	if (!d.policies) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const cJSON *md = jget(store_obj_at(st, OBJ_NETWORKPOLICY, i), "metadata");
		const char *ns = jstr(md, "namespace") ?: "default", *name = jstr(md, "name") ?: "";

		d.policies[i] = malloc(strlen(ns) + strlen(name) + 2);
		if (!d.policies[i]) {
			r = -ENOMEM;
			goto out;
		}
		sprintf(d.policies[i], "%s/%s", ns, name);
		d.n_policies++;
	}
	if ((r = pods_collect(&b)) < 0 || (r = pfxs_collect(&b)) < 0 ||
	    (r = idents_build(&b)) < 0 || (r = ctxs_build(&b)) < 0 ||
	    (r = rules_compile(&b, d.policies)) < 0 ||
	    (r = ranges_finish(&b, (const char *const *)d.policies)) < 0 ||
	    (r = output(&b, in, &d)) < 0)
		goto out;
	*ret = d;
	d = (struct policy_desired){};
out:
	if (r < 0 && !err[0])
		snprintf(err, errlen, "policy: %s", strerror(-r));
	build_free(&b);
	policy_desired_free(&d);
	return r;
}

void policy_desired_free(struct policy_desired *d)
{
	size_t i;

	if (!d)
		return;
	free(d->ipc);
	free(d->pol);
	free(d->eps);
	for (i = 0; i < d->n_ids; i++)
		free(d->ids[i].desc);
	free(d->ids);
	for (i = 0; i < d->n_policies; i++)
		free(d->policies[i]);
	free(d->policies);
	*d = (struct policy_desired){};
}

const struct policy_ep *policy_ep_find(const struct policy_desired *d, unsigned int ep_id)
{
	struct policy_ep key = { .ep_id = ep_id };

	if (!d || !d->n_eps)
		return NULL;
	return bsearch(&key, d->eps, d->n_eps, sizeof(key), cmp_ep);
}

const char *policy_ident_desc(const struct policy_desired *d, uint32_t id)
{
	struct policy_ident key = { .id = id }, *f;

	if (id == SL_ID_HOST)
		return "host";
	if (id == SL_ID_WORLD)
		return "world";
	if (!d || !d->n_ids)
		return "world";
	f = bsearch(&key, d->ids, d->n_ids, sizeof(key), cmp_ident_id);
	return f ? f->desc : "pod";
}
