// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/print.h"

#define TABLE_MAX_COLS 8
#define TABLE_GAP      2 /* spaces between columns */
#define EP_MAX_SHOWN   3 /* kubectl lists three endpoints, then "+ N more..." */
#define NONE	       "<none>"

/* --- growable string ------------------------------------------------------------------------ */

struct sbuf {
	char *s;
	size_t len;
	size_t cap;
	bool nomem;
};

static void sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	size_t ncap;
	char *ns;
	int n;

	if (sb->nomem)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->nomem = true;
		return;
	}
	if (sb->len + (size_t)n + 1 > sb->cap) {
		ncap = sb->cap ? sb->cap : 64;
		while (ncap < sb->len + (size_t)n + 1)
			ncap *= 2;
		ns = realloc(sb->s, ncap);
		if (!ns) {
			sb->nomem = true;
			return;
		}
		sb->s = ns;
		sb->cap = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/* Hands over the string ("" when nothing was written); NULL on allocation failure. */
static char *sb_take(struct sbuf *sb)
{
	char *s;

	if (sb->nomem) {
		free(sb->s);
		*sb = (struct sbuf){};
		return NULL;
	}
	s = sb->s ? sb->s : strdup("");
	*sb = (struct sbuf){};
	return s;
}

/* --- table ---------------------------------------------------------------------------------- */

struct table {
	size_t ncols;
	size_t nrows; /* header included */
	size_t cap;
	char **cells; /* row-major */
	size_t width[TABLE_MAX_COLS];
	bool nomem;
};

/* Adds a row, taking ownership of the ncols strings in row (a NULL cell marks a failure). */
static void table_add_take(struct table *t, char **row)
{
	char **nc;
	size_t i, ncap, w;

	for (i = 0; i < t->ncols; i++) {
		if (!row[i])
			t->nomem = true;
	}
	if (!t->nomem && t->nrows == t->cap) {
		ncap = t->cap ? t->cap * 2 : 16;
		nc = realloc(t->cells, ncap * t->ncols * sizeof(*nc));
		if (nc) {
			t->cells = nc;
			t->cap = ncap;
		} else {
			t->nomem = true;
		}
	}
	if (t->nomem) {
		for (i = 0; i < t->ncols; i++)
			free(row[i]);
		return;
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = row[i];
		w = strlen(row[i]);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
}

/* Adds a row of borrowed strings. */
static void table_add(struct table *t, const char *const *row)
{
	char *own[TABLE_MAX_COLS];
	size_t i;

	for (i = 0; i < t->ncols; i++)
		own[i] = strdup(row[i] ? row[i] : "");
	table_add_take(t, own);
}

static void table_init(struct table *t, const char *const *hdr, size_t ncols)
{
	*t = (struct table){.ncols = ncols};
	table_add(t, hdr);
}

static void table_write(const struct table *t, FILE *f)
{
	const char *c;
	size_t r, i;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			c = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols)
				fprintf(f, "%s\n", c);
			else
				fprintf(f, "%-*s", (int)(t->width[i] + TABLE_GAP), c);
		}
	}
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	*t = (struct table){};
}

/* --- JSON helpers --------------------------------------------------------------------------- */

static const cJSON *jget(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* String member or NULL. */
static const char *jstr(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(jget(obj, key));
}

static const char *jstr_or(const cJSON *obj, const char *key, const char *dflt)
{
	const char *s = jstr(obj, key);

	return s && *s ? s : dflt;
}

/* Scalar as text: numbers without a fraction print as integers. */
static void scalar_str(const cJSON *v, char *buf, size_t len)
{
	double d;
	char *s;

	if (cJSON_IsString(v)) {
		snprintf(buf, len, "%s", v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d > -9e15 && d < 9e15 && d == (double)(long long)d)
			snprintf(buf, len, "%lld", (long long)d);
		else
			snprintf(buf, len, "%g", d);
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsNull(v) || !v) {
		snprintf(buf, len, "%s", NONE);
	} else {
		s = cJSON_PrintUnformatted(v);
		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k1=v1,k2=v2" of a string map sorted by key, or "<none>". */
static char *labels_str(const cJSON *map)
{
	const char *keys[256];
	struct sbuf sb = {};
	const cJSON *c;
	size_t n = 0, i;
	char v[256];

	cJSON_ArrayForEach(c, map) {
		if (c->string && n < sizeof(keys) / sizeof(keys[0]))
			keys[n++] = c->string;
	}
	if (!n)
		return strdup(NONE);
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	for (i = 0; i < n; i++) {
		scalar_str(jget(map, keys[i]), v, sizeof(v));
		sb_printf(&sb, "%s%s=%s", i ? "," : "", keys[i], v);
	}
	return sb_take(&sb);
}

static int cmp_expr(const void *a, const void *b)
{
	const char *ka = jstr(*(const cJSON *const *)a, "key");
	const char *kb = jstr(*(const cJSON *const *)b, "key");

	return strcmp(ka ? ka : "", kb ? kb : "");
}

/*
 * metav1.FormatLabelSelector: matchLabels and matchExpressions as one requirement list sorted
 * by key ("app=web,tier in (a,b),!legacy"); "<none>" for the empty selector.
 */
static char *selector_str(const cJSON *sel)
{
	const cJSON *ml = jget(sel, "matchLabels"), *me = jget(sel, "matchExpressions");
	const cJSON *exprs[256], *c, *v;
	const char *keys[256], *op, *key;
	struct sbuf sb = {};
	size_t nk = 0, ne = 0, i = 0, j = 0, k;
	bool first = true, take_label;
	char val[256];

	cJSON_ArrayForEach(c, ml) {
		if (c->string && nk < sizeof(keys) / sizeof(keys[0]))
			keys[nk++] = c->string;
	}
	cJSON_ArrayForEach(c, me) {
		if (cJSON_IsObject(c) && ne < sizeof(exprs) / sizeof(exprs[0]))
			exprs[ne++] = c;
	}
	if (!nk && !ne)
		return strdup(NONE);
	qsort(keys, nk, sizeof(keys[0]), cmp_str);
	qsort(exprs, ne, sizeof(exprs[0]), cmp_expr);
	while (i < nk || j < ne) {
		key = j < ne ? jstr_or(exprs[j], "key", "") : NULL;
		take_label = i < nk && (!key || strcmp(keys[i], key) <= 0);
		sb_printf(&sb, "%s", first ? "" : ",");
		first = false;
		if (take_label) {
			scalar_str(jget(ml, keys[i]), val, sizeof(val));
			sb_printf(&sb, "%s=%s", keys[i], val);
			i++;
			continue;
		}
		op = jstr_or(exprs[j], "operator", "");
		if (strcmp(op, "Exists") == 0) {
			sb_printf(&sb, "%s", key);
		} else if (strcmp(op, "DoesNotExist") == 0) {
			sb_printf(&sb, "!%s", key);
		} else {
			if (strcmp(op, "In") == 0)
				op = "in";
			else if (strcmp(op, "NotIn") == 0)
				op = "notin";
			sb_printf(&sb, "%s %s (", key, op);
			k = 0;
			cJSON_ArrayForEach(v, jget(exprs[j], "values")) {
				scalar_str(v, val, sizeof(val));
				sb_printf(&sb, "%s%s", k++ ? "," : "", val);
			}
			sb_printf(&sb, ")");
		}
		j++;
	}
	return sb_take(&sb);
}

/* --- resources ------------------------------------------------------------------------------ */

static const struct {
	const char *word;
	enum print_res res;
} res_words[] = {
    {"pods", PRINT_RES_PODS},
    {"pod", PRINT_RES_PODS},
    {"po", PRINT_RES_PODS},
    {"services", PRINT_RES_SERVICES},
    {"service", PRINT_RES_SERVICES},
    {"svc", PRINT_RES_SERVICES},
    {"endpoints", PRINT_RES_ENDPOINTS},
    {"endpoint", PRINT_RES_ENDPOINTS},
    {"ep", PRINT_RES_ENDPOINTS},
    {"policies", PRINT_RES_POLICIES},
    {"policy", PRINT_RES_POLICIES},
    {"networkpolicies", PRINT_RES_POLICIES},
    {"networkpolicy", PRINT_RES_POLICIES},
    {"netpol", PRINT_RES_POLICIES},
    {"namespaces", PRINT_RES_NAMESPACES},
    {"namespace", PRINT_RES_NAMESPACES},
    {"ns", PRINT_RES_NAMESPACES},
    {"httppolicies", PRINT_RES_HTTPPOLICIES},
    {"httppolicy", PRINT_RES_HTTPPOLICIES},
    {"httppol", PRINT_RES_HTTPPOLICIES},
};

int print_res_parse(const char *word, enum print_res *ret_res)
{
	size_t i;

	for (i = 0; word && i < sizeof(res_words) / sizeof(res_words[0]); i++) {
		if (strcmp(word, res_words[i].word) == 0) {
			*ret_res = res_words[i].res;
			return 0;
		}
	}
	return -EINVAL;
}

const char *print_res_path(enum print_res res)
{
	switch (res) {
	case PRINT_RES_PODS:
		return "/v1/objects/pods";
	case PRINT_RES_SERVICES:
		return "/v1/objects/services";
	case PRINT_RES_ENDPOINTS:
		return "/v1/endpoints";
	case PRINT_RES_POLICIES:
		return "/v1/objects/networkpolicies";
	case PRINT_RES_NAMESPACES:
		return "/v1/objects/namespaces";
	case PRINT_RES_HTTPPOLICIES:
		return "/v1/objects/httppolicies";
	}
	return NULL;
}

bool print_res_namespaced(enum print_res res)
{
	return res != PRINT_RES_NAMESPACES;
}

/* An item's namespace; objects without one live in "default". */
static const char *item_ns(enum print_res res, const cJSON *item)
{
	if (res == PRINT_RES_ENDPOINTS)
		return jstr_or(item, "namespace", "default");
	return jstr_or(jget(item, "metadata"), "namespace", "default");
}

static const char *item_name(enum print_res res, const cJSON *item)
{
	if (res == PRINT_RES_ENDPOINTS)
		return jstr_or(item, "service", "");
	return jstr_or(jget(item, "metadata"), "name", "");
}

cJSON *print_filter_ns(enum print_res res, const cJSON *list, const char *ns)
{
	cJSON *copy, *items, *it, *next;

	if (!cJSON_IsArray(jget(list, "items")))
		return NULL;
	copy = cJSON_Duplicate(list, true);
	if (!copy || !ns || !print_res_namespaced(res))
		return copy;
	items = cJSON_GetObjectItemCaseSensitive(copy, "items");
	for (it = items->child; it; it = next) {
		next = it->next;
		if (strcmp(item_ns(res, it), ns) != 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(items, it));
	}
	return copy;
}

/* --- per-resource rows ---------------------------------------------------------------------- */

static void row_pod(struct table *t, const cJSON *it, bool all_ns, bool wide)
{
	const cJSON *st = jget(it, "status");
	const char *phase = jstr_or(st, "phase", "Pending");
	char *row[TABLE_MAX_COLS];
	int n = cJSON_GetArraySize(jget(jget(it, "spec"), "containers"));
	size_t c = 0;
	char ready[32];

	if (n < 1)
		n = 1;
	snprintf(ready, sizeof(ready), "%d/%d", strcmp(phase, "Running") == 0 ? n : 0, n);
	if (all_ns)
		row[c++] = strdup(item_ns(PRINT_RES_PODS, it));
	row[c++] = strdup(item_name(PRINT_RES_PODS, it));
	row[c++] = strdup(ready);
	row[c++] = strdup(phase);
	row[c++] = strdup(jstr_or(st, "podIP", NONE));
	if (wide)
		row[c++] = strdup(jstr_or(st, "hostIfname", NONE));
	table_add_take(t, row);
}

static char *svc_ports_str(const cJSON *spec)
{
	const cJSON *p, *np;
	struct sbuf sb = {};
	char port[32], nport[32];
	size_t n = 0;

	cJSON_ArrayForEach(p, jget(spec, "ports")) {
		scalar_str(jget(p, "port"), port, sizeof(port));
		np = jget(p, "nodePort");
		sb_printf(&sb, "%s%s", n++ ? "," : "", port);
		if (cJSON_IsNumber(np) && np->valuedouble > 0) {
			scalar_str(np, nport, sizeof(nport));
			sb_printf(&sb, ":%s", nport);
		}
		sb_printf(&sb, "/%s", jstr_or(p, "protocol", "TCP"));
	}
	if (!n) {
		free(sb.s);
		return strdup(NONE);
	}
	return sb_take(&sb);
}

/* kubectl's EXTERNAL-IP: externalIPs, plus load-balancer ingress for LoadBalancer Services. */
static char *svc_external_str(const cJSON *it, const char *type)
{
	const cJSON *spec = jget(it, "spec"), *c;
	struct sbuf sb = {};
	size_t n = 0;

	if (strcmp(type, "ExternalName") == 0)
		return strdup(jstr_or(spec, "externalName", NONE));
	if (strcmp(type, "LoadBalancer") == 0) {
		cJSON_ArrayForEach(c, jget(jget(jget(it, "status"), "loadBalancer"), "ingress")) {
			const char *a = jstr(c, "ip") ? jstr(c, "ip") : jstr(c, "hostname");

			if (a && *a)
				sb_printf(&sb, "%s%s", n++ ? "," : "", a);
		}
	}
	cJSON_ArrayForEach(c, jget(spec, "externalIPs")) {
		if (cJSON_IsString(c))
			sb_printf(&sb, "%s%s", n++ ? "," : "", c->valuestring);
	}
	if (!n) {
		free(sb.s);
		return strdup(strcmp(type, "LoadBalancer") == 0 ? "<pending>" : NONE);
	}
	return sb_take(&sb);
}

static void row_service(struct table *t, const cJSON *it, bool all_ns, bool wide)
{
	const cJSON *spec = jget(it, "spec");
	const char *type = jstr_or(spec, "type", "ClusterIP");
	char *row[TABLE_MAX_COLS];
	size_t c = 0;

	if (all_ns)
		row[c++] = strdup(item_ns(PRINT_RES_SERVICES, it));
	row[c++] = strdup(item_name(PRINT_RES_SERVICES, it));
	row[c++] = strdup(type);
	row[c++] =
	    strdup(strcmp(type, "ExternalName") == 0 ? NONE : jstr_or(spec, "clusterIP", NONE));
	row[c++] = svc_external_str(it, type);
	row[c++] = svc_ports_str(spec);
	if (wide)
		row[c++] = labels_str(jget(spec, "selector"));
	table_add_take(t, row);
}

static void ep_append(char *buf, size_t len, size_t *off, const char *ip, const char *port)
{
	bool v6 = strchr(ip, ':') != NULL;
	int n;

	if (*off >= len)
		return;
	if (port)
		n = snprintf(buf + *off, len - *off, "%s%s%s%s:%s", *off ? "," : "", v6 ? "[" : "",
			     ip, v6 ? "]" : "", port);
	else
		n = snprintf(buf + *off, len - *off, "%s%s", *off ? "," : "", ip);
	if (n > 0)
		*off += (size_t)n;
	if (*off >= len)
		*off = len;
}

void print_endpoints_col(const cJSON *item, char *buf, size_t len)
{
	const cJSON *ports = jget(item, "ports"), *eps = jget(item, "endpoints"), *p, *e;
	size_t shown = 0, count = 0, off = 0;
	char port[32];
	int np = cJSON_GetArraySize(ports), i;

	if (!len)
		return;
	buf[0] = '\0';
	/* a headless Service without ports lists bare addresses, as kubectl does */
	for (i = 0; i < (np ? np : 1); i++) {
		p = np ? cJSON_GetArrayItem(ports, i) : NULL;
		if (p)
			scalar_str(jget(p, "port"), port, sizeof(port));
		cJSON_ArrayForEach(e, eps) {
			const char *ip = jstr(e, "ip");

			const cJSON *tp = p ? jget(jget(e, "ports"), jstr(p, "name") ?: "") : NULL;
			char tport[32];

			if (!ip || !*ip || !cJSON_IsTrue(jget(e, "ready")))
				continue;
			/* the endpoint's own (target) port when the agent resolved one */
			if (tp)
				scalar_str(tp, tport, sizeof(tport));
			count++;
			if (shown == EP_MAX_SHOWN)
				continue;
			ep_append(buf, len, &off, ip, tp ? tport : p ? port : NULL);
			shown++;
		}
	}
	if (!count)
		snprintf(buf, len, "%s", NONE);
	else if (count > shown && off < len)
		snprintf(buf + off, len - off, " + %zu more...", count - shown);
}

static void row_endpoints(struct table *t, const cJSON *it, bool all_ns)
{
	char *row[TABLE_MAX_COLS];
	char eps[1024];
	size_t c = 0;

	print_endpoints_col(it, eps, sizeof(eps));
	if (all_ns)
		row[c++] = strdup(item_ns(PRINT_RES_ENDPOINTS, it));
	row[c++] = strdup(item_name(PRINT_RES_ENDPOINTS, it));
	row[c++] = strdup(eps);
	table_add_take(t, row);
}

static void row_policy(struct table *t, const cJSON *it, bool all_ns, bool wide)
{
	const cJSON *spec = jget(it, "spec"), *c;
	char *row[TABLE_MAX_COLS];
	struct sbuf sb = {};
	size_t col = 0, n = 0;

	if (all_ns)
		row[col++] = strdup(item_ns(PRINT_RES_POLICIES, it));
	row[col++] = strdup(item_name(PRINT_RES_POLICIES, it));
	row[col++] = selector_str(jget(spec, "podSelector"));
	if (wide) {
		cJSON_ArrayForEach(c, jget(spec, "policyTypes")) {
			if (cJSON_IsString(c))
				sb_printf(&sb, "%s%s", n++ ? "," : "", c->valuestring);
		}
		if (!n)
			sb_printf(&sb, "%s", jget(spec, "egress") ? "Ingress,Egress" : "Ingress");
		row[col++] = sb_take(&sb);
	}
	table_add_take(t, row);
}

static void row_httppolicy(struct table *t, const cJSON *it, bool all_ns)
{
	const cJSON *spec = jget(it, "spec"), *c;
	char *row[TABLE_MAX_COLS];
	struct sbuf sb = {};
	size_t col = 0, n = 0;

	if (all_ns)
		row[col++] = strdup(item_ns(PRINT_RES_HTTPPOLICIES, it));
	row[col++] = strdup(item_name(PRINT_RES_HTTPPOLICIES, it));
	row[col++] = selector_str(jget(spec, "podSelector"));
	cJSON_ArrayForEach(c, jget(spec, "ports")) {
		const cJSON *p = jget(c, "port");

		if (cJSON_IsNumber(p))
			sb_printf(&sb, "%s%d", n++ ? "," : "", p->valueint);
		else if (cJSON_IsString(p))
			sb_printf(&sb, "%s%s", n++ ? "," : "", p->valuestring);
	}
	row[col++] = sb_take(&sb);
	sb_printf(&sb, "%d", cJSON_GetArraySize(jget(spec, "rules")));
	row[col++] = sb_take(&sb);
	table_add_take(t, row);
}

static void row_namespace(struct table *t, const cJSON *it)
{
	const char *row[] = {
	    item_name(PRINT_RES_NAMESPACES, it),
	    jstr_or(jget(it, "status"), "phase", "Active"),
	};

	table_add(t, row);
}

int print_table(FILE *f, enum print_res res, const cJSON *list, bool all_ns, bool wide)
{
	static const char *const h_pods[] = {"NAME", "READY", "STATUS", "IP", "NODE-IFACE"};
	static const char *const h_svc[] = {"NAME",	   "TYPE",    "CLUSTER-IP",
					    "EXTERNAL-IP", "PORT(S)", "SELECTOR"};
	static const char *const h_ep[] = {"NAME", "ENDPOINTS"};
	static const char *const h_pol[] = {"NAME", "POD-SELECTOR", "POLICY-TYPES"};
	static const char *const h_ns[] = {"NAME", "STATUS"};
	static const char *const h_http[] = {"NAME", "POD-SELECTOR", "PORTS", "RULES"};
	const char *const *h;
	const char *hdr[TABLE_MAX_COLS];
	const cJSON *items = jget(list, "items"), *it;
	struct table t;
	size_t nh, nwide = 0, c = 0, i;
	int r;

	if (!cJSON_IsArray(items))
		return -EINVAL;
	cJSON_ArrayForEach(it, items) {
		if (!cJSON_IsObject(it))
			return -EINVAL;
	}
	if (!cJSON_GetArraySize(items))
		return 0;

	switch (res) {
	case PRINT_RES_PODS:
		h = h_pods;
		nh = 5;
		nwide = 1;
		break;
	case PRINT_RES_SERVICES:
		h = h_svc;
		nh = 6;
		nwide = 1;
		break;
	case PRINT_RES_ENDPOINTS:
		h = h_ep;
		nh = 2;
		break;
	case PRINT_RES_POLICIES:
		h = h_pol;
		nh = 3;
		nwide = 1;
		break;
	case PRINT_RES_NAMESPACES:
		h = h_ns;
		nh = 2;
		all_ns = false;
		break;
	case PRINT_RES_HTTPPOLICIES:
		h = h_http;
		nh = 4;
		break;
	default:
		return -EINVAL;
	}
	if (!wide)
		nh -= nwide;
	if (all_ns)
		hdr[c++] = "NAMESPACE";
	for (i = 0; i < nh; i++)
		hdr[c++] = h[i];
	table_init(&t, hdr, c);

	cJSON_ArrayForEach(it, items) {
		switch (res) {
		case PRINT_RES_PODS:
			row_pod(&t, it, all_ns, wide);
			break;
		case PRINT_RES_SERVICES:
			row_service(&t, it, all_ns, wide);
			break;
		case PRINT_RES_ENDPOINTS:
			row_endpoints(&t, it, all_ns);
			break;
		case PRINT_RES_POLICIES:
			row_policy(&t, it, all_ns, wide);
			break;
		case PRINT_RES_NAMESPACES:
			row_namespace(&t, it);
			break;
		case PRINT_RES_HTTPPOLICIES:
			row_httppolicy(&t, it, all_ns);
			break;
		}
	}
	if (t.nomem) {
		r = -ENOMEM;
		goto out_free_table;
	}
	table_write(&t, f);
	r = (int)t.nrows - 1;

out_free_table:
	table_free(&t);
	return r;
}

void print_no_resources(FILE *f, enum print_res res, const char *ns)
{
	if (ns && print_res_namespaced(res))
		fprintf(f, "No resources found in %s namespace.\n", ns);
	else
		fprintf(f, "No resources found\n");
}

/* --- apply / delete ------------------------------------------------------------------------- */

const char *print_kind_resource(const char *kind)
{
	static const struct {
		const char *kind;
		const char *res;
	} kinds[] = {
	    {"Pod", "pod"},
	    {"Service", "service"},
	    {"Namespace", "namespace"},
	    {"EndpointSlice", "endpointslice.discovery.k8s.io"},
	    {"NetworkPolicy", "networkpolicy.networking.k8s.io"},
	    {"HTTPPolicy", "httppolicy.sluice.dev"},
	    {"Endpoints", "endpoints"},
	};
	size_t i;

	for (i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].kind) == 0)
			return kinds[i].res;
	}
	return NULL;
}

int print_results(FILE *f, const cJSON *resp, bool deleted)
{
	const cJSON *results = jget(resp, "results"), *r;
	const char *kind, *res, *name, *action;
	char lower[64];
	int n = 0;
	size_t i;

	if (!cJSON_IsArray(results))
		return -EINVAL;
	cJSON_ArrayForEach(r, results) {
		if (!cJSON_IsObject(r) || !jstr(r, "kind") || !jstr(r, "name"))
			return -EINVAL;
	}
	cJSON_ArrayForEach(r, results) {
		kind = jstr(r, "kind");
		name = jstr(r, "name");
		action = jstr_or(r, "action", deleted ? "deleted" : "configured");
		res = print_kind_resource(kind);
		if (!res) {
			/* an unknown kind prints lowercased, as kubectl's fallback does */
			for (i = 0; kind[i] && i + 1 < sizeof(lower); i++)
				lower[i] =
				    (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] - 'A' + 'a'
									    : kind[i]);
			lower[i] = '\0';
			res = lower;
		}
		if (deleted)
			fprintf(f, "%s \"%s\" %s\n", res, name, action);
		else
			fprintf(f, "%s/%s %s\n", res, name, action);
		n++;
	}
	return n;
}

/* --- status --------------------------------------------------------------------------------- */

#define STATUS_LABEL_W 16

/* "k=v k=v" over an object's members, in the agent's order. */
static void kv_line(FILE *f, const char *label, const cJSON *obj)
{
	const cJSON *c;
	char v[512];
	size_t n = 0;

	fprintf(f, "%-*s", STATUS_LABEL_W, label);
	cJSON_ArrayForEach(c, obj) {
		if (!c->string)
			continue;
		scalar_str(c, v, sizeof(v));
		fprintf(f, "%s%s=%s", n++ ? " " : "", c->string, v);
	}
	fprintf(f, "%s\n", n ? "" : NONE);
}

static void scalar_line(FILE *f, const char *label, const cJSON *v)
{
	char buf[512];

	scalar_str(v, buf, sizeof(buf));
	fprintf(f, "%-*s%s\n", STATUS_LABEL_W, label, buf);
}

static int status_programs(FILE *f, const cJSON *progs)
{
	static const char *const hdr[] = {"PROGRAM", "LOADED", "LINKS"};
	const cJSON *p;
	struct table t;
	char links[32];
	int r = 0;

	if (!cJSON_GetArraySize(progs))
		return 0;
	table_init(&t, hdr, 3);
	cJSON_ArrayForEach(p, progs) {
		const char *row[3];

		scalar_str(jget(p, "links"), links, sizeof(links));
		row[0] = jstr_or(p, "name", "?");
		row[1] = cJSON_IsTrue(jget(p, "loaded")) ? "yes" : "no";
		row[2] = links;
		table_add(&t, row);
	}
	if (t.nomem)
		r = -ENOMEM;
	else
		table_write(&t, f);
	table_free(&t);
	return r;
}

static int status_maps(FILE *f, const cJSON *maps)
{
	static const char *const hdr[] = {"MAP", "FILL", "USE"};
	const cJSON *m, *e, *mx;
	struct table t;
	char fill[64], use[32], es[32], ms[32];
	int r = 0;

	if (!cJSON_GetArraySize(maps))
		return 0;
	table_init(&t, hdr, 3);
	cJSON_ArrayForEach(m, maps) {
		const char *row[3];

		e = jget(m, "entries");
		mx = jget(m, "max_entries");
		scalar_str(e, es, sizeof(es));
		scalar_str(mx, ms, sizeof(ms));
		snprintf(fill, sizeof(fill), "%s/%s", es, ms);
		if (cJSON_IsNumber(e) && cJSON_IsNumber(mx) && mx->valuedouble > 0)
			snprintf(use, sizeof(use), "%.1f%%",
				 100.0 * e->valuedouble / mx->valuedouble);
		else
			snprintf(use, sizeof(use), "-");
		row[0] = jstr_or(m, "name", "?");
		row[1] = fill;
		row[2] = use;
		table_add(&t, row);
	}
	if (t.nomem)
		r = -ENOMEM;
	else
		table_write(&t, f);
	table_free(&t);
	return r;
}

int print_status(FILE *f, const cJSON *st)
{
	const cJSON *v;
	int r;

	if (!cJSON_IsObject(st))
		return -EINVAL;
	if ((v = jget(st, "version")))
		scalar_line(f, "Agent version:", v);
	if ((v = jget(st, "bpffs")))
		scalar_line(f, "bpffs:", v);
	if ((v = jget(st, "node")))
		kv_line(f, "Node:", v);
	if ((v = jget(st, "objects")))
		kv_line(f, "Objects:", v);
	if ((v = jget(st, "endpoints")))
		scalar_line(f, "Endpoints:", v);
	if ((v = jget(st, "reconcile")))
		kv_line(f, "Reconcile:", v);
	v = jget(st, "programs");
	if (cJSON_GetArraySize(v)) {
		fprintf(f, "\n");
		r = status_programs(f, v);
		if (r < 0)
			return r;
	}
	v = jget(st, "maps");
	if (cJSON_GetArraySize(v)) {
		fprintf(f, "\n");
		r = status_maps(f, v);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- JSON ----------------------------------------------------------------------------------- */

#define JSON_INDENT 4

static void json_key(FILE *f, const char *k)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)k; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static int json_write(FILE *f, const cJSON *v, int depth)
{
	const cJSON *c;
	char *s;
	int r;

	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		if (!v->child) {
			fputs(cJSON_IsObject(v) ? "{}" : "[]", f);
			return 0;
		}
		fputs(cJSON_IsObject(v) ? "{\n" : "[\n", f);
		cJSON_ArrayForEach(c, v) {
			fprintf(f, "%*s", (depth + 1) * JSON_INDENT, "");
			if (cJSON_IsObject(v)) {
				json_key(f, c->string ? c->string : "");
				fputs(": ", f);
			}
			r = json_write(f, c, depth + 1);
			if (r < 0)
				return r;
			fputs(c->next ? ",\n" : "\n", f);
		}
		fprintf(f, "%*s%c", depth * JSON_INDENT, "", cJSON_IsObject(v) ? '}' : ']');
		return 0;
	}
	s = cJSON_PrintUnformatted(v);
	if (!s)
		return -ENOMEM;
	fputs(s, f);
	free(s);
	return 0;
}

int print_json(FILE *f, const cJSON *v)
{
	int r;

	if (!v)
		return -EINVAL;
	r = json_write(f, v, 0);
	fputc('\n', f);
	return r;
}
