// SPDX-License-Identifier: Apache-2.0
/*
 * Whole-object validation of the Kubernetes objects Sluice consumes, following the API server's
 * rules for the fields Sluice reads. Fields Sluice does not read are left alone. A JSON null is
 * treated as an absent field, as the API server does.
 *
 * Names: Namespace names are DNS-1123 labels; Service names are DNS-1035 labels (a DNS-1123
 * label that starts with a letter), as the API server checks them; Pod, EndpointSlice and
 * NetworkPolicy names are DNS-1123 subdomains.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "validate.h"

#define PATH_MAX_LEN		 256
#define SVC_NODEPORT_MIN	 30000
#define SVC_NODEPORT_MAX	 32767
#define SVC_AFFINITY_TIMEOUT_DEF 10800
#define SVC_AFFINITY_TIMEOUT_MAX 86400
#define ES_MAX_ENDPOINTS	 1000
#define ES_MAX_ADDRESSES	 100
#define ES_MAX_PORTS		 100

enum name_rule { NAME_LABEL, NAME_DNS1035, NAME_SUBDOMAIN };

struct kind_info {
	const char *name;
	const char *api_version;
	const char *group; /* "" for the core group */
	const char *plural;
	const char *shorts[3];
	bool namespaced;
	enum name_rule name_rule;
};

static const struct kind_info kinds[OBJ_KIND_MAX] = {
	[OBJ_NAMESPACE] = { "Namespace", "v1", "", "namespaces", { "ns" }, false, NAME_LABEL },
	[OBJ_POD] = { "Pod", "v1", "", "pods", { "po" }, true, NAME_SUBDOMAIN },
	[OBJ_SERVICE] = { "Service", "v1", "", "services", { "svc" }, true, NAME_DNS1035 },
	[OBJ_ENDPOINTSLICE] = { "EndpointSlice", "discovery.k8s.io/v1", "discovery.k8s.io",
				"endpointslices", { NULL }, true, NAME_SUBDOMAIN },
	[OBJ_NETWORKPOLICY] = { "NetworkPolicy", "networking.k8s.io/v1", "networking.k8s.io",
				"networkpolicies", { "netpol" }, true, NAME_SUBDOMAIN },
	[OBJ_HTTPPOLICY] = { "HTTPPolicy", "sluice.dev/v1alpha1", "sluice.dev", "httppolicies",
			     { "httppol" }, true, NAME_SUBDOMAIN },
};

const char *const httppol_methods[9] = { "GET",	    "HEAD",    "POST",	"PUT",	 "DELETE",
					 "CONNECT", "OPTIONS", "TRACE", "PATCH" };

struct vctx {
	char who[160]; /* "Service default/web" */
	char *err;
	size_t errlen;
};

/* ---- kinds ---- */

const char *obj_kind_name(enum obj_kind kind)
{
	return (unsigned)kind < OBJ_KIND_MAX ? kinds[kind].name : "Unknown";
}

const char *obj_kind_plural(enum obj_kind kind)
{
	return (unsigned)kind < OBJ_KIND_MAX ? kinds[kind].plural : "unknown";
}

static bool kind_word_matches(const struct kind_info *k, const char *s, size_t n)
{
	size_t i;

	if ((strlen(k->name) == n && !strncasecmp(s, k->name, n)) ||
	    (strlen(k->plural) == n && !strncasecmp(s, k->plural, n)))
		return true;
	for (i = 0; i < sizeof(k->shorts) / sizeof(k->shorts[0]) && k->shorts[i]; i++)
		if (strlen(k->shorts[i]) == n && !strncasecmp(s, k->shorts[i], n))
			return true;
	return false;
}

int obj_kind_parse(const char *s, enum obj_kind *ret_kind)
{
	const char *dot;
	size_t n;
	int k;

	if (!s || !*s)
		return -EINVAL;
	/* "pods", "Pod", "po", and with a group: "networkpolicies.networking.k8s.io". */
	dot = strchr(s, '.');
	if (dot && !dot[1])
		return -EINVAL;
	n = dot ? (size_t)(dot - s) : strlen(s);
	for (k = 0; k < OBJ_KIND_MAX; k++) {
		if (!kind_word_matches(&kinds[k], s, n))
			continue;
		if (dot && strcasecmp(dot + 1, kinds[k].group))
			continue;
		*ret_kind = (enum obj_kind)k;
		return 0;
	}
	return -EINVAL;
}

/* ---- errors ---- */

static void render_value(const cJSON *v, char *buf, size_t len)
{
	char *s = v ? cJSON_PrintUnformatted(v) : NULL;
	size_t n;

	if (!s) {
		snprintf(buf, len, "?");
		return;
	}
	n = strlen(s);
	if (n > 80)
		snprintf(buf, len, "%.77s...", s);
	else
		snprintf(buf, len, "%s", s);
	free(s);
}

static int verr(struct vctx *v, const char *path, const cJSON *got, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "<who>: <path>: <reason>[, got <value>]"; returns -EINVAL. */
static int verr(struct vctx *v, const char *path, const cJSON *got, const char *fmt, ...)
{
	char reason[256], val[96] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (got)
		render_value(got, val, sizeof(val));
	snprintf(v->err, v->errlen, "%s: %s: %s%s%s", v->who, path, reason, got ? ", got " : "",
		 val);
	return -EINVAL;
}

/* ---- field access ---- */

/* A field, with JSON null read as absent. */
static cJSON *field(const cJSON *obj, const char *key)
{
	cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(f) ? NULL : f;
}

static int set_item(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return -ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
		if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)) {
			cJSON_Delete(item);
			return -ENOMEM;
		}
		return 0;
	}
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

static int set_string(cJSON *obj, const char *key, const char *val)
{
	return set_item(obj, key, cJSON_CreateString(val));
}

static int set_number(cJSON *obj, const char *key, double val)
{
	return set_item(obj, key, cJSON_CreateNumber(val));
}

static int nomem(struct vctx *v)
{
	snprintf(v->err, v->errlen, "%s: out of memory", v->who);
	return -ENOMEM;
}

static void path_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Field paths; a path too long for PATH_MAX_LEN is cut short, which only shortens a message. */
static void path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

#define PATHF(buf, ...) path_fmt(buf, sizeof(buf), __VA_ARGS__)

static bool is_integer(const cJSON *f)
{
	return cJSON_IsNumber(f) && isfinite(f->valuedouble) &&
	       f->valuedouble == floor(f->valuedouble) && fabs(f->valuedouble) < 9.0e15;
}

/* An optional (required if req) integer in [lo, hi]. *ret (if set) is left alone when absent. */
static int check_int(struct vctx *v, const char *path, const cJSON *f, bool req, long lo, long hi,
		     long *ret)
{
	if (!f)
		return req ? verr(v, path, NULL, "required") : 0;
	if (!is_integer(f))
		return verr(v, path, f, "must be an integer");
	if (f->valuedouble < (double)lo || f->valuedouble > (double)hi)
		return verr(v, path, f, "must be between %ld and %ld", lo, hi);
	if (ret)
		*ret = (long)f->valuedouble;
	return 0;
}

static int check_string(struct vctx *v, const char *path, const cJSON *f, bool req,
			const char **ret)
{
	if (!f)
		return req ? verr(v, path, NULL, "required") : 0;
	if (!cJSON_IsString(f))
		return verr(v, path, f, "must be a string");
	if (req && !*f->valuestring)
		return verr(v, path, NULL, "required");
	if (ret)
		*ret = f->valuestring;
	return 0;
}

static int check_bool(struct vctx *v, const char *path, const cJSON *f)
{
	if (f && !cJSON_IsBool(f))
		return verr(v, path, f, "must be a boolean");
	return 0;
}

static int check_object(struct vctx *v, const char *path, const cJSON *f, bool req)
{
	if (!f)
		return req ? verr(v, path, NULL, "required") : 0;
	if (!cJSON_IsObject(f))
		return verr(v, path, f, "must be an object");
	return 0;
}

static int check_array(struct vctx *v, const char *path, const cJSON *f, bool req)
{
	if (!f)
		return req ? verr(v, path, NULL, "required") : 0;
	if (!cJSON_IsArray(f))
		return verr(v, path, f, "must be an array");
	return 0;
}

static int check_string_array(struct vctx *v, const char *path, const cJSON *f)
{
	char p[PATH_MAX_LEN];
	const cJSON *it;
	int i = 0, err;

	err = check_array(v, path, f, false);
	if (err < 0 || !f)
		return err;
	cJSON_ArrayForEach(it, f) {
		if (!cJSON_IsString(it)) {
			PATHF(p, "%s[%d]", path, i);
			return verr(v, p, it, "must be a string");
		}
		i++;
	}
	return 0;
}

/* ---- name syntax ---- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static bool label_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool dns1123_label(const char *s)
{
	size_t n = strlen(s);

	return n <= 63 && label_ok(s, n);
}

static bool dns1035_label(const char *s)
{
	return dns1123_label(s) && s[0] >= 'a' && s[0] <= 'z';
}

static bool dns1123_subdomain_n(const char *s, size_t n)
{
	const char *end = s + n, *dot;

	if (n == 0 || n > 253)
		return false;
	for (;;) {
		dot = memchr(s, '.', (size_t)(end - s));
		if (!label_ok(s, dot ? (size_t)(dot - s) : (size_t)(end - s)))
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

static bool dns1123_subdomain(const char *s)
{
	return dns1123_subdomain_n(s, strlen(s));
}

/* IANA_SVC_NAME: 1-15 of [a-z0-9-], a letter somewhere, no leading, trailing or double '-'. */
static bool iana_svc_name(const char *s)
{
	size_t i, n = strlen(s);
	bool letter = false;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63; empty allowed when allow_empty. */
static bool label_value_ok(const char *s, size_t n, bool allow_empty)
{
	size_t i;

	if (n == 0)
		return allow_empty;
	if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

#define QNAME_RULE                                                                          \
	"must be a qualified name: an optional DNS-1123 subdomain prefix and '/', then at most " \
	"63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
#define LVALUE_RULE                                                                         \
	"must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"

static bool qualified_name(const char *s)
{
	const char *slash = strchr(s, '/');

	if (!slash)
		return label_value_ok(s, strlen(s), false);
	if (!dns1123_subdomain_n(s, (size_t)(slash - s)))
		return false;
	return label_value_ok(slash + 1, strlen(slash + 1), false);
}

/* A label map: qualified-name keys, label-value values. */
static int check_labels(struct vctx *v, const char *path, const cJSON *f)
{
	char p[PATH_MAX_LEN];
	const cJSON *it;
	cJSON *key;
	int err;

	err = check_object(v, path, f, false);
	if (err < 0 || !f)
		return err;
	cJSON_ArrayForEach(it, f) {
		PATHF(p, "%s[%s]", path, it->string);
		if (!qualified_name(it->string)) {
			key = cJSON_CreateString(it->string);
			if (!key)
				return nomem(v);
			err = verr(v, path, key, "invalid key: " QNAME_RULE);
			cJSON_Delete(key);
			return err;
		}
		if (!cJSON_IsString(it))
			return verr(v, p, it, "must be a string");
		if (!label_value_ok(it->valuestring, strlen(it->valuestring), true))
			return verr(v, p, it, "invalid value: " LVALUE_RULE);
	}
	return 0;
}

/* ---- addresses ---- */

static int ip_family(const char *s)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, s, buf) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, buf) == 1)
		return AF_INET6;
	return 0;
}

struct cidr {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

static bool cidr_parse(const char *s, struct cidr *ret)
{
	char host[64];
	const char *slash = strchr(s, '/');
	struct cidr c = {};
	size_t n;
	unsigned long prefix;
	char *end;

	if (!slash || slash == s || (size_t)(slash - s) >= sizeof(host))
		return false;
	n = (size_t)(slash - s);
	memcpy(host, s, n);
	host[n] = '\0';
	if (!(slash[1] >= '0' && slash[1] <= '9') || strlen(slash + 1) > 3)
		return false;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end)
		return false;
	if (inet_pton(AF_INET, host, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, host, c.addr) == 1)
		c.family = AF_INET6;
	else
		return false;
	if (prefix > (c.family == AF_INET ? 32u : 128u))
		return false;
	c.prefix = (unsigned)prefix;
	*ret = c;
	return true;
}

/* Whether inner lies strictly inside outer. */
static bool cidr_strictly_inside(const struct cidr *outer, const struct cidr *inner)
{
	unsigned i, full = outer->prefix / 8, rem = outer->prefix % 8;
	unsigned char mask;

	if (outer->family != inner->family || inner->prefix <= outer->prefix)
		return false;
	for (i = 0; i < full; i++)
		if (outer->addr[i] != inner->addr[i])
			return false;
	if (rem) {
		mask = (unsigned char)(0xff << (8 - rem));
		if ((outer->addr[full] & mask) != (inner->addr[full] & mask))
			return false;
	}
	return true;
}

/* ---- shared pieces ---- */

static int check_protocol(struct vctx *v, const char *path, cJSON *port)
{
	char p[PATH_MAX_LEN];
	const cJSON *f = field(port, "protocol");

	PATHF(p, "%s.protocol", path);
	if (!f)
		return set_string(port, "protocol", "TCP") < 0 ? nomem(v) : 0;
	if (!cJSON_IsString(f) || (strcmp(f->valuestring, "TCP") && strcmp(f->valuestring, "UDP") &&
				   strcmp(f->valuestring, "SCTP")))
		return verr(v, p, f, "must be one of TCP, UDP, SCTP");
	return 0;
}

/* A port by number (1-65535; *ret gets it) or by name (an IANA service name). */
static int check_port_or_name(struct vctx *v, const char *path, const cJSON *f, bool req,
			      long *ret)
{
	if (cJSON_IsString(f)) {
		if (!iana_svc_name(f->valuestring))
			return verr(v, path, f,
				    "must be a port number or an IANA service name (at most 15 "
				    "lower-case alphanumerics or '-', with a letter)");
		return 0;
	}
	return check_int(v, path, f, req, 1, 65535, ret);
}

static int check_label_selector(struct vctx *v, const char *path, const cJSON *sel, bool req)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	const cJSON *exprs, *e, *op, *vals;
	const char *key;
	bool want_values;
	int err, i = 0;

	err = check_object(v, path, sel, req);
	if (err < 0 || !sel)
		return err;
	PATHF(p, "%s.matchLabels", path);
	err = check_labels(v, p, field(sel, "matchLabels"));
	if (err < 0)
		return err;
	exprs = field(sel, "matchExpressions");
	PATHF(p, "%s.matchExpressions", path);
	err = check_array(v, p, exprs, false);
	if (err < 0 || !exprs)
		return err;
	cJSON_ArrayForEach(e, exprs) {
		PATHF(p, "%s.matchExpressions[%d]", path, i++);
		err = check_object(v, p, e, true);
		if (err < 0)
			return err;
		PATHF(q, "%s.key", p);
		key = NULL;
		err = check_string(v, q, field(e, "key"), true, &key);
		if (err < 0)
			return err;
		if (!qualified_name(key))
			return verr(v, q, field(e, "key"), QNAME_RULE);
		op = field(e, "operator");
		PATHF(q, "%s.operator", p);
		if (!op)
			return verr(v, q, NULL, "required");
		if (!cJSON_IsString(op) ||
		    (strcmp(op->valuestring, "In") && strcmp(op->valuestring, "NotIn") &&
		     strcmp(op->valuestring, "Exists") && strcmp(op->valuestring, "DoesNotExist")))
			return verr(v, q, op, "must be one of In, NotIn, Exists, DoesNotExist");
		want_values = !strcmp(op->valuestring, "In") || !strcmp(op->valuestring, "NotIn");
		vals = field(e, "values");
		PATHF(q, "%s.values", p);
		err = check_string_array(v, q, vals);
		if (err < 0)
			return err;
		if (want_values && cJSON_GetArraySize(vals) == 0)
			return verr(v, q, NULL, "must be non-empty when operator is %s",
				    op->valuestring);
		if (!want_values && cJSON_GetArraySize(vals) > 0)
			return verr(v, q, vals, "must be empty when operator is %s",
				    op->valuestring);
		if (vals) {
			const cJSON *val;
			int j = 0;

			cJSON_ArrayForEach(val, vals) {
				if (!label_value_ok(val->valuestring, strlen(val->valuestring),
						    true)) {
					PATHF(q, "%s.values[%d]", p, j);
					return verr(v, q, val, LVALUE_RULE);
				}
				j++;
			}
		}
	}
	return 0;
}

/* ---- Namespace ---- */

static int validate_namespace(struct vctx *v, cJSON *obj)
{
	(void)v;
	(void)obj;
	return 0;
}

/* ---- Pod ---- */

static int validate_container_ports(struct vctx *v, const char *path, cJSON *ports)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	const cJSON *name, *prev;
	cJSON *port;
	int err, i = 0, j;

	err = check_array(v, path, ports, false);
	if (err < 0 || !ports)
		return err;
	cJSON_ArrayForEach(port, ports) {
		PATHF(p, "%s[%d]", path, i);
		err = check_object(v, p, port, true);
		if (err < 0)
			return err;
		name = field(port, "name");
		PATHF(q, "%s.name", p);
		err = check_string(v, q, name, false, NULL);
		if (err < 0)
			return err;
		if (name && !iana_svc_name(name->valuestring))
			return verr(v, q, name,
				    "must be an IANA service name (at most 15 lower-case "
				    "alphanumerics or '-', with a letter, no leading, trailing or "
				    "double '-')");
		for (j = 0; name && j < i; j++) {
			prev = field(cJSON_GetArrayItem(ports, j), "name");
			if (cJSON_IsString(prev) && !strcmp(prev->valuestring, name->valuestring))
				return verr(v, q, name, "duplicate port name");
		}
		PATHF(q, "%s.containerPort", p);
		err = check_int(v, q, field(port, "containerPort"), true, 1, 65535, NULL);
		if (err < 0)
			return err;
		PATHF(q, "%s.hostPort", p);
		err = check_int(v, q, field(port, "hostPort"), false, 0, 65535, NULL);
		if (err < 0)
			return err;
		err = check_protocol(v, p, port);
		if (err < 0)
			return err;
		i++;
	}
	return 0;
}

static int validate_pod(struct vctx *v, cJSON *obj)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	cJSON *spec = field(obj, "spec"), *ctrs, *c;
	const cJSON *name, *prev;
	int err, i = 0, j;

	err = check_object(v, "spec", spec, true);
	if (err < 0)
		return err;
	err = check_bool(v, "spec.hostNetwork", field(spec, "hostNetwork"));
	if (err < 0)
		return err;
	err = check_string(v, "spec.nodeName", field(spec, "nodeName"), false, NULL);
	if (err < 0)
		return err;
	ctrs = field(spec, "containers");
	err = check_array(v, "spec.containers", ctrs, true);
	if (err < 0)
		return err;
	if (cJSON_GetArraySize(ctrs) == 0)
		return verr(v, "spec.containers", NULL, "must have at least one container");
	cJSON_ArrayForEach(c, ctrs) {
		PATHF(p, "spec.containers[%d]", i);
		err = check_object(v, p, c, true);
		if (err < 0)
			return err;
		PATHF(q, "%s.name", p);
		name = field(c, "name");
		err = check_string(v, q, name, true, NULL);
		if (err < 0)
			return err;
		if (!dns1123_label(name->valuestring))
			return verr(v, q, name,
				    "must be a DNS-1123 label (at most 63 lower-case alphanumerics "
				    "or '-', starting and ending alphanumeric)");
		for (j = 0; j < i; j++) {
			prev = field(cJSON_GetArrayItem(ctrs, j), "name");
			if (!strcmp(prev->valuestring, name->valuestring))
				return verr(v, q, name, "duplicate container name");
		}
		PATHF(q, "%s.command", p);
		err = check_string_array(v, q, field(c, "command"));
		if (err < 0)
			return err;
		PATHF(q, "%s.args", p);
		err = check_string_array(v, q, field(c, "args"));
		if (err < 0)
			return err;
		PATHF(q, "%s.ports", p);
		err = validate_container_ports(v, q, field(c, "ports"));
		if (err < 0)
			return err;
		i++;
	}
	return 0;
}

/* ---- Service ---- */

static int validate_cluster_ips(struct vctx *v, cJSON *spec, bool *ret_headless)
{
	char p[PATH_MAX_LEN];
	const cJSON *ip = field(spec, "clusterIP"), *ips = field(spec, "clusterIPs"), *it;
	int fam[2] = {}, n = 0, err;
	cJSON *arr;

	err = check_string(v, "spec.clusterIP", ip, false, NULL);
	if (err < 0)
		return err;
	if (ip && *ip->valuestring && strcmp(ip->valuestring, "None") &&
	    !ip_family(ip->valuestring))
		return verr(v, "spec.clusterIP", ip, "must be a valid IP address or \"None\"");
	err = check_string_array(v, "spec.clusterIPs", ips);
	if (err < 0)
		return err;
	cJSON_ArrayForEach(it, ips) {
		PATHF(p, "spec.clusterIPs[%d]", n);
		if (n >= 2)
			return verr(v, "spec.clusterIPs", ips, "may hold at most two addresses");
		if (!strcmp(it->valuestring, "None")) {
			if (cJSON_GetArraySize(ips) != 1)
				return verr(v, p, it, "\"None\" must be the only entry");
			n++;
			continue;
		}
		fam[n] = ip_family(it->valuestring);
		if (!fam[n])
			return verr(v, p, it, "must be a valid IP address or \"None\"");
		if (n == 1 && fam[0] == fam[1])
			return verr(v, p, it, "must be of a different IP family than clusterIPs[0]");
		n++;
	}
	if (ip && *ip->valuestring && n > 0 &&
	    strcmp(ip->valuestring, cJSON_GetArrayItem(ips, 0)->valuestring))
		return verr(v, "spec.clusterIPs[0]", cJSON_GetArrayItem(ips, 0),
			    "must match spec.clusterIP %s", ip->valuestring);
	/* Keep the two in step, as the API server does. */
	if (ip && *ip->valuestring && n == 0) {
		arr = cJSON_CreateArray();
		if (!arr || !cJSON_AddItemToArray(arr, cJSON_CreateString(ip->valuestring))) {
			cJSON_Delete(arr);
			return nomem(v);
		}
		if (set_item(spec, "clusterIPs", arr) < 0) /* frees arr on failure */
			return nomem(v);
	} else if ((!ip || !*ip->valuestring) && n > 0) {
		if (set_string(spec, "clusterIP", cJSON_GetArrayItem(ips, 0)->valuestring) < 0)
			return nomem(v);
	}
	ip = field(spec, "clusterIP");
	*ret_headless = ip && !strcmp(ip->valuestring, "None");
	return 0;
}

static int validate_service_port(struct vctx *v, const char *p, cJSON *port, const char *type,
				 int n_ports)
{
	char q[PATH_MAX_LEN];
	const cJSON *name = field(port, "name"), *tp, *np;
	long portnum = 0, nodeport = 0;
	int err;

	err = check_object(v, p, port, true);
	if (err < 0)
		return err;
	PATHF(q, "%s.name", p);
	err = check_string(v, q, name, false, NULL);
	if (err < 0)
		return err;
	if (name && *name->valuestring && !dns1123_label(name->valuestring))
		return verr(v, q, name,
			    "must be a DNS-1123 label (at most 63 lower-case alphanumerics or "
			    "'-', starting and ending alphanumeric)");
	if (n_ports > 1 && (!name || !*name->valuestring))
		return verr(v, q, NULL, "required when the service has more than one port");
	PATHF(q, "%s.port", p);
	err = check_int(v, q, field(port, "port"), true, 1, 65535, &portnum);
	if (err < 0)
		return err;
	err = check_protocol(v, p, port);
	if (err < 0)
		return err;

	tp = field(port, "targetPort");
	PATHF(q, "%s.targetPort", p);
	if (!tp || (cJSON_IsNumber(tp) && tp->valuedouble == 0) ||
	    (cJSON_IsString(tp) && !*tp->valuestring)) {
		if (set_number(port, "targetPort", (double)portnum) < 0)
			return nomem(v);
	} else {
		err = check_port_or_name(v, q, tp, true, NULL);
		if (err < 0)
			return err;
	}

	np = field(port, "nodePort");
	PATHF(q, "%s.nodePort", p);
	err = check_int(v, q, np, false, 0, 65535, &nodeport);
	if (err < 0)
		return err;
	if (nodeport != 0 && !strcmp(type, "ClusterIP"))
		return verr(v, q, np, "may not be used when type is ClusterIP");
	if (nodeport != 0 && (nodeport < SVC_NODEPORT_MIN || nodeport > SVC_NODEPORT_MAX))
		return verr(v, q, np, "must be between %d and %d", SVC_NODEPORT_MIN,
			    SVC_NODEPORT_MAX);
	return 0;
}

static int validate_service_ports(struct vctx *v, cJSON *spec, const char *type, bool headless)
{
	char p[PATH_MAX_LEN];
	cJSON *ports = field(spec, "ports"), *port;
	const cJSON *a, *b;
	int err, i = 0, j, n;

	err = check_array(v, "spec.ports", ports, false);
	if (err < 0)
		return err;
	n = cJSON_GetArraySize(ports);
	if (n == 0 && !headless)
		return verr(v, "spec.ports", NULL, "required (at least one port)");
	cJSON_ArrayForEach(port, ports) {
		PATHF(p, "spec.ports[%d]", i);
		err = validate_service_port(v, p, port, type, n);
		if (err < 0)
			return err;
		for (j = 0; j < i; j++) {
			const cJSON *prev = cJSON_GetArrayItem(ports, j);

			a = field(prev, "name");
			b = field(port, "name");
			if (a && b && *b->valuestring && !strcmp(a->valuestring, b->valuestring)) {
				PATHF(p, "spec.ports[%d].name", i);
				return verr(v, p, b, "duplicate port name");
			}
			if (field(prev, "port")->valuedouble == field(port, "port")->valuedouble &&
			    !strcmp(field(prev, "protocol")->valuestring,
				    field(port, "protocol")->valuestring)) {
				PATHF(p, "spec.ports[%d].port", i);
				return verr(v, p, field(port, "port"),
					    "duplicate of spec.ports[%d] (same port and protocol)",
					    j);
			}
		}
		i++;
	}
	return 0;
}

static int validate_session_affinity(struct vctx *v, cJSON *spec)
{
	const cJSON *sa = field(spec, "sessionAffinity");
	cJSON *cfg = field(spec, "sessionAffinityConfig"), *cip;
	const cJSON *to;
	int err;

	if (!sa) {
		if (set_string(spec, "sessionAffinity", "None") < 0)
			return nomem(v);
		sa = field(spec, "sessionAffinity");
	}
	if (!cJSON_IsString(sa) ||
	    (strcmp(sa->valuestring, "None") && strcmp(sa->valuestring, "ClientIP")))
		return verr(v, "spec.sessionAffinity", sa, "must be one of None, ClientIP");
	if (!strcmp(sa->valuestring, "None")) {
		if (cfg)
			return verr(v, "spec.sessionAffinityConfig", cfg,
				    "must not be set when sessionAffinity is None");
		return 0;
	}
	if (!cfg) {
		cfg = cJSON_CreateObject();
		if (set_item(spec, "sessionAffinityConfig", cfg) < 0)
			return nomem(v);
	}
	err = check_object(v, "spec.sessionAffinityConfig", cfg, true);
	if (err < 0)
		return err;
	cip = field(cfg, "clientIP");
	if (!cip) {
		cip = cJSON_CreateObject();
		if (set_item(cfg, "clientIP", cip) < 0)
			return nomem(v);
	}
	err = check_object(v, "spec.sessionAffinityConfig.clientIP", cip, true);
	if (err < 0)
		return err;
	to = field(cip, "timeoutSeconds");
	if (!to)
		return set_number(cip, "timeoutSeconds", SVC_AFFINITY_TIMEOUT_DEF) < 0 ? nomem(v) : 0;
	return check_int(v, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", to, true, 1,
			 SVC_AFFINITY_TIMEOUT_MAX, NULL);
}

static int validate_service(struct vctx *v, cJSON *obj)
{
	char p[PATH_MAX_LEN];
	cJSON *spec = field(obj, "spec");
	const cJSON *type, *ext, *it;
	bool headless = false;
	int err, i = 0;

	err = check_object(v, "spec", spec, false);
	if (err < 0)
		return err;
	if (!spec) {
		spec = cJSON_CreateObject();
		if (set_item(obj, "spec", spec) < 0)
			return nomem(v);
	}
	type = field(spec, "type");
	if (!type) {
		if (set_string(spec, "type", "ClusterIP") < 0)
			return nomem(v);
		type = field(spec, "type");
	}
	if (!cJSON_IsString(type) ||
	    (strcmp(type->valuestring, "ClusterIP") && strcmp(type->valuestring, "NodePort") &&
	     strcmp(type->valuestring, "LoadBalancer")))
		return verr(v, "spec.type", type, "must be one of ClusterIP, NodePort, LoadBalancer");
	err = validate_cluster_ips(v, spec, &headless);
	if (err < 0)
		return err;
	if (headless && strcmp(type->valuestring, "ClusterIP"))
		return verr(v, "spec.clusterIP", field(spec, "clusterIP"),
			    "may not be \"None\" when type is %s", type->valuestring);
	err = validate_service_ports(v, spec, type->valuestring, headless);
	if (err < 0)
		return err;
	err = check_labels(v, "spec.selector", field(spec, "selector"));
	if (err < 0)
		return err;
	err = validate_session_affinity(v, spec);
	if (err < 0)
		return err;
	ext = field(spec, "externalIPs");
	err = check_string_array(v, "spec.externalIPs", ext);
	if (err < 0)
		return err;
	cJSON_ArrayForEach(it, ext) {
		PATHF(p, "spec.externalIPs[%d]", i++);
		if (!ip_family(it->valuestring))
			return verr(v, p, it, "must be a valid IP address");
	}
	return 0;
}

/* ---- EndpointSlice ---- */

/*
 * One of an EndpointSlice's endpoints. An apply of 10,000 Services carries 100,000 of them, so
 * field paths are formatted only for an error (each check here fails on the value alone).
 */
static int validate_endpoint(struct vctx *v, const char *p, const cJSON *ep, const char *atype)
{
	static const char *const conds[] = { "ready", "serving", "terminating" };
	static const char *const refs[] = { "kind", "namespace", "name" };
	bool fqdn = !strcmp(atype, "FQDN");
	int want = strcmp(atype, "IPv4") ? AF_INET6 : AF_INET;
	const cJSON *addrs, *a, *cond, *ref, *f;
	char q[PATH_MAX_LEN];
	int err, j = 0, n;
	size_t i;

	err = check_object(v, p, ep, true);
	if (err < 0)
		return err;
	addrs = field(ep, "addresses");
	n = cJSON_GetArraySize(addrs);
	if (!cJSON_IsArray(addrs) || n < 1 || n > ES_MAX_ADDRESSES) {
		PATHF(q, "%s.addresses", p);
		err = check_string_array(v, q, addrs);
		if (err < 0)
			return err;
		if (n < 1)
			return verr(v, q, NULL, "required (at least one address)");
		return verr(v, q, NULL, "may hold at most %d addresses", ES_MAX_ADDRESSES);
	}
	cJSON_ArrayForEach(a, addrs) {
		if (!cJSON_IsString(a) ||
		    (fqdn ? !dns1123_subdomain(a->valuestring) : ip_family(a->valuestring) != want)) {
			PATHF(q, "%s.addresses[%d]", p, j);
			if (!cJSON_IsString(a))
				return verr(v, q, a, "must be a string");
			if (fqdn)
				return verr(v, q, a, "must be a DNS-1123 subdomain (FQDN)");
			return verr(v, q, a, "must be a valid %s address", atype);
		}
		j++;
	}
	cond = field(ep, "conditions");
	if (cond && !cJSON_IsObject(cond)) {
		PATHF(q, "%s.conditions", p);
		return check_object(v, q, cond, false);
	}
	for (i = 0; cond && i < sizeof(conds) / sizeof(conds[0]); i++) {
		f = field(cond, conds[i]);
		if (f && !cJSON_IsBool(f)) {
			PATHF(q, "%s.conditions.%s", p, conds[i]);
			return check_bool(v, q, f);
		}
	}
	ref = field(ep, "targetRef");
	if (ref && !cJSON_IsObject(ref)) {
		PATHF(q, "%s.targetRef", p);
		return check_object(v, q, ref, false);
	}
	for (i = 0; ref && i < sizeof(refs) / sizeof(refs[0]); i++) {
		f = field(ref, refs[i]);
		if (f && !cJSON_IsString(f)) {
			PATHF(q, "%s.targetRef.%s", p, refs[i]);
			return check_string(v, q, f, false, NULL);
		}
	}
	f = field(ep, "nodeName");
	if (f && !cJSON_IsString(f)) {
		PATHF(q, "%s.nodeName", p);
		return check_string(v, q, f, false, NULL);
	}
	return 0;
}

static int validate_endpointslice(struct vctx *v, cJSON *obj)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	const cJSON *atype = field(obj, "addressType"), *eps, *ep, *name, *prev;
	cJSON *ports, *port;
	int err, i = 0, j;

	if (!atype)
		return verr(v, "addressType", NULL, "required");
	if (!cJSON_IsString(atype) ||
	    (strcmp(atype->valuestring, "IPv4") && strcmp(atype->valuestring, "IPv6") &&
	     strcmp(atype->valuestring, "FQDN")))
		return verr(v, "addressType", atype, "must be one of IPv4, IPv6, FQDN");
	eps = field(obj, "endpoints");
	err = check_array(v, "endpoints", eps, false);
	if (err < 0)
		return err;
	if (cJSON_GetArraySize(eps) > ES_MAX_ENDPOINTS)
		return verr(v, "endpoints", NULL, "may hold at most %d endpoints",
			    ES_MAX_ENDPOINTS);
	cJSON_ArrayForEach(ep, eps) {
		PATHF(p, "endpoints[%d]", i++);
		err = validate_endpoint(v, p, ep, atype->valuestring);
		if (err < 0)
			return err;
	}
	ports = field(obj, "ports");
	err = check_array(v, "ports", ports, false);
	if (err < 0)
		return err;
	if (cJSON_GetArraySize(ports) > ES_MAX_PORTS)
		return verr(v, "ports", NULL, "may hold at most %d ports", ES_MAX_PORTS);
	i = 0;
	cJSON_ArrayForEach(port, ports) {
		PATHF(p, "ports[%d]", i);
		err = check_object(v, p, port, true);
		if (err < 0)
			return err;
		name = field(port, "name");
		PATHF(q, "%s.name", p);
		err = check_string(v, q, name, false, NULL);
		if (err < 0)
			return err;
		if (name && *name->valuestring && !dns1123_label(name->valuestring))
			return verr(v, q, name,
				    "must be empty or a DNS-1123 label (at most 63 lower-case "
				    "alphanumerics or '-', starting and ending alphanumeric)");
		for (j = 0; j < i; j++) {
			prev = field(cJSON_GetArrayItem(ports, j), "name");
			if (!strcmp(prev ? prev->valuestring : "", name ? name->valuestring : ""))
				return verr(v, q, name ? name : prev, "duplicate port name");
		}
		PATHF(q, "%s.port", p);
		err = check_int(v, q, field(port, "port"), false, 1, 65535, NULL);
		if (err < 0)
			return err;
		err = check_protocol(v, p, port);
		if (err < 0)
			return err;
		i++;
	}
	return 0;
}

/* ---- NetworkPolicy ---- */

static int validate_ip_block(struct vctx *v, const char *p, const cJSON *blk)
{
	char q[PATH_MAX_LEN], r[PATH_MAX_LEN];
	const cJSON *cidr = field(blk, "cidr"), *exc, *e;
	struct cidr outer, inner;
	int err, i = 0;

	err = check_object(v, p, blk, true);
	if (err < 0)
		return err;
	PATHF(q, "%s.cidr", p);
	err = check_string(v, q, cidr, true, NULL);
	if (err < 0)
		return err;
	if (!cidr_parse(cidr->valuestring, &outer))
		return verr(v, q, cidr, "must be a valid IPv4 or IPv6 CIDR");
	exc = field(blk, "except");
	PATHF(q, "%s.except", p);
	err = check_string_array(v, q, exc);
	if (err < 0)
		return err;
	cJSON_ArrayForEach(e, exc) {
		PATHF(r, "%s[%d]", q, i++);
		if (!cidr_parse(e->valuestring, &inner))
			return verr(v, r, e, "must be a valid IPv4 or IPv6 CIDR");
		if (!cidr_strictly_inside(&outer, &inner))
			return verr(v, r, e, "must be a strict subset of cidr %s",
				    cidr->valuestring);
	}
	return 0;
}

static int validate_peer(struct vctx *v, const char *p, const cJSON *peer)
{
	char q[PATH_MAX_LEN];
	const cJSON *ps = field(peer, "podSelector"), *nss = field(peer, "namespaceSelector");
	const cJSON *blk = field(peer, "ipBlock");
	int err;

	err = check_object(v, p, peer, true);
	if (err < 0)
		return err;
	if (!ps && !nss && !blk)
		return verr(v, p, peer,
			    "must specify podSelector, namespaceSelector or ipBlock");
	if (blk && (ps || nss))
		return verr(v, p, peer,
			    "ipBlock may not be combined with podSelector or namespaceSelector");
	if (blk) {
		PATHF(q, "%s.ipBlock", p);
		return validate_ip_block(v, q, blk);
	}
	PATHF(q, "%s.podSelector", p);
	err = check_label_selector(v, q, ps, false);
	if (err < 0)
		return err;
	PATHF(q, "%s.namespaceSelector", p);
	return check_label_selector(v, q, nss, false);
}

static int validate_policy_port(struct vctx *v, const char *p, cJSON *port)
{
	char q[PATH_MAX_LEN];
	const cJSON *pn, *ep;
	long pnum = 0;
	int err;

	err = check_object(v, p, port, true);
	if (err < 0)
		return err;
	err = check_protocol(v, p, port);
	if (err < 0)
		return err;
	pn = field(port, "port");
	ep = field(port, "endPort");
	PATHF(q, "%s.port", p);
	err = check_port_or_name(v, q, pn, false, &pnum);
	if (err < 0)
		return err;
	if (!ep)
		return 0;
	PATHF(q, "%s.endPort", p);
	if (!pn || cJSON_IsString(pn))
		return verr(v, q, ep, "may only be used with a numeric port");
	err = check_int(v, q, ep, true, 1, 65535, NULL);
	if (err < 0)
		return err;
	if (ep->valuedouble < (double)pnum)
		return verr(v, q, ep, "must be greater than or equal to port %ld", pnum);
	return 0;
}

static int validate_policy_rules(struct vctx *v, const char *dir, const char *peers_key,
				 cJSON *rules)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN], r[PATH_MAX_LEN];
	cJSON *rule, *ports, *port;
	const cJSON *peers, *peer;
	int err, i = 0, j;

	err = check_array(v, dir, rules, false);
	if (err < 0 || !rules)
		return err;
	cJSON_ArrayForEach(rule, rules) {
		PATHF(p, "%s[%d]", dir, i++);
		err = check_object(v, p, rule, true);
		if (err < 0)
			return err;
		peers = field(rule, peers_key);
		PATHF(q, "%s.%s", p, peers_key);
		err = check_array(v, q, peers, false);
		if (err < 0)
			return err;
		j = 0;
		cJSON_ArrayForEach(peer, peers) {
			PATHF(r, "%s[%d]", q, j++);
			err = validate_peer(v, r, peer);
			if (err < 0)
				return err;
		}
		ports = field(rule, "ports");
		PATHF(q, "%s.ports", p);
		err = check_array(v, q, ports, false);
		if (err < 0)
			return err;
		j = 0;
		cJSON_ArrayForEach(port, ports) {
			PATHF(r, "%s[%d]", q, j++);
			err = validate_policy_port(v, r, port);
			if (err < 0)
				return err;
		}
	}
	return 0;
}

static int validate_networkpolicy(struct vctx *v, cJSON *obj)
{
	char p[PATH_MAX_LEN];
	cJSON *spec = field(obj, "spec"), *types, *egress;
	const cJSON *t;
	bool seen_in = false, seen_eg = false;
	int err, i = 0;

	err = check_object(v, "spec", spec, true);
	if (err < 0)
		return err;
	err = check_label_selector(v, "spec.podSelector", field(spec, "podSelector"), true);
	if (err < 0)
		return err;
	err = validate_policy_rules(v, "spec.ingress", "from", field(spec, "ingress"));
	if (err < 0)
		return err;
	egress = field(spec, "egress");
	err = validate_policy_rules(v, "spec.egress", "to", egress);
	if (err < 0)
		return err;
	types = field(spec, "policyTypes");
	err = check_string_array(v, "spec.policyTypes", types);
	if (err < 0)
		return err;
	cJSON_ArrayForEach(t, types) {
		bool *seen = !strcmp(t->valuestring, "Ingress") ? &seen_in :
			     !strcmp(t->valuestring, "Egress")	? &seen_eg :
								  NULL;

		PATHF(p, "spec.policyTypes[%d]", i++);
		if (!seen)
			return verr(v, p, t, "must be one of Ingress, Egress");
		if (*seen)
			return verr(v, p, t, "duplicate policy type");
		*seen = true;
	}
	if (cJSON_GetArraySize(types) == 0) {
		types = cJSON_CreateArray();
		if (!types || !cJSON_AddItemToArray(types, cJSON_CreateString("Ingress")) ||
		    (cJSON_GetArraySize(egress) > 0 &&
		     !cJSON_AddItemToArray(types, cJSON_CreateString("Egress")))) {
			cJSON_Delete(types);
			return nomem(v);
		}
		if (set_item(spec, "policyTypes", types) < 0)
			return nomem(v);
	}
	return 0;
}

/* ---- HTTPPolicy (sluice.dev/v1alpha1) ---- */

/*
 * Why a rule path could never match, or NULL: the datapath denies requests whose path has
 * empty, "." or ".." segments, escapes of '.', '/' or '\\', or a backslash, as ambiguous.
 */
static const char *http_path_problem(const char *s)
{
	size_t n = strlen(s), i, seg = 1, dots = 0;
	bool other = false;

	if (s[0] != '/')
		return "must start with '/'";
	if (n > HTTPPOL_PATH_MAX)
		return "must be at most 127 bytes";
	for (i = 1; i <= n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c == ';' || c == '\0') {
			if ((!other && (dots == 1 || dots == 2)) || (c == '/' && i == seg))
				return "can never match: requests with empty, '.' or '..' segments are "
				       "denied as ambiguous";
			seg = i + 1;
			dots = 0;
			other = false;
			continue;
		}
		if (c <= ' ' || c >= 0x7f || c == '?' || c == '#')
			return "must be printable ASCII without spaces, '?' or '#' (the query is not "
			       "matched)";
		if (c == '\\')
			return "can never match: requests with a backslash are denied as ambiguous";
		if (c == '%' && i + 2 <= n &&
		    ((s[i + 1] == '2' && strchr("eEfF", s[i + 2])) ||
		     (s[i + 1] == '5' && strchr("cC", s[i + 2]))))
			return "can never match: requests with %2e, %2f or %5c are denied as "
			       "ambiguous";
		if (c == '.')
			dots++;
		else
			other = true;
	}
	return NULL;
}

static bool http_host_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n > HTTPPOL_HOST_MAX)
		return false;
	if (s[0] == '[') /* an IPv6 literal */
		return s[n - 1] == ']' && n > 2 && strspn(s + 1, "0123456789abcdefABCDEF:.") == n - 2;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static int validate_http_rule(struct vctx *v, const char *p, const cJSON *rule)
{
	char q[PATH_MAX_LEN], r[PATH_MAX_LEN];
	const cJSON *methods = field(rule, "methods"), *path = field(rule, "path"), *m, *x;
	const cJSON *host = field(rule, "host"), *exact, *prefix;
	unsigned seen = 0;
	const char *why;
	int err, i = 0, k;

	err = check_object(v, p, rule, true);
	if (err < 0)
		return err;
	PATHF(q, "%s.methods", p);
	err = check_string_array(v, q, methods);
	if (err < 0)
		return err;
	cJSON_ArrayForEach(m, methods) {
		PATHF(r, "%s[%d]", q, i++);
		for (k = 0; k < 9 && strcmp(m->valuestring, httppol_methods[k]); k++)
			;
		if (k == 9)
			return verr(v, r, m,
				    "must be one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, "
				    "TRACE, PATCH");
		if (seen & (1u << k))
			return verr(v, r, m, "duplicate method");
		seen |= 1u << k;
	}
	PATHF(q, "%s.path", p);
	err = check_object(v, q, path, false);
	if (err < 0)
		return err;
	if (path) {
		exact = field(path, "exact");
		prefix = field(path, "prefix");
		if (!!exact == !!prefix)
			return verr(v, q, path, "must have exactly one of exact, prefix");
		x = exact ? exact : prefix;
		PATHF(r, "%s.%s", q, exact ? "exact" : "prefix");
		err = check_string(v, r, x, true, NULL);
		if (err < 0)
			return err;
		why = http_path_problem(x->valuestring);
		if (why)
			return verr(v, r, x, "%s", why);
	}
	PATHF(q, "%s.upgrade", p);
	err = check_bool(v, q, field(rule, "upgrade"));
	if (err < 0)
		return err;
	PATHF(q, "%s.host", p);
	err = check_string(v, q, host, false, NULL);
	if (err < 0)
		return err;
	if (host && !http_host_ok(host->valuestring))
		return verr(v, q, host,
			    "must be a host name or an IP address (at most 64 bytes, without a "
			    "port)");
	return 0;
}

static int validate_httppolicy(struct vctx *v, cJSON *obj)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	cJSON *spec = field(obj, "spec"), *ports, *port, *rules;
	const cJSON *pn, *rule, *proto;
	int err, i = 0;

	err = check_object(v, "spec", spec, true);
	if (err < 0)
		return err;
	err = check_label_selector(v, "spec.podSelector", field(spec, "podSelector"), true);
	if (err < 0)
		return err;
	ports = field(spec, "ports");
	err = check_array(v, "spec.ports", ports, true);
	if (err < 0)
		return err;
	if (!cJSON_GetArraySize(ports))
		return verr(v, "spec.ports", NULL, "must list at least one port");
	cJSON_ArrayForEach(port, ports) {
		PATHF(p, "spec.ports[%d]", i++);
		err = check_object(v, p, port, true);
		if (err < 0)
			return err;
		proto = field(port, "protocol");
		PATHF(q, "%s.protocol", p);
		if (proto && (!cJSON_IsString(proto) || strcmp(proto->valuestring, "TCP")))
			return verr(v, q, proto, "must be TCP (HTTP/1.x runs over TCP)");
		pn = field(port, "port");
		PATHF(q, "%s.port", p);
		err = check_port_or_name(v, q, pn, true, NULL);
		if (err < 0)
			return err;
	}
	rules = field(spec, "rules");
	err = check_array(v, "spec.rules", rules, false);
	if (err < 0)
		return err;
	if (cJSON_GetArraySize(rules) > HTTPPOL_MAX_RULES)
		return verr(v, "spec.rules", NULL, "at most %d rules, got %d", HTTPPOL_MAX_RULES,
			    cJSON_GetArraySize(rules));
	i = 0;
	cJSON_ArrayForEach(rule, rules) {
		PATHF(p, "spec.rules[%d]", i++);
		err = validate_http_rule(v, p, rule);
		if (err < 0)
			return err;
	}
	return 0;
}

/* ---- entry point ---- */

static int validate_name(struct vctx *v, const struct kind_info *k, const cJSON *name)
{
	switch (k->name_rule) {
	case NAME_LABEL:
		if (!dns1123_label(name->valuestring))
			return verr(v, "metadata.name", name,
				    "must be a DNS-1123 label (at most 63 lower-case alphanumerics "
				    "or '-', starting and ending alphanumeric)");
		break;
	case NAME_DNS1035:
		if (!dns1035_label(name->valuestring))
			return verr(v, "metadata.name", name,
				    "must be a DNS-1035 label (at most 63 lower-case alphanumerics "
				    "or '-', starting with a letter and ending alphanumeric)");
		break;
	case NAME_SUBDOMAIN:
		if (!dns1123_subdomain(name->valuestring))
			return verr(v, "metadata.name", name,
				    "must be a DNS-1123 subdomain (at most 253 lower-case "
				    "alphanumerics, '-' or '.', starting and ending alphanumeric)");
		break;
	}
	return 0;
}

static void set_who(struct vctx *v, const char *kind, const struct kind_info *k,
		    const cJSON *name, const cJSON *ns)
{
	const char *nss = cJSON_IsString(ns) && *ns->valuestring ? ns->valuestring : "default";

	if (!cJSON_IsString(name) || !*name->valuestring)
		snprintf(v->who, sizeof(v->who), "%s (unnamed)", kind);
	else if (k && !k->namespaced)
		snprintf(v->who, sizeof(v->who), "%s %.100s", kind, name->valuestring);
	else
		snprintf(v->who, sizeof(v->who), "%s %.63s/%.80s", kind, nss, name->valuestring);
}

int obj_validate(cJSON *obj, enum obj_kind *ret_kind, char *err, size_t errlen)
{
	static int (*const per_kind[OBJ_KIND_MAX])(struct vctx *, cJSON *) = {
		[OBJ_NAMESPACE] = validate_namespace,
		[OBJ_POD] = validate_pod,
		[OBJ_SERVICE] = validate_service,
		[OBJ_ENDPOINTSLICE] = validate_endpointslice,
		[OBJ_NETWORKPOLICY] = validate_networkpolicy,
		[OBJ_HTTPPOLICY] = validate_httppolicy,
	};
	struct vctx v = { .err = err, .errlen = errlen };
	const cJSON *kind, *api, *name, *ns;
	const struct kind_info *k = NULL;
	cJSON *meta;
	int i, r;

	if (errlen)
		err[0] = '\0';
	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "object: not a mapping");
		return -EINVAL;
	}
	kind = field(obj, "kind");
	api = field(obj, "apiVersion");
	meta = field(obj, "metadata");
	name = cJSON_IsObject(meta) ? field(meta, "name") : NULL;
	ns = cJSON_IsObject(meta) ? field(meta, "namespace") : NULL;

	if (cJSON_IsString(kind))
		for (i = 0; i < OBJ_KIND_MAX; i++)
			if (!strcmp(kind->valuestring, kinds[i].name))
				k = &kinds[i];
	set_who(&v, cJSON_IsString(kind) && *kind->valuestring ? kind->valuestring : "object", k,
		name, ns);
	if (!kind)
		return verr(&v, "kind", NULL, "required");
	if (!k)
		return verr(&v, "kind", kind,
			    "unsupported kind with apiVersion %s (supported: v1 Namespace, Pod, "
			    "Service; discovery.k8s.io/v1 EndpointSlice; networking.k8s.io/v1 "
			    "NetworkPolicy)",
			    cJSON_IsString(api) ? api->valuestring : "(none)");
	if (!api)
		return verr(&v, "apiVersion", NULL, "required");
	if (!cJSON_IsString(api) || strcmp(api->valuestring, k->api_version))
		return verr(&v, "apiVersion", api, "kind %s is served as %s", k->name,
			    k->api_version);

	r = check_object(&v, "metadata", meta, true);
	if (r < 0)
		return r;
	if (!name)
		return verr(&v, "metadata.name", NULL, "required");
	if (!cJSON_IsString(name))
		return verr(&v, "metadata.name", name, "must be a string");
	if (!*name->valuestring)
		return verr(&v, "metadata.name", NULL, "required");
	r = validate_name(&v, k, name);
	if (r < 0)
		return r;
	if (!k->namespaced) {
		/* Cluster-scoped: the API server drops a namespace. */
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
	} else if (!ns || (cJSON_IsString(ns) && !*ns->valuestring)) {
		if (set_string(meta, "namespace", "default") < 0)
			return nomem(&v);
	} else if (!cJSON_IsString(ns)) {
		return verr(&v, "metadata.namespace", ns, "must be a string");
	} else if (!dns1123_label(ns->valuestring)) {
		return verr(&v, "metadata.namespace", ns,
			    "must be a DNS-1123 label (at most 63 lower-case alphanumerics or "
			    "'-', starting and ending alphanumeric)");
	}
	r = check_labels(&v, "metadata.labels", field(meta, "labels"));
	if (r < 0)
		return r;

	r = per_kind[k - kinds](&v, obj);
	if (r < 0)
		return r;
	*ret_kind = (enum obj_kind)(k - kinds);
	return 0;
}

/* ---- keys and selectors ---- */

int obj_key(const cJSON *obj, char *buf, size_t len)
{
	const cJSON *kind = field(obj, "kind"), *meta = field(obj, "metadata");
	const cJSON *name = field(meta, "name"), *ns = field(meta, "namespace");
	const char *kname, *nss;
	enum obj_kind k;
	int n;

	if (!cJSON_IsString(kind) || !cJSON_IsString(name) || !*name->valuestring)
		return -EINVAL;
	if (obj_kind_parse(kind->valuestring, &k) == 0) {
		kname = kinds[k].name;
		nss = !kinds[k].namespaced ? "" :
		      cJSON_IsString(ns) && *ns->valuestring ? ns->valuestring :
							       "default";
	} else {
		kname = kind->valuestring;
		nss = cJSON_IsString(ns) ? ns->valuestring : "";
	}
	n = snprintf(buf, len, "%s/%s/%s", kname, nss, name->valuestring);
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool label_is(const cJSON *labels, const char *key, const char **ret_val)
{
	const cJSON *l = cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, key) :
						  NULL;

	if (!cJSON_IsString(l))
		return false;
	*ret_val = l->valuestring;
	return true;
}

static bool map_matches(const cJSON *sel, const cJSON *labels)
{
	const cJSON *it;
	const char *val;

	cJSON_ArrayForEach(it, sel) {
		if (!cJSON_IsString(it) || !label_is(labels, it->string, &val) ||
		    strcmp(val, it->valuestring))
			return false;
	}
	return true;
}

bool selector_matches_map(const cJSON *selector_map, const cJSON *labels)
{
	if (!cJSON_IsObject(selector_map) || !selector_map->child)
		return false;
	return map_matches(selector_map, labels);
}

static bool value_in(const cJSON *values, const char *val)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, values)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, val))
			return true;
	return false;
}

bool selector_matches_label_selector(const cJSON *label_selector, const cJSON *labels)
{
	const cJSON *ml, *exprs, *e, *key, *op, *vals;
	const char *val;
	bool has;

	if (!cJSON_IsObject(label_selector))
		return false;
	ml = field(label_selector, "matchLabels");
	if (ml && (!cJSON_IsObject(ml) || !map_matches(ml, labels)))
		return false;
	exprs = field(label_selector, "matchExpressions");
	if (exprs && !cJSON_IsArray(exprs))
		return false;
	cJSON_ArrayForEach(e, exprs) {
		key = field(e, "key");
		op = field(e, "operator");
		vals = field(e, "values");
		if (!cJSON_IsString(key) || !cJSON_IsString(op))
			return false;
		has = label_is(labels, key->valuestring, &val);
		if (!strcmp(op->valuestring, "In")) {
			if (!has || !value_in(vals, val))
				return false;
		} else if (!strcmp(op->valuestring, "NotIn")) {
			if (has && value_in(vals, val))
				return false;
		} else if (!strcmp(op->valuestring, "Exists")) {
			if (!has)
				return false;
		} else if (!strcmp(op->valuestring, "DoesNotExist")) {
			if (has)
				return false;
		} else {
			return false;
		}
	}
	return true;
}
