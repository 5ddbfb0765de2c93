// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series.h"

static const char *const label_names[TEL_LABEL_MAX] = {
	[TEL_NAMESPACE] = "k8s_namespace_name",
	[TEL_POD] = "k8s_pod_name",
	[TEL_ROLE] = "role",
	[TEL_TRANSPORT] = "network_transport",
	[TEL_SERVER_PORT] = "server_port",
	[TEL_SERVICE] = "service_name",
	[TEL_SERVICE_NS] = "service_namespace",
	[TEL_PEER_NAMESPACE] = "peer_k8s_namespace_name",
	[TEL_PEER_POD] = "peer_k8s_pod_name",
	[TEL_PEER_ADDRESS] = "network_peer_address",
	[TEL_HTTP_METHOD] = "http_request_method",
	[TEL_HTTP_STATUS] = "http_response_status_code",
	[TEL_ERROR_TYPE] = "error_type",
	[TEL_IO_DIRECTION] = "network_io_direction",
};

const char *tel_label_name(enum tel_label l)
{
	return l < TEL_LABEL_MAX ? label_names[l] : "?";
}

int tel_labels_parse(const char *list, unsigned int *ret_mask, char *err, size_t errlen)
{
	char buf[512], *tok, *save = NULL, *p;
	unsigned int mask = 0;
	int l;

	if (!list || !*list) {
		*ret_mask = TEL_LABELS_DEFAULT;
		return 0;
	}
	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "telemetry_labels: longer than %zu characters", sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		for (p = tok + strlen(tok); p > tok && p[-1] == ' ';)
			*--p = '\0';
		for (l = 0; l < TEL_LABEL_MAX; l++)
			if (!strcmp(tok, label_names[l]))
				break;
		if (l == TEL_LABEL_MAX) {
			snprintf(err, errlen,
				 "telemetry_labels: unknown label '%s' (want a comma-separated list "
				 "of k8s_namespace_name, k8s_pod_name, role, network_transport, "
				 "server_port, service_name, service_namespace, peer_k8s_namespace_name, "
				 "peer_k8s_pod_name, network_peer_address, http_request_method, "
				 "http_response_status_code, error_type, network_io_direction)",
				 tok);
			return -EINVAL;
		}
		mask |= 1u << l;
	}
	*ret_mask = mask;
	return 0;
}


struct group {
	const char *labels; /* a row's (this scrape) */
	uint64_t *vals;	    /* summed over the group's rows */
	bool admitted;
};

struct tel_series {
	size_t n_vals;
	unsigned int limit;
	/* this scrape's rows: labels and vals of row i at rows[i] and vals[i * n_vals] */
	char **rows;
	uint64_t *rvals;
	size_t n_rows, cap_rows;
	/* after tel_series_end: the groups, sorted by labels */
	struct group *groups;
	size_t n_groups;
	/* admitted label sets, sorted, owned */
	char **adm;
	size_t n_adm;
	/* the series written: admitted groups, then the overflow */
	struct group *out;
	size_t n_out;
	uint64_t *over;
	size_t n_over;
};

int tel_series_new(size_t n_vals, unsigned int limit, struct tel_series **ret)
{
	struct tel_series *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->n_vals = n_vals;
	t->limit = limit;
	t->over = calloc(n_vals, sizeof(uint64_t));
	if (!t->over) {
		free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static void scrape_free(struct tel_series *t)
{
	size_t i;

	for (i = 0; i < t->n_rows; i++)
		free(t->rows[i]);
	for (i = 0; i < t->n_groups; i++)
		free(t->groups[i].vals);
	free(t->groups);
	free(t->out);
	t->groups = NULL;
	t->out = NULL;
	t->n_rows = t->n_groups = t->n_out = t->n_over = 0;
}

void tel_series_free(struct tel_series *t)
{
	size_t i;

	if (!t)
		return;
	scrape_free(t);
	for (i = 0; i < t->n_adm; i++)
		free(t->adm[i]);
	free(t->adm);
	free(t->rows);
	free(t->rvals);
	free(t->over);
	free(t);
}

void tel_series_begin(struct tel_series *t)
{
	scrape_free(t);
}

int tel_series_add(struct tel_series *t, const char *labels, const uint64_t *vals)
{
	char **nr;
	uint64_t *nv;
	size_t cap;

	if (t->n_rows == t->cap_rows) {
		cap = t->cap_rows ? t->cap_rows * 2 : 64;
		nr = realloc(t->rows, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		t->rows = nr;
		nv = realloc(t->rvals, cap * t->n_vals * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		t->rvals = nv;
		t->cap_rows = cap;
	}
	t->rows[t->n_rows] = strdup(labels);
	if (!t->rows[t->n_rows])
		return -ENOMEM;
	memcpy(t->rvals + t->n_rows * t->n_vals, vals, t->n_vals * sizeof(*vals));
	t->n_rows++;
	return 0;
}

/* qsort context-free: sorts row indices by label, through a file-scope pointer */
static char **sort_rows;

static int cmp_idx(const void *a, const void *b)
{
	return strcmp(sort_rows[*(const size_t *)a], sort_rows[*(const size_t *)b]);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static long adm_find(const struct tel_series *t, const char *labels)
{
	char **hit;

	if (!t->n_adm)
		return -1;
	hit = bsearch(&labels, t->adm, t->n_adm, sizeof(*t->adm), cmp_str);
	return hit ? hit - t->adm : -1;
}

int tel_series_end(struct tel_series *t)
{
	size_t *idx = NULL, i, j, k, n_new = 0;
	bool *seen = NULL;
	char **adm = NULL;
	struct group *g;
	long a;
	int r = -ENOMEM;

	idx = malloc((t->n_rows + 1) * sizeof(*idx));
	t->groups = calloc(t->n_rows + 1, sizeof(*t->groups));
	t->out = calloc(t->n_rows + 1, sizeof(*t->out));
	seen = calloc(t->n_adm + 1, sizeof(*seen));
	if (!idx || !t->groups || !t->out || !seen)
		goto out;
	for (i = 0; i < t->n_rows; i++)
		idx[i] = i;
	sort_rows = t->rows;
	qsort(idx, t->n_rows, sizeof(*idx), cmp_idx);
	for (i = 0; i < t->n_rows; i = j) {
		g = &t->groups[t->n_groups++];
		g->labels = t->rows[idx[i]];
		g->vals = calloc(t->n_vals, sizeof(uint64_t));
		if (!g->vals)
			goto out;
		for (j = i; j < t->n_rows && !strcmp(t->rows[idx[j]], g->labels); j++)
			for (k = 0; k < t->n_vals; k++)
				g->vals[k] += t->rvals[idx[j] * t->n_vals + k];
		a = adm_find(t, g->labels);
		if (a >= 0) {
			seen[a] = true;
			g->admitted = true;
		} else {
			n_new++;
		}
	}
	/* keep the admitted label sets still seen, then admit new ones while there is room */
	adm = malloc((t->n_adm + n_new + 1) * sizeof(*adm));
	if (!adm)
		goto out;
	for (i = k = 0; i < t->n_adm; i++) {
		if (seen[i])
			adm[k++] = t->adm[i];
		else
			free(t->adm[i]);
	}
	free(t->adm);
	t->adm = adm;
	t->n_adm = k;
	memset(t->over, 0, t->n_vals * sizeof(uint64_t));
	for (i = 0; i < t->n_groups; i++) {
		g = &t->groups[i];
		if (!g->admitted && t->n_adm < t->limit) {
			t->adm[t->n_adm] = strdup(g->labels);
			if (!t->adm[t->n_adm])
				goto out;
			t->n_adm++;
			g->admitted = true;
		}
		if (g->admitted) {
			t->out[t->n_out++] = *g;
			continue;
		}
		for (k = 0; k < t->n_vals; k++)
			t->over[k] += g->vals[k];
		t->n_over++;
	}
	qsort(t->adm, t->n_adm, sizeof(*t->adm), cmp_str);
	if (t->n_over)
		t->out[t->n_out++] = (struct group){ .labels = TEL_OVERFLOW_LABELS,
						     .vals = t->over };
	r = 0;
out:
	free(idx);
	free(seen);
	return r;
}

size_t tel_series_count(const struct tel_series *t)
{
	return t->n_out;
}

void tel_series_at(const struct tel_series *t, size_t i, const char **ret_labels,
		   const uint64_t **ret_vals)
{
	*ret_labels = t->out[i].labels;
	*ret_vals = t->out[i].vals;
}

size_t tel_series_overflowed(const struct tel_series *t)
{
	return t->n_over;
}

void tel_series_gauge(FILE *f, const char *group, const struct tel_series *t)
{
	fprintf(f, "sluice_telemetry_series{group=\"%s\",kind=\"series\"} %zu\n"
		   "sluice_telemetry_series{group=\"%s\",kind=\"overflowed\"} %zu\n",
		group, t->n_out - (t->n_over ? 1 : 0), group, t->n_over);
}

bool tel_label_append(char *buf, size_t len, const char *name, const char *v)
{
	size_t n = strlen(buf);
	const char *p;

	if (!v || !*v)
		return true; /* an empty label is no label */
	if (n + strlen(name) + 4 > len)
		return false;
	n += (size_t)snprintf(buf + n, len - n, "%s%s=\"", n ? "," : "", name);
	for (p = v; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		size_t w = esc ? 2 : 1;

		if (n + w + 2 > len)
			return false;
		if (esc)
			memcpy(buf + n, esc, 2);
		else
			buf[n] = *p;
		n += w;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return true;
}

static void braces(FILE *f, const char *labels, const char *extra)
{
	if (!*labels && !extra)
		return;
	fprintf(f, "{%s%s%s}", labels, *labels && extra ? "," : "", extra ? extra : "");
}

void tel_series_write(FILE *f, const struct tel_series *t, const char *name, const char *type,
		      const char *help, size_t idx)
{
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < t->n_out; i++) {
		fputs(name, f);
		braces(f, t->out[i].labels, NULL);
		fprintf(f, " %llu\n", (unsigned long long)t->out[i].vals[idx]);
	}
}

static void write_hist(FILE *f, const struct tel_series *t, const char *name, const char *help,
		       size_t idx, const double *bounds, size_t n_bounds, size_t sum_idx,
		       double sum_scale, long when_idx)
{
	char le[48];
	uint64_t cum;
	size_t i, b;

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < t->n_out; i++) {
		const uint64_t *v = t->out[i].vals;

		if (when_idx >= 0 && !v[when_idx])
			continue;
		cum = 0;
		for (b = 0; b <= n_bounds; b++) {
			cum += v[idx + b];
			if (b < n_bounds)
				snprintf(le, sizeof(le), "le=\"%g\"", bounds[b]);
			else
				snprintf(le, sizeof(le), "le=\"+Inf\"");
			fprintf(f, "%s_bucket", name);
			braces(f, t->out[i].labels, le);
			fprintf(f, " %llu\n", (unsigned long long)cum);
		}
		fprintf(f, "%s_sum", name);
		braces(f, t->out[i].labels, NULL);
		fprintf(f, " %.9g\n", (double)v[sum_idx] * sum_scale);
		fprintf(f, "%s_count", name);
		braces(f, t->out[i].labels, NULL);
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
}

void tel_series_write_hist(FILE *f, const struct tel_series *t, const char *name,
			   const char *help, size_t idx, const double *bounds, size_t n_bounds,
			   size_t sum_idx, double sum_scale)
{
	write_hist(f, t, name, help, idx, bounds, n_bounds, sum_idx, sum_scale, -1);
}

void tel_family_prom(FILE *f, const struct tel_series *t, const struct tel_family *fam)
{
	if (fam->kind == TEL_COUNTER)
		tel_series_write(f, t, fam->prom, "counter", fam->help, fam->idx);
	else
		write_hist(f, t, fam->prom, fam->help, fam->idx, fam->bounds, fam->n_bounds,
			   fam->sum_idx, fam->sum_scale, fam->when_idx);
}

/* Prometheus label names -> OpenTelemetry attribute names (and whether the value is an int) */
static const struct {
	const char *label, *attr;
	bool integer;
} attr_names[] = {
	{ "k8s_namespace_name", "k8s.namespace.name", false },
	{ "k8s_pod_name", "k8s.pod.name", false },
	{ "role", "sluice.role", false },
	{ "network_transport", "network.transport", false },
	{ "server_port", "server.port", true },
	{ "service_name", "k8s.service.name", false },
	{ "service_namespace", "k8s.service.namespace", false },
	{ "peer_k8s_namespace_name", "sluice.peer.k8s.namespace.name", false },
	{ "peer_k8s_pod_name", "sluice.peer.k8s.pod.name", false },
	{ "network_peer_address", "network.peer.address", false },
	{ "http_request_method", "http.request.method", false },
	{ "http_response_status_code", "http.response.status_code", true },
	{ "error_type", "error.type", false },
	{ "network_io_direction", "network.io.direction", false },
};

/* Calls fn for each name and value of a series' labels (k="v",... as tel_label_append writes
 * them), values unescaped. */
static void labels_each(const char *labels, void (*fn)(void *ctx, const char *k, const char *v),
			void *ctx)
{
	char name[64], val[512];
	const char *p = labels;
	size_t n;

	while (*p) {
		for (n = 0; *p && *p != '=' && n < sizeof(name) - 1; p++)
			name[n++] = *p;
		name[n] = '\0';
		if (*p++ != '=' || *p++ != '"')
			break;
		for (n = 0; *p && *p != '"' && n < sizeof(val) - 1; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				val[n++] = *p == 'n' ? '\n' : *p;
			} else {
				val[n++] = *p;
			}
		}
		val[n] = '\0';
		if (*p == '"')
			p++;
		if (*p == ',')
			p++;
		fn(ctx, name, val);
	}
}

static void json_label(void *ctx, const char *k, const char *v)
{
	cJSON_AddStringToObject(ctx, k, v);
}

cJSON *tel_labels_json(const char *labels)
{
	cJSON *o = cJSON_CreateObject();

	if (o)
		labels_each(labels, json_label, o);
	return o;
}

static void otlp_attr(void *ctx, const char *name, const char *val)
{
	const char *attr = name;
	bool integer = false;
	cJSON *kv, *v;
	size_t i;

	for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
		if (!strcmp(name, attr_names[i].label)) {
			attr = attr_names[i].attr;
			integer = attr_names[i].integer;
		}
	kv = cJSON_CreateObject();
	cJSON_AddStringToObject(kv, "key", attr);
	v = cJSON_AddObjectToObject(kv, "value");
	if (integer)
		cJSON_AddStringToObject(v, "intValue", val); /* int64: a string in OTLP/JSON */
	else
		cJSON_AddStringToObject(v, "stringValue", val);
	cJSON_AddItemToArray(ctx, kv);
}

/* The labels of a series as OTLP attributes. */
static cJSON *attrs_of(const char *labels)
{
	cJSON *a = cJSON_CreateArray(), *kv;

	if (!a)
		return NULL;
	if (!strcmp(labels, TEL_OVERFLOW_LABELS)) {
		kv = cJSON_CreateObject();
		cJSON_AddStringToObject(kv, "key", "otel.metric.overflow");
		cJSON_AddBoolToObject(cJSON_AddObjectToObject(kv, "value"), "boolValue", true);
		cJSON_AddItemToArray(a, kv);
		return a;
	}
	labels_each(labels, otlp_attr, a);
	return a;
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	cJSON_AddStringToObject(o, k, buf);
}

int tel_family_otlp(cJSON *metrics, const struct tel_series *t, const struct tel_family *fam,
		    uint64_t start_ns, uint64_t now_ns)
{
	cJSON *m, *body, *dps, *dp, *bc, *eb;
	char buf[24];
	uint64_t cnt;
	size_t i, b;

	m = cJSON_CreateObject();
	if (!m)
		return -ENOMEM;
	cJSON_AddItemToArray(metrics, m);
	cJSON_AddStringToObject(m, "name", fam->otel);
	cJSON_AddStringToObject(m, "unit", fam->unit);
	cJSON_AddStringToObject(m, "description", fam->help);
	body = cJSON_AddObjectToObject(m, fam->kind == TEL_COUNTER ? "sum" : "histogram");
	cJSON_AddNumberToObject(body, "aggregationTemporality", 2); /* cumulative */
	if (fam->kind == TEL_COUNTER)
		cJSON_AddBoolToObject(body, "isMonotonic", true);
	dps = cJSON_AddArrayToObject(body, "dataPoints");
	if (!dps)
		return -ENOMEM;
	for (i = 0; i < t->n_out; i++) {
		const uint64_t *v = t->out[i].vals;

		if (fam->when_idx >= 0 && !v[fam->when_idx])
			continue;
		dp = cJSON_CreateObject();
		if (!dp)
			return -ENOMEM;
		cJSON_AddItemToArray(dps, dp);
		cJSON_AddItemToObject(dp, "attributes", attrs_of(t->out[i].labels));
		add_u64(dp, "startTimeUnixNano", start_ns);
		add_u64(dp, "timeUnixNano", now_ns);
		if (fam->kind == TEL_COUNTER) {
			add_u64(dp, "asInt", v[fam->idx]);
			continue;
		}
		bc = cJSON_AddArrayToObject(dp, "bucketCounts");
		eb = cJSON_AddArrayToObject(dp, "explicitBounds");
		cnt = 0;
		for (b = 0; b <= fam->n_bounds; b++) {
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v[fam->idx + b]);
			cJSON_AddItemToArray(bc, cJSON_CreateString(buf));
			cnt += v[fam->idx + b];
			if (b < fam->n_bounds)
				cJSON_AddItemToArray(eb, cJSON_CreateNumber(fam->bounds[b]));
		}
		add_u64(dp, "count", cnt);
		cJSON_AddNumberToObject(dp, "sum", (double)v[fam->sum_idx] * fam->sum_scale);
	}
	return 0;
}
