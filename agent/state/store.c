// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "ipaddr.h"
#include "store.h"
#include "validate.h"

#define STORE_MAX_EPS	  65536
#define STORE_MAX_FILE	  (64u << 20)

/*
 * One kind's objects, sorted by key ("ns/name") for O(log n) lookup and O(1) access by position.
 * An object is kept as the compact JSON text it was applied as (validated, defaults filled):
 * 10,000 Services with 100,000 endpoints take some 8 MB so, against some 90 MB as cJSON trees.
 * Readers get a tree parsed on first use and cached until store_trim(), which the agent calls
 * once a reconcile or a listing is done with them.
 */
struct obj_ent {
	char *key;   /* in the store's arena, as is text */
	char *text;
	cJSON *tree; /* text parsed, or NULL */
};

/*
 * Keys and texts live in mmap'd chunks of their own, not in the malloc heap: a big apply
 * allocates and frees hundreds of megabytes of small cJSON nodes, and long-lived strings
 * scattered among them would keep those heap pages resident after the trees are gone. Freed
 * strings are only counted; when most of the arena is garbage it is rebuilt (arena_compact).
 */
#define ARENA_CHUNK (1u << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	char data[];
};

struct text_arena {
	struct arena_chunk *head;
	size_t used, live; /* bytes handed out, and those still referenced */
};

struct kind_tab {
	struct obj_ent *e;
	size_t n, cap;
};

struct store {
	struct text_arena arena;
	struct kind_tab tab[OBJ_KIND_MAX];
	struct store_ep *eps;
	size_t n_eps, cap_eps;
	unsigned int next_ep_id;
};

static char *arena_strdup(struct text_arena *a, const char *str)
{
	size_t len = strlen(str) + 1, cap;
	struct arena_chunk *c = a->head;
	void *m;

	if (!c || c->cap - c->used < len) {
		cap = len + sizeof(*c) > ARENA_CHUNK ? len + sizeof(*c) : ARENA_CHUNK;
		m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		c = m;
		c->next = a->head;
		c->cap = cap - sizeof(*c);
		c->used = 0;
		a->head = c;
	}
	memcpy(c->data + c->used, str, len);
	c->used += len;
	a->used += len;
	a->live += len;
	return c->data + c->used - len;
}

static void arena_release(struct text_arena *a, const char *str)
{
	if (str)
		a->live -= strlen(str) + 1;
}

static void arena_free(struct text_arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		munmap(c, c->cap + sizeof(*c));
	}
	memset(a, 0, sizeof(*a));
}

/* Rebuilds the arena with only the live strings once garbage outweighs them. */
static void arena_compact(struct store *st)
{
	struct text_arena na = {};
	size_t j, n = 0, k = 0;
	char **np;
	int i;

	if (st->arena.used < 2 * st->arena.live + ARENA_CHUNK)
		return;
	for (i = 0; i < OBJ_KIND_MAX; i++)
		n += st->tab[i].n;
	np = malloc((n ? n : 1) * 2 * sizeof(*np));
	if (!np)
		return; /* no memory: the old arena stays, still valid */
	for (i = 0; i < OBJ_KIND_MAX; i++) {
		for (j = 0; j < st->tab[i].n; j++) {
			np[k] = arena_strdup(&na, st->tab[i].e[j].key);
			np[k + 1] = arena_strdup(&na, st->tab[i].e[j].text);
			if (!np[k] || !np[k + 1]) {
				arena_free(&na);
				free(np);
				return;
			}
			k += 2;
		}
	}
	for (i = 0, k = 0; i < OBJ_KIND_MAX; i++) {
		for (j = 0; j < st->tab[i].n; j++, k += 2) {
			st->tab[i].e[j].key = np[k];
			st->tab[i].e[j].text = np[k + 1];
		}
	}
	free(np);
	arena_free(&st->arena);
	st->arena = na;
}

static void ent_free(struct text_arena *a, struct obj_ent *e)
{
	arena_release(a, e->key);
	arena_release(a, e->text);
	cJSON_Delete(e->tree);
	memset(e, 0, sizeof(*e));
}

int store_new(struct store **ret_store)
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->next_ep_id = 1;
	*ret_store = st;
	return 0;
}

void store_free(struct store *st)
{
	int i;

	if (!st)
		return;
	size_t j;

	for (i = 0; i < OBJ_KIND_MAX; i++) {
		for (j = 0; j < st->tab[i].n; j++)
			cJSON_Delete(st->tab[i].e[j].tree);
		free(st->tab[i].e);
	}
	arena_free(&st->arena);
	free(st->eps);
	free(st);
}

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void obj_ns_name(const cJSON *obj, const char **ns, const char **name)
{
	*ns = str_at(obj, "metadata", "namespace");
	*name = str_at(obj, "metadata", "name");
	if (!*ns)
		*ns = "";
	if (!*name)
		*name = "";
}

static int map_key(char *buf, size_t len, const char *ns, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", ns, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static cJSON *result_new(enum obj_kind kind, const char *ns, const char *name,
			 const char *action)
{
	cJSON *r = cJSON_CreateObject();

	if (!r)
		return NULL;
	if (!cJSON_AddStringToObject(r, "kind", obj_kind_name(kind)) ||
	    !cJSON_AddStringToObject(r, "namespace", ns) ||
	    !cJSON_AddStringToObject(r, "name", name) ||
	    !cJSON_AddStringToObject(r, "action", action)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/* --- per-kind tables ------------------------------------------------------------------------- */

/* Position of key in t, or -1. */
static ssize_t tab_find(const struct kind_tab *t, const char *key)
{
	size_t lo = 0, hi = t->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(t->e[mid].key, key);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int tab_reserve(struct kind_tab *t, size_t want)
{
	struct obj_ent *ne;

	if (want <= t->cap)
		return 0;
	ne = realloc(t->e, want * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	t->e = ne;
	t->cap = want;
	return 0;
}

/* The tree of an entry, parsed on first use (the cache is not part of the store's value). */
static const cJSON *ent_tree(const struct obj_ent *e)
{
	struct obj_ent *m = (struct obj_ent *)e;

	if (!m->tree)
		m->tree = cJSON_Parse(m->text);
	return m->tree;
}

struct new_ent {
	struct obj_ent e;
	enum obj_kind kind;
	size_t seq;
};

static int cmp_new_ent(const void *a, const void *b)
{
	const struct new_ent *x = a, *y = b;
	int c = (int)x->kind - (int)y->kind;

	if (!c)
		c = strcmp(x->e.key, y->e.key);
	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Merges new entries (any order, a key possibly more than once: the later wins) into the
 * sorted tables, which have room for them (tab_reserve). Takes the entries' contents.
 */
static void tab_merge(struct store *st, struct new_ent *add, size_t n_add)
{
	struct kind_tab *t;
	size_t i, j, out, from, n_kind;
	int k;

	qsort(add, n_add, sizeof(*add), cmp_new_ent);
	for (i = 0; i < n_add; i = j) {
		k = add[i].kind;
		for (j = i; j < n_add && (int)add[j].kind == k; j++)
			;
		t = &st->tab[k];
		/* drop earlier copies of a key applied twice */
		for (from = i, n_kind = 0; from < j; from++) {
			if (from + 1 < j && !strcmp(add[from].e.key, add[from + 1].e.key)) {
				ent_free(&st->arena, &add[from].e);
				continue;
			}
			add[i + n_kind++] = add[from];
		}
		/* merge from the back: t->e[0..n) and add[i..i+n_kind) into t->e[0..n+n_kind);
		 * no new key is in t already (the caller looked each one up) */
		out = t->n + n_kind;
		from = t->n;
		t->n = out;
		while (n_kind > 0) {
			if (from > 0 && strcmp(t->e[from - 1].key, add[i + n_kind - 1].e.key) > 0)
				t->e[--out] = t->e[--from];
			else
				t->e[--out] = add[i + --n_kind].e;
		}
	}
}

/* take: move the objects out of items (a request the caller frees anyway) instead of copying. */
static int apply(struct store *st, cJSON *items, bool take, cJSON **ret_results, char *err,
		 size_t errlen)
{
	cJSON *copies = NULL, *results = NULL, *it, *c, *kinds = NULL, *r;
	struct new_ent *ne = NULL;
	size_t n = 0, n_add = 0, j;
	char *txt;
	char key[512];
	const char *ns, *name;
	enum obj_kind kind;
	int err_code = 0, i = 0, k;
	ssize_t pos;

	if (!cJSON_IsArray(items)) {
		snprintf(err, errlen, "apply: body is not a list of objects");
		return -EINVAL;
	}
	copies = cJSON_CreateArray();
	kinds = cJSON_CreateArray();
	results = cJSON_CreateArray();
	if (!copies || !kinds || !results) {
		err_code = -ENOMEM;
		goto out;
	}
	/* Pass 1: validate everything on copies; nothing changes on error. */
	for (it = items->child; it; it = take ? items->child : it->next) {
		c = take ? cJSON_DetachItemViaPointer(items, it) : cJSON_Duplicate(it, true);
		if (!c) {
			err_code = -ENOMEM;
			goto out;
		}
		cJSON_AddItemToArray(copies, c);
		err_code = obj_validate(c, &kind, err, errlen);
		if (err_code < 0)
			goto out;
		r = cJSON_CreateNumber(kind);
		if (!r) {
			err_code = -ENOMEM;
			goto out;
		}
		cJSON_AddItemToArray(kinds, r);
		obj_ns_name(c, &ns, &name);
		err_code = map_key(key, sizeof(key), ns, name);
		if (err_code < 0) {
			snprintf(err, errlen, "%s %s/%s: metadata.name: too long",
				 obj_kind_name(kind), ns, name);
			goto out;
		}
		i++;
	}
	/* Pass 2: every allocation the commit needs, and the results; nothing changes yet. An
	 * object is "unchanged" when its compact text is the one stored. */
	ne = calloc(i ? (size_t)i : 1, sizeof(*ne));
	if (!ne) {
		err_code = -ENOMEM;
		goto out;
	}
	n = (size_t)i;
	for (c = copies->child, it = kinds->child, i = 0; c; c = c->next, it = it->next, i++) {
		const char *action;

		kind = (enum obj_kind)it->valueint;
		obj_ns_name(c, &ns, &name);
		(void)map_key(key, sizeof(key), ns, name);
		ne[i] = (struct new_ent){ .kind = kind, .seq = (size_t)i };
		txt = cJSON_PrintUnformatted(c);
		ne[i].e.key = arena_strdup(&st->arena, key);
		ne[i].e.text = txt ? arena_strdup(&st->arena, txt) : NULL;
		free(txt);
		if (!ne[i].e.key || !ne[i].e.text) {
			err_code = -ENOMEM;
			goto out;
		}
		pos = tab_find(&st->tab[kind], key);
		action = pos < 0 ? "created"
		       : strcmp(st->tab[kind].e[pos].text, ne[i].e.text) ? "configured" : "unchanged";
		r = result_new(kind, ns, name, action);
		if (!r) {
			err_code = -ENOMEM;
			goto out;
		}
		cJSON_AddItemToArray(results, r);
	}
	for (k = 0; k < OBJ_KIND_MAX; k++) {
		if (tab_reserve(&st->tab[k], st->tab[k].n + n) < 0) {
			err_code = -ENOMEM;
			goto out;
		}
	}
	/* Pass 3: commit; nothing fails from here. Each copy stays as its entry's parsed tree, for
	 * the reconcile that follows. */
	for (j = 0; j < n; j++) {
		struct kind_tab *t = &st->tab[ne[j].kind];

		ne[j].e.tree = cJSON_DetachItemViaPointer(copies, copies->child);
		pos = tab_find(t, ne[j].e.key);
		if (pos >= 0) {
			ent_free(&st->arena, &t->e[pos]);
			t->e[pos] = ne[j].e;
		} else {
			ne[n_add++] = ne[j]; /* n_add <= j: moves entries down, never over a later one */
		}
	}
	tab_merge(st, ne, n_add);
	n = 0; /* all taken */
	arena_compact(st);
	*ret_results = results;
	results = NULL;
out:
	if (err_code == -ENOMEM)
		snprintf(err, errlen, "apply: out of memory");
	for (j = 0; ne && j < n; j++)
		ent_free(&st->arena, &ne[j].e);
	free(ne);
	cJSON_Delete(copies);
	cJSON_Delete(kinds);
	cJSON_Delete(results);
	return err_code;
}

int store_apply(struct store *st, const cJSON *items, cJSON **ret_results, char *err,
		size_t errlen)
{
	return apply(st, (cJSON *)items, false, ret_results, err, errlen);
}

int store_apply_take(struct store *st, cJSON *items, cJSON **ret_results, char *err,
		     size_t errlen)
{
	return apply(st, items, true, ret_results, err, errlen);
}

int store_delete(struct store *st, const cJSON *items, cJSON **ret_results, char *err,
		 size_t errlen)
{
	cJSON *results, *it, *r, *c;
	char key[512];
	const char *ns, *name, *kstr;
	enum obj_kind kind;
	struct obj_ent **found;
	ssize_t pos;
	int k, i, n;

	if (!cJSON_IsArray(items)) {
		snprintf(err, errlen, "delete: body is not a list of objects");
		return -EINVAL;
	}
	results = cJSON_CreateArray();
	if (!results)
		return -ENOMEM;
	/* Pass 1: resolve every object; any absent one aborts the whole delete. */
	cJSON_ArrayForEach(it, items) {
		kstr = str_at(it, "kind", NULL);
		if (!kstr || obj_kind_parse(kstr, &kind) < 0) {
			snprintf(err, errlen, "delete: unsupported kind \"%s\"", kstr ? kstr : "");
			goto err_free;
		}
		c = cJSON_Duplicate(it, true);
		if (!c)
			goto err_nomem;
		if (obj_validate(c, &kind, err, errlen) < 0) {
			cJSON_Delete(c);
			goto err_free;
		}
		obj_ns_name(c, &ns, &name);
		if (map_key(key, sizeof(key), ns, name) < 0 ||
		    tab_find(&st->tab[kind], key) < 0) {
			if (kind == OBJ_NAMESPACE)
				snprintf(err, errlen, "%s %s: not found", obj_kind_name(kind), name);
			else
				snprintf(err, errlen, "%s %s/%s: not found", obj_kind_name(kind),
					 ns, name);
			cJSON_Delete(c);
			cJSON_Delete(results);
			return -ENOENT;
		}
		r = result_new(kind, ns, name, "deleted");
		cJSON_Delete(c);
		if (!r)
			goto err_nomem;
		cJSON_AddItemToArray(results, r);
	}
	/* Pass 2: commit: find every object named, then free them (once, however often each is
	 * named) and close the gaps. */
	n = cJSON_GetArraySize(results);
	found = calloc(n ? (size_t)n : 1, sizeof(*found));
	if (!found)
		goto err_nomem;
	i = 0;
	cJSON_ArrayForEach(r, results) {
		(void)obj_kind_parse(str_at(r, "kind", NULL), &kind);
		(void)map_key(key, sizeof(key), str_at(r, "namespace", NULL),
			      str_at(r, "name", NULL));
		pos = tab_find(&st->tab[kind], key);
		found[i++] = pos >= 0 ? &st->tab[kind].e[pos] : NULL;
	}
	for (i = 0; i < n; i++)
		if (found[i] && found[i]->key)
			ent_free(&st->arena, found[i]); /* key NULL: marked for removal */
	free(found);
	for (k = 0; k < OBJ_KIND_MAX; k++) {
		struct kind_tab *t = &st->tab[k];
		size_t j, out = 0;

		for (j = 0; j < t->n; j++)
			if (t->e[j].key)
				t->e[out++] = t->e[j];
		t->n = out;
	}
	arena_compact(st);
	*ret_results = results;
	return 0;

err_nomem:
	snprintf(err, errlen, "delete: out of memory");
	cJSON_Delete(results);
	return -ENOMEM;
err_free:
	cJSON_Delete(results);
	return -EINVAL;
}

/* --- endpoints ------------------------------------------------------------------------------ */

static int copy_str(char *dst, size_t len, const cJSON *v, const char *field, bool required,
		    char *err, size_t errlen)
{
	if (!v || cJSON_IsNull(v)) {
		if (!required) {
			dst[0] = '\0';
			return 0;
		}
		snprintf(err, errlen, "cni endpoint: %s: required", field);
		return -EINVAL;
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= len ||
	    (required && !v->valuestring[0])) {
		snprintf(err, errlen, "cni endpoint: %s: must be a non-empty string shorter than %zu",
			 field, len);
		return -EINVAL;
	}
	snprintf(dst, len, "%s", v->valuestring);
	return 0;
}

int store_ep_parse(const cJSON *body, struct store_ep *ep, char *err, size_t errlen)
{
	const cJSON *ips, *ip, *idx;
	char buf[48], *slash;
	int r;

	memset(ep, 0, sizeof(*ep));
	if (!cJSON_IsObject(body)) {
		snprintf(err, errlen, "cni endpoint: body is not a JSON object");
		return -EINVAL;
	}
#define GET(f) cJSON_GetObjectItemCaseSensitive(body, f)
	if ((r = copy_str(ep->container_id, sizeof(ep->container_id), GET("containerID"),
			  "containerID", true, err, errlen)) < 0 ||
	    (r = copy_str(ep->pod_ns, sizeof(ep->pod_ns), GET("podNamespace"), "podNamespace",
			  false, err, errlen)) < 0 ||
	    (r = copy_str(ep->pod_name, sizeof(ep->pod_name), GET("podName"), "podName", false,
			  err, errlen)) < 0 ||
	    (r = copy_str(ep->netns, sizeof(ep->netns), GET("netns"), "netns", false, err,
			  errlen)) < 0 ||
	    (r = copy_str(ep->ifname, sizeof(ep->ifname), GET("ifname"), "ifname", false, err,
			  errlen)) < 0 ||
	    (r = copy_str(ep->host_ifname, sizeof(ep->host_ifname), GET("hostIfname"),
			  "hostIfname", true, err, errlen)) < 0)
		return r;
	idx = GET("hostIfindex");
	if (!cJSON_IsNumber(idx) || idx->valuedouble < 1 || idx->valuedouble > 0x7fffffff) {
		snprintf(err, errlen, "cni endpoint: hostIfindex: must be a positive integer");
		return -EINVAL;
	}
	ep->host_ifindex = idx->valueint;
	ips = GET("ips");
#undef GET
	if (!cJSON_IsArray(ips)) {
		snprintf(err, errlen, "cni endpoint: ips: must be a list of addresses");
		return -EINVAL;
	}
	cJSON_ArrayForEach(ip, ips) {
		struct ip_addr a;

		if (!cJSON_IsString(ip) || strlen(ip->valuestring) >= sizeof(buf)) {
			snprintf(err, errlen, "cni endpoint: ips: entries must be strings");
			return -EINVAL;
		}
		snprintf(buf, sizeof(buf), "%s", ip->valuestring);
		slash = strchr(buf, '/');
		if (slash)
			*slash = '\0';
		if (ip_parse(buf, &a) < 0) {
			snprintf(err, errlen, "cni endpoint: ips: not an IP address, got \"%s\"",
				 ip->valuestring);
			return -EINVAL;
		}
		if (ep->n_ips >= 2) {
			snprintf(err, errlen, "cni endpoint: ips: at most one IPv4 and one IPv6");
			return -EINVAL;
		}
		snprintf(ep->ips[ep->n_ips++], sizeof(ep->ips[0]), "%s", buf);
	}
	return 0;
}

int store_ep_add(struct store *st, const struct store_ep *ep, unsigned int *ret_ep_id)
{
	struct store_ep *slot = NULL, *n;
	size_t i;

	for (i = 0; i < st->n_eps; i++) {
		if (!strcmp(st->eps[i].container_id, ep->container_id)) {
			slot = &st->eps[i];
			break;
		}
	}
	if (!slot) {
		if (st->n_eps >= STORE_MAX_EPS)
			return -ENOSPC;
		if (st->n_eps == st->cap_eps) {
			size_t cap = st->cap_eps ? st->cap_eps * 2 : 16;

			n = realloc(st->eps, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			st->eps = n;
			st->cap_eps = cap;
		}
		slot = &st->eps[st->n_eps++];
		*slot = *ep;
		slot->ep_id = ep->ep_id ? ep->ep_id : st->next_ep_id++;
	} else {
		unsigned int id = slot->ep_id;

		*slot = *ep;
		slot->ep_id = id;
	}
	if (slot->ep_id >= st->next_ep_id)
		st->next_ep_id = slot->ep_id + 1;
	if (ret_ep_id)
		*ret_ep_id = slot->ep_id;
	return 0;
}

int store_ep_del(struct store *st, const char *container_id)
{
	size_t i;

	for (i = 0; i < st->n_eps; i++) {
		if (!strcmp(st->eps[i].container_id, container_id)) {
			memmove(&st->eps[i], &st->eps[i + 1],
				(st->n_eps - i - 1) * sizeof(st->eps[0]));
			st->n_eps--;
			return 0;
		}
	}
	return 0;
}

size_t store_ep_count(const struct store *st)
{
	return st->n_eps;
}

const struct store_ep *store_ep_at(const struct store *st, size_t i)
{
	return i < st->n_eps ? &st->eps[i] : NULL;
}

const struct store_ep *store_ep_for_pod(const struct store *st, const char *ns,
					const char *name)
{
	size_t i;

	for (i = 0; i < st->n_eps; i++)
		if (!strcmp(st->eps[i].pod_ns, ns) && !strcmp(st->eps[i].pod_name, name))
			return &st->eps[i];
	return NULL;
}

/* --- queries -------------------------------------------------------------------------------- */

int store_count(const struct store *st, enum obj_kind kind)
{
	return (int)st->tab[kind].n;
}

const cJSON *store_obj_at(const struct store *st, enum obj_kind kind, int i)
{
	return i >= 0 && (size_t)i < st->tab[kind].n ? ent_tree(&st->tab[kind].e[i]) : NULL;
}

const cJSON *store_obj_get(const struct store *st, enum obj_kind kind, const char *ns,
			   const char *name)
{
	char key[512];
	ssize_t pos;

	if (map_key(key, sizeof(key), kind == OBJ_NAMESPACE ? "" : ns, name) < 0)
		return NULL;
	pos = tab_find(&st->tab[kind], key);
	return pos >= 0 ? ent_tree(&st->tab[kind].e[pos]) : NULL;
}

/* Pod status as the kubelet would report it, from the CNI-registered endpoint. */
static int pod_add_status(const struct store *st, cJSON *pod)
{
	const struct store_ep *ep;
	const char *ns, *name;
	cJSON *status, *ips, *ipo;
	int i;

	obj_ns_name(pod, &ns, &name);
	ep = store_ep_for_pod(st, ns, name);
	status = cJSON_GetObjectItemCaseSensitive(pod, "status");
	if (!ep) {
		if (!status && !cJSON_AddObjectToObject(pod, "status"))
			return -ENOMEM;
		status = cJSON_GetObjectItemCaseSensitive(pod, "status");
		if (!cJSON_HasObjectItem(status, "phase"))
			cJSON_AddStringToObject(status, "phase", "Pending");
		return 0;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(pod, "status");
	status = cJSON_AddObjectToObject(pod, "status");
	if (!status)
		return -ENOMEM;
	cJSON_AddStringToObject(status, "phase", "Running");
	if (ep->n_ips > 0)
		cJSON_AddStringToObject(status, "podIP", ep->ips[0]);
	ips = cJSON_AddArrayToObject(status, "podIPs");
	for (i = 0; ips && i < ep->n_ips; i++) {
		ipo = cJSON_CreateObject();
		cJSON_AddStringToObject(ipo, "ip", ep->ips[i]);
		cJSON_AddItemToArray(ips, ipo);
	}
	cJSON_AddStringToObject(status, "hostIfname", ep->host_ifname);
	cJSON_AddNumberToObject(status, "endpointID", ep->ep_id);
	return 0;
}

cJSON *store_list(const struct store *st, enum obj_kind kind)
{
	const struct kind_tab *t = &st->tab[kind];
	cJSON *list, *items, *c;
	char kname[64];
	size_t i;

	list = cJSON_CreateObject();
	snprintf(kname, sizeof(kname), "%sList", obj_kind_name(kind));
	cJSON_AddStringToObject(list, "apiVersion", "v1");
	cJSON_AddStringToObject(list, "kind", kname);
	items = cJSON_AddArrayToObject(list, "items");
	if (!items)
		goto err;
	for (i = 0; i < t->n; i++) { /* in key order */
		c = t->e[i].tree ? cJSON_Duplicate(t->e[i].tree, true) : cJSON_Parse(t->e[i].text);
		if (!c)
			goto err;
		cJSON_AddItemToArray(items, c);
		if (kind == OBJ_POD && pod_add_status(st, c) < 0)
			goto err;
	}
	return list;
err:
	cJSON_Delete(list);
	return NULL;
}

/* Resolves a Service targetPort for one pod: a number, or a named container port. */
static int pod_target_port(const cJSON *pod, const cJSON *target_port, const char *proto)
{
	const cJSON *cs, *c, *ports, *p;
	const char *pname, *pproto;

	if (cJSON_IsNumber(target_port))
		return target_port->valueint;
	if (!cJSON_IsString(target_port))
		return -1;
	cs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "spec"),
					      "containers");
	cJSON_ArrayForEach(c, cs) {
		ports = cJSON_GetObjectItemCaseSensitive(c, "ports");
		cJSON_ArrayForEach(p, ports) {
			pname = str_at(p, "name", NULL);
			pproto = str_at(p, "protocol", NULL);
			if (pname && !strcmp(pname, target_port->valuestring) &&
			    (!pproto || !strcmp(pproto, proto)))
				return cJSON_GetObjectItemCaseSensitive(p, "containerPort")->valueint;
		}
	}
	return -1;
}

static cJSON *svc_ports_json(const cJSON *svc_ports)
{
	cJSON *out = cJSON_CreateArray(), *o;
	const cJSON *p;

	cJSON_ArrayForEach(p, svc_ports) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", str_at(p, "name", NULL) ?: "");
		cJSON_AddNumberToObject(o, "port",
					cJSON_GetObjectItemCaseSensitive(p, "port")->valueint);
		cJSON_AddStringToObject(o, "protocol", str_at(p, "protocol", NULL) ?: "TCP");
		cJSON_AddItemToArray(out, o);
	}
	return out;
}

/* An EndpointSlice by the Service that owns it (label kubernetes.io/service-name). */
struct slice_ref {
	const char *ns, *owner;
	const cJSON *es;
	int seq;
};

static int cmp_slice_ref(const void *a, const void *b)
{
	const struct slice_ref *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	if (!c)
		c = strcmp(x->owner, y->owner);
	return c ? c : x->seq - y->seq;
}

/* Every owned slice, sorted by (namespace, owner): one pass instead of one per Service. */
static struct slice_ref *slices_by_owner(const struct store *st, size_t *ret_n)
{
	int i, n = store_count(st, OBJ_ENDPOINTSLICE);
	struct slice_ref *v = malloc((n ? (size_t)n : 1) * sizeof(*v));
	const char *ename;
	size_t k = 0;

	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		const cJSON *es = store_obj_at(st, OBJ_ENDPOINTSLICE, i);
		const cJSON *lbl = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(es, "metadata"), "labels");

		v[k].owner = str_at(lbl, "kubernetes.io/service-name", NULL);
		if (!v[k].owner)
			continue;
		obj_ns_name(es, &v[k].ns, &ename);
		v[k].es = es;
		v[k].seq = i;
		k++;
	}
	qsort(v, k, sizeof(*v), cmp_slice_ref);
	*ret_n = k;
	return v;
}

/* One /v1/endpoints entry, from what the datapath gets. */
static int endpoint_json(void *ctx, const struct store_backend *b)
{
	const cJSON *svc_ports = ((const cJSON **)ctx)[0], *p;
	cJSON *eps = ((cJSON **)ctx)[1], *e, *pm;
	int tp;

	e = cJSON_CreateObject();
	if (!e || !cJSON_AddItemToArray(eps, e))
		return -ENOMEM;
	cJSON_AddStringToObject(e, "ip", b->ip);
	cJSON_AddStringToObject(e, "pod", b->pod_name ?: "");
	cJSON_AddBoolToObject(e, "ready", b->ready);
	if (b->pod) {
		cJSON_AddNumberToObject(e, "endpointID", b->ep_id);
	} else { /* conditions only EndpointSlices carry */
		cJSON_AddBoolToObject(e, "serving", b->serving);
		cJSON_AddBoolToObject(e, "terminating", b->terminating);
	}
	pm = cJSON_AddObjectToObject(e, "ports");
	cJSON_ArrayForEach(p, svc_ports) {
		tp = store_backend_port(b, p);
		if (tp > 0)
			cJSON_AddNumberToObject(pm, str_at(p, "name", NULL) ?: "", tp);
	}
	if (cJSON_GetArraySize(pm) > 0)
		cJSON_AddNumberToObject(e, "port", pm->child->valueint);
	return 0;
}

cJSON *store_service_endpoints(const struct store *st)
{
	const cJSON *svc, *ports;
	const char *ns, *name;
	cJSON *items = cJSON_CreateArray(), *item, *eps;
	int i, n = store_count(st, OBJ_SERVICE);
	struct store_backends *it = NULL;

	if (!items || store_backends_begin(st, &it) < 0)
		goto err;
	for (i = 0; i < n; i++) {
		const void *ctx[2];

		svc = store_obj_at(st, OBJ_SERVICE, i);
		obj_ns_name(svc, &ns, &name);
		ports = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(svc, "spec"), "ports");
		item = cJSON_CreateObject();
		if (!item || !cJSON_AddItemToArray(items, item))
			goto err;
		cJSON_AddStringToObject(item, "namespace", ns);
		cJSON_AddStringToObject(item, "service", name);
		cJSON_AddItemToObject(item, "ports", svc_ports_json(ports));
		eps = cJSON_AddArrayToObject(item, "endpoints");
		ctx[0] = ports;
		ctx[1] = eps;
		if (!eps || store_backends_each(it, svc, endpoint_json, ctx) < 0)
			goto err;
	}
	store_backends_end(it);
	return items;
err:
	store_backends_end(it);
	cJSON_Delete(items);
	return NULL;
}

/* --- backends for the datapath ----------------------------------------------------------------- */

struct store_backends {
	const struct store *st;
	struct slice_ref *slices;
	size_t n_slices;
};

int store_backends_begin(const struct store *st, struct store_backends **ret)
{
	struct store_backends *it = calloc(1, sizeof(*it));

	if (!it)
		return -ENOMEM;
	it->st = st;
	it->slices = slices_by_owner(st, &it->n_slices);
	if (!it->slices) {
		free(it);
		return -ENOMEM;
	}
	*ret = it;
	return 0;
}

void store_backends_end(struct store_backends *it)
{
	if (!it)
		return;
	free(it->slices);
	free(it);
}

static int backends_from_pods(const struct store *st, const cJSON *sel, const char *ns,
			      int (*fn)(void *, const struct store_backend *), void *ctx)
{
	const struct store_ep *ep;
	const char *pns, *pname;
	const cJSON *pod;
	int i, j, r, n = store_count(st, OBJ_POD);

	for (i = 0; i < n; i++) {
		pod = store_obj_at(st, OBJ_POD, i);
		obj_ns_name(pod, &pns, &pname);
		if (strcmp(pns, ns) != 0 ||
		    !selector_matches_map(sel, cJSON_GetObjectItemCaseSensitive(
						       cJSON_GetObjectItemCaseSensitive(pod, "metadata"),
						       "labels")))
			continue;
		ep = store_ep_for_pod(st, pns, pname);
		for (j = 0; ep && j < ep->n_ips; j++) {
			struct store_backend b = { .ip = ep->ips[j], .ready = true, .serving = true,
						   .ep_id = ep->ep_id, .pod = pod,
						   .pod_name = pname };

			r = fn(ctx, &b);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int backends_from_slices(const struct store_backends *it, const char *svc_name,
				const char *ns, int (*fn)(void *, const struct store_backend *),
				void *ctx)
{
	struct slice_ref want = { .ns = ns, .owner = svc_name, .seq = -1 };
	const cJSON *ep, *addr, *cond, *ready, *serving;
	size_t lo = 0, hi = it->n_slices, mid;
	const struct slice_ref *v = it->slices;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cmp_slice_ref(&v[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < it->n_slices && !strcmp(v[lo].ns, ns) && !strcmp(v[lo].owner, svc_name); lo++) {
		cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(v[lo].es, "endpoints")) {
			struct store_backend b = {
				.slice_ports = cJSON_GetObjectItemCaseSensitive(v[lo].es, "ports"),
			};

			cond = cJSON_GetObjectItemCaseSensitive(ep, "conditions");
			ready = cJSON_GetObjectItemCaseSensitive(cond, "ready");
			serving = cJSON_GetObjectItemCaseSensitive(cond, "serving");
			/* unset ready means ready; unset serving means "same as ready" */
			b.ready = !cJSON_IsFalse(ready);
			b.serving = serving ? cJSON_IsTrue(serving) : b.ready;
			b.terminating = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cond, "terminating"));
			b.pod_name = str_at(cJSON_GetObjectItemCaseSensitive(ep, "targetRef"), "name",
					    NULL);
			cJSON_ArrayForEach(addr, cJSON_GetObjectItemCaseSensitive(ep, "addresses")) {
				if (!cJSON_IsString(addr))
					continue;
				b.ip = addr->valuestring;
				r = fn(ctx, &b);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

int store_backends_each(struct store_backends *it, const cJSON *svc,
			int (*fn)(void *ctx, const struct store_backend *b), void *ctx)
{
	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(svc, "spec"), "selector");
	const char *ns, *name;

	obj_ns_name(svc, &ns, &name);
	if (cJSON_GetArraySize(sel) > 0)
		return backends_from_pods(it->st, sel, ns, fn, ctx);
	return backends_from_slices(it, name, ns, fn, ctx);
}

int store_backend_port(const struct store_backend *b, const cJSON *svc_port)
{
	const char *pname = str_at(svc_port, "name", NULL) ?: "", *n;
	const cJSON *p, *pn;

	if (b->pod)
		return pod_target_port(b->pod, cJSON_GetObjectItemCaseSensitive(svc_port, "targetPort"),
				       str_at(svc_port, "protocol", NULL) ?: "TCP");
	cJSON_ArrayForEach(p, b->slice_ports) {
		n = str_at(p, "name", NULL) ?: "";
		pn = cJSON_GetObjectItemCaseSensitive(p, "port");
		if (!strcmp(n, pname) && cJSON_IsNumber(pn))
			return pn->valueint;
	}
	return -1;
}

/* --- persistence ---------------------------------------------------------------------------- */

static cJSON *ep_to_json(const struct store_ep *ep)
{
	cJSON *o = cJSON_CreateObject(), *ips;
	int i;

	cJSON_AddStringToObject(o, "containerID", ep->container_id);
	cJSON_AddStringToObject(o, "podNamespace", ep->pod_ns);
	cJSON_AddStringToObject(o, "podName", ep->pod_name);
	cJSON_AddStringToObject(o, "netns", ep->netns);
	cJSON_AddStringToObject(o, "ifname", ep->ifname);
	cJSON_AddStringToObject(o, "hostIfname", ep->host_ifname);
	cJSON_AddNumberToObject(o, "hostIfindex", ep->host_ifindex);
	cJSON_AddNumberToObject(o, "endpointID", ep->ep_id);
	ips = cJSON_AddArrayToObject(o, "ips");
	for (i = 0; i < ep->n_ips; i++)
		cJSON_AddItemToArray(ips, cJSON_CreateString(ep->ips[i]));
	return o;
}

int store_save(const struct store *st, const char *path)
{
	cJSON *eps = cJSON_CreateArray();
	char tmp[4096];
	char *txt = NULL;
	FILE *f = NULL;
	bool first = true;
	size_t i;
	int k, err = 0;

	if (!eps)
		return -ENOMEM;
	for (i = 0; i < st->n_eps; i++)
		cJSON_AddItemToArray(eps, ep_to_json(&st->eps[i]));
	txt = cJSON_PrintUnformatted(eps);
	if (!txt) {
		err = -ENOMEM;
		goto out;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		err = -ENAMETOOLONG;
		goto out;
	}
	f = fopen(tmp, "w");
	if (!f) {
		err = -errno;
		goto out;
	}
	/* {"objects":[<stored texts>],"endpoints":[...]}: the texts are written as they are */
	if (fputs("{\"objects\":[", f) < 0)
		err = -EIO;
	for (k = 0; k < OBJ_KIND_MAX && !err; k++) {
		for (i = 0; i < st->tab[k].n && !err; i++) {
			if ((!first && fputc(',', f) == EOF) || fputs(st->tab[k].e[i].text, f) < 0)
				err = -EIO;
			first = false;
		}
	}
	if (!err && (fputs("],\"endpoints\":", f) < 0 || fputs(txt, f) < 0 || fputc('}', f) == EOF))
		err = -EIO;
	if (!err && (fflush(f) != 0 || fsync(fileno(f)) < 0))
		err = -errno ?: -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		(void)unlink(tmp);
out:
	free(txt);
	cJSON_Delete(eps);
	return err;
}

int store_load(struct store *st, const char *path, char *err, size_t errlen)
{
	cJSON *root = NULL, *results = NULL, *it;
	struct store_ep ep;
	const cJSON *id;
	char *buf = NULL;
	size_t len;
	int r = 0;

	buf = fileio_read_path(path, STORE_MAX_FILE, &len);
	if (!buf) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errlen, "read %s: %s", path, strerror(-r));
		return r;
	}
	root = cJSON_Parse(buf);
	free(buf);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a Sluice state file", path);
		r = -EINVAL;
		goto out;
	}
	r = store_apply(st, cJSON_GetObjectItemCaseSensitive(root, "objects"), &results, err,
			errlen);
	if (r < 0)
		goto out;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "endpoints")) {
		r = store_ep_parse(it, &ep, err, errlen);
		if (r < 0)
			goto out;
		id = cJSON_GetObjectItemCaseSensitive(it, "endpointID");
		ep.ep_id = cJSON_IsNumber(id) ? (unsigned int)id->valuedouble : 0;
		r = store_ep_add(st, &ep, NULL);
		if (r < 0)
			goto out;
	}
out:
	cJSON_Delete(results);
	cJSON_Delete(root);
	return r;
}

void store_trim(const struct store *st)
{
	struct store *m = (struct store *)st; /* only the parse cache changes */
	size_t j;
	int i;

	for (i = 0; i < OBJ_KIND_MAX; i++) {
		for (j = 0; j < m->tab[i].n; j++) {
			cJSON_Delete(m->tab[i].e[j].tree);
			m->tab[i].e[j].tree = NULL;
		}
	}
}

int store_clone(const struct store *st, struct store **ret_copy)
{
	struct store *c;
	int i, r;

	r = store_new(&c);
	if (r < 0)
		return r;
	for (i = 0; i < OBJ_KIND_MAX; i++) {
		const struct kind_tab *t = &st->tab[i];
		size_t j;

		if (tab_reserve(&c->tab[i], t->n) < 0) {
			store_free(c);
			return -ENOMEM;
		}
		for (j = 0; j < t->n; j++) {
			struct obj_ent *e = &c->tab[i].e[j];

			*e = (struct obj_ent){ .key = arena_strdup(&c->arena, t->e[j].key),
					       .text = arena_strdup(&c->arena, t->e[j].text) };
			c->tab[i].n++;
			if (!e->key || !e->text) {
				store_free(c);
				return -ENOMEM;
			}
		}
	}
	if (st->n_eps) {
		c->eps = malloc(st->n_eps * sizeof(*c->eps));
		if (!c->eps) {
			store_free(c);
			return -ENOMEM;
		}
		memcpy(c->eps, st->eps, st->n_eps * sizeof(*c->eps));
	}
	c->n_eps = c->cap_eps = st->n_eps;
	c->next_ep_id = st->next_ep_id;
	*ret_copy = c;
	return 0;
}
