// SPDX-License-Identifier: Apache-2.0
/*
 * YAML/JSON manifests to cJSON with libyaml's event parser, and cJSON back to YAML with
 * libyaml's emitter.
 *
 * Aliases: `*name` is supported for anchors defined earlier in the same document (YAML scopes
 * anchors to a document); the anchored value is copied. An alias to a collection that is still
 * open (a recursive alias) is rejected, and copies made through aliases are capped at
 * MANIFEST_ALIAS_MAX_NODES nodes in all, so "billion laughs" inputs fail with -E2BIG.
 * Merge keys (`<<: *base`) are not supported and are rejected with an error naming the line;
 * so are non-scalar mapping keys and tags outside YAML's core schema.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "manifest.h"

/* Nodes that alias expansion may add, over the whole input. */
#define MANIFEST_ALIAS_MAX_NODES (1u << 20)
/* Mappings with more keys than this get a hash set for the duplicate-key check. */
#define MAP_HASH_MIN_KEYS 32
/* Deepest value manifest_to_yaml renders. */
#define EMIT_MAX_DEPTH 256

#define TAG_STR   "tag:yaml.org,2002:str"
#define TAG_INT   "tag:yaml.org,2002:int"
#define TAG_FLOAT "tag:yaml.org,2002:float"
#define TAG_BOOL  "tag:yaml.org,2002:bool"
#define TAG_NULL  "tag:yaml.org,2002:null"
#define TAG_MAP   "tag:yaml.org,2002:map"
#define TAG_SEQ   "tag:yaml.org,2002:seq"

struct key_set {
	const cJSON **slots;
	size_t cap;
	size_t n;
};

struct frame {
	cJSON *node;
	char *anchor;	     /* anchor of this collection, registered when it closes */
	char *key;	     /* mapping: key waiting for its value */
	size_t n_keys;
	struct key_set keys; /* mapping: hash set over children, built lazily */
};

struct anchor {
	char *name;
	const cJSON *node;
	size_t nodes; /* size of the subtree */
	int depth;    /* depth of the subtree, 1 for a scalar */
};

struct pctx {
	const char *source;
	char *err;
	size_t errlen;
	int doc;
	struct frame stack[MANIFEST_MAX_DEPTH];
	int depth;
	cJSON *root;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t alias_nodes;
};

static int perr(struct pctx *c, int code, const yaml_mark_t *mark, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(struct pctx *c, int code, const yaml_mark_t *mark, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (mark)
		snprintf(c->err, c->errlen, "%s: line %zu column %zu: %s", c->source,
			 mark->line + 1, mark->column + 1, msg);
	else
		snprintf(c->err, c->errlen, "%s: document %d: %s", c->source, c->doc, msg);
	return code;
}

/* FNV-1a */
static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ull & SIZE_MAX;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ull;
	return h;
}

static int key_set_insert(struct key_set *ks, const cJSON *item)
{
	size_t i;

	if ((ks->n + 1) * 2 > ks->cap) {
		struct key_set grown = { .cap = ks->cap ? ks->cap * 2 : 128 };
		size_t j;

		grown.slots = calloc(grown.cap, sizeof(*grown.slots));
		if (!grown.slots)
			return -ENOMEM;
		for (j = 0; j < ks->cap; j++)
			if (ks->slots[j])
				(void)key_set_insert(&grown, ks->slots[j]); /* cannot grow again */
		free(ks->slots);
		*ks = grown;
	}
	for (i = str_hash(item->string) & (ks->cap - 1); ks->slots[i]; i = (i + 1) & (ks->cap - 1))
		;
	ks->slots[i] = item;
	ks->n++;
	return 0;
}

static bool key_set_has(const struct key_set *ks, const char *key)
{
	size_t i;

	for (i = str_hash(key) & (ks->cap - 1); ks->slots[i]; i = (i + 1) & (ks->cap - 1))
		if (!strcmp(ks->slots[i]->string, key))
			return true;
	return false;
}

static bool frame_has_key(const struct frame *f, const char *key)
{
	if (f->keys.cap)
		return key_set_has(&f->keys, key);
	return cJSON_GetObjectItemCaseSensitive(f->node, key) != NULL;
}

static void frame_clear(struct frame *f)
{
	free(f->anchor);
	free(f->key);
	free(f->keys.slots);
	*f = (struct frame){};
}

static void tree_measure(const cJSON *n, size_t *ret_nodes, int *ret_depth)
{
	const cJSON *ch;
	size_t nodes = 1, sub_nodes;
	int depth = 0, sub_depth;

	cJSON_ArrayForEach(ch, n) {
		tree_measure(ch, &sub_nodes, &sub_depth);
		nodes += sub_nodes;
		if (sub_depth > depth)
			depth = sub_depth;
	}
	*ret_nodes = nodes;
	*ret_depth = depth + 1;
}

static int anchor_add(struct pctx *c, const char *name, const cJSON *node)
{
	struct anchor *a;

	if (c->n_anchors == c->cap_anchors) {
		size_t cap = c->cap_anchors ? c->cap_anchors * 2 : 8;

		a = realloc(c->anchors, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		c->anchors = a;
		c->cap_anchors = cap;
	}
	a = &c->anchors[c->n_anchors];
	a->name = strdup(name);
	if (!a->name)
		return -ENOMEM;
	a->node = node;
	tree_measure(node, &a->nodes, &a->depth);
	c->n_anchors++;
	return 0;
}

static const struct anchor *anchor_find(const struct pctx *c, const char *name)
{
	size_t i;

	/* The latest definition wins. */
	for (i = c->n_anchors; i > 0; i--)
		if (!strcmp(c->anchors[i - 1].name, name))
			return &c->anchors[i - 1];
	return NULL;
}

static void anchors_clear(struct pctx *c)
{
	size_t i;

	for (i = 0; i < c->n_anchors; i++)
		free(c->anchors[i].name);
	c->n_anchors = 0;
}

static void stack_clear(struct pctx *c)
{
	struct frame *f;

	/* A collection joins its parent only when it closes, so each open one is freed here. */
	while (c->depth > 0) {
		f = &c->stack[--c->depth];
		cJSON_Delete(f->node);
		frame_clear(f);
	}
	cJSON_Delete(c->root);
	c->root = NULL;
}

/* Takes value (freed on error). Attaches it to the open collection, or makes it the root. */
static int attach(struct pctx *c, cJSON *value, const yaml_mark_t *mark)
{
	struct frame *f;
	int err;

	if (c->depth == 0) {
		c->root = value;
		return 0;
	}
	f = &c->stack[c->depth - 1];
	if (cJSON_IsArray(f->node)) {
		cJSON_AddItemToArray(f->node, value);
		return 0;
	}
	if (!f->key) {
		cJSON_Delete(value);
		return perr(c, -EINVAL, mark, "mapping keys must be scalars");
	}
	if (!cJSON_AddItemToObject(f->node, f->key, value)) {
		cJSON_Delete(value);
		return perr(c, -ENOMEM, mark, "out of memory");
	}
	free(f->key);
	f->key = NULL;
	f->n_keys++;
	if (f->keys.cap || f->n_keys > MAP_HASH_MIN_KEYS) {
		if (!f->keys.cap) {
			const cJSON *ch;

			cJSON_ArrayForEach(ch, f->node) {
				err = key_set_insert(&f->keys, ch);
				if (err < 0)
					return perr(c, err, mark, "out of memory");
			}
		} else {
			/* cJSON appends, so the new item is the last child. */
			err = key_set_insert(&f->keys, f->node->child->prev);
			if (err < 0)
				return perr(c, err, mark, "out of memory");
		}
	}
	return 0;
}

static bool str_in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static bool is_null_word(const char *s)
{
	static const char *const w[] = { "", "~", "null", "Null", "NULL", NULL };

	return str_in(s, w);
}

static int bool_word(const char *s)
{
	static const char *const t[] = { "true", "True", "TRUE", NULL };
	static const char *const f[] = { "false", "False", "FALSE", NULL };

	return str_in(s, t) ? 1 : str_in(s, f) ? 0 : -1;
}

static bool all_digits(const char *s, const char *digits)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(digits, *s))
			return false;
	return true;
}

/* YAML 1.2 core schema int: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
static bool parse_int(const char *s, double *ret)
{
	const char *p = s;
	double v = 0, sign = 1;
	int base = 10;

	if (!strncmp(s, "0o", 2) && all_digits(s + 2, "01234567")) {
		base = 8;
		p = s + 2;
	} else if (!strncmp(s, "0x", 2) && all_digits(s + 2, "0123456789abcdefABCDEF")) {
		base = 16;
		p = s + 2;
	} else {
		if (*p == '-' || *p == '+')
			sign = *p++ == '-' ? -1 : 1;
		if (!all_digits(p, "0123456789"))
			return false;
		*ret = sign * strtod(p, NULL);
		return true;
	}
	for (; *p; p++)
		v = v * base + (*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
	*ret = v;
	return true;
}

/* YAML 1.2 core schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_float(const char *s)
{
	const char *p = s;
	bool digits = false;

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		if (!digits && !(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static bool is_inf_nan(const char *s)
{
	static const char *const w[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
					 "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL };

	return str_in(s, w);
}

/* How a plain scalar resolves under the core schema. */
enum plain_type { PLAIN_STR, PLAIN_NULL, PLAIN_BOOL, PLAIN_NUM, PLAIN_INFNAN };

static enum plain_type plain_resolve(const char *s)
{
	double d;

	if (is_null_word(s))
		return PLAIN_NULL;
	if (bool_word(s) >= 0)
		return PLAIN_BOOL;
	if (parse_int(s, &d) || is_float(s))
		return PLAIN_NUM;
	if (is_inf_nan(s))
		return PLAIN_INFNAN;
	return PLAIN_STR;
}

static int scalar_to_json(struct pctx *c, const yaml_event_t *ev, cJSON **ret)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	double d;
	cJSON *v = NULL;

	if (strlen(s) != ev->data.scalar.length)
		return perr(c, -EINVAL, &ev->start_mark, "strings with NUL characters are not supported");
	if (tag && !strcmp(tag, "!"))
		tag = TAG_STR; /* non-specific tag: a string */
	if (tag && strcmp(tag, TAG_STR) && strcmp(tag, TAG_INT) && strcmp(tag, TAG_FLOAT) &&
	    strcmp(tag, TAG_BOOL) && strcmp(tag, TAG_NULL))
		return perr(c, -EINVAL, &ev->start_mark, "unsupported tag \"%s\"", tag);

	if ((tag && !strcmp(tag, TAG_STR)) || (!tag && !plain)) {
		v = cJSON_CreateString(s);
	} else if (tag && !strcmp(tag, TAG_NULL)) {
		if (!is_null_word(s))
			return perr(c, -EINVAL, &ev->start_mark, "invalid !!null value \"%s\"", s);
		v = cJSON_CreateNull();
	} else if (tag && !strcmp(tag, TAG_BOOL)) {
		if (bool_word(s) < 0)
			return perr(c, -EINVAL, &ev->start_mark, "invalid !!bool value \"%s\"", s);
		v = cJSON_CreateBool(bool_word(s));
	} else if (tag) { /* int or float */
		if (is_inf_nan(s))
			return perr(c, -EINVAL, &ev->start_mark,
				    "\"%s\": infinity and NaN have no JSON form", s);
		if (!parse_int(s, &d)) {
			if (!strcmp(tag, TAG_INT) || !is_float(s))
				return perr(c, -EINVAL, &ev->start_mark, "invalid number \"%s\"", s);
			d = strtod(s, NULL);
		}
		v = cJSON_CreateNumber(d);
	} else {
		switch (plain_resolve(s)) {
		case PLAIN_NULL:
			v = cJSON_CreateNull();
			break;
		case PLAIN_BOOL:
			v = cJSON_CreateBool(bool_word(s));
			break;
		case PLAIN_NUM:
			if (!parse_int(s, &d))
				d = strtod(s, NULL);
			if (!isfinite(d))
				return perr(c, -EINVAL, &ev->start_mark,
					    "number \"%s\" is out of range", s);
			v = cJSON_CreateNumber(d);
			break;
		case PLAIN_INFNAN:
			return perr(c, -EINVAL, &ev->start_mark,
				    "\"%s\": infinity and NaN have no JSON form", s);
		case PLAIN_STR:
			v = cJSON_CreateString(s);
			break;
		}
	}
	if (!v)
		return perr(c, -ENOMEM, &ev->start_mark, "out of memory");
	*ret = v;
	return 0;
}

static int on_scalar(struct pctx *c, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
	cJSON *v = NULL;
	int err;

	if (f && cJSON_IsObject(f->node) && !f->key) {
		/* A mapping key: always a string, whatever it looks like. */
		if (strlen(s) != ev->data.scalar.length)
			return perr(c, -EINVAL, &ev->start_mark,
				    "strings with NUL characters are not supported");
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
		    !strcmp(s, "<<"))
			return perr(c, -EINVAL, &ev->start_mark, "merge keys (<<) are not supported");
		if (frame_has_key(f, s))
			return perr(c, -EINVAL, &ev->start_mark, "duplicate key \"%s\"", s);
		if (ev->data.scalar.anchor)
			return perr(c, -EINVAL, &ev->start_mark,
				    "anchors on mapping keys are not supported");
		f->key = strdup(s);
		return f->key ? 0 : perr(c, -ENOMEM, &ev->start_mark, "out of memory");
	}
	err = scalar_to_json(c, ev, &v);
	if (err < 0)
		return err;
	if (ev->data.scalar.anchor) {
		err = anchor_add(c, (const char *)ev->data.scalar.anchor, v);
		if (err < 0) {
			cJSON_Delete(v);
			return perr(c, err, &ev->start_mark, "out of memory");
		}
	}
	return attach(c, v, &ev->start_mark);
}

static int on_alias(struct pctx *c, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
	const struct anchor *a;
	cJSON *v;

	if (f && cJSON_IsObject(f->node) && !f->key)
		return perr(c, -EINVAL, &ev->start_mark, "aliases as mapping keys are not supported");
	a = anchor_find(c, name);
	if (!a)
		return perr(c, -EINVAL, &ev->start_mark,
			    "unknown anchor \"%s\" (undefined, or an alias inside its own value)",
			    name);
	if (c->depth + a->depth > MANIFEST_MAX_DEPTH)
		return perr(c, -E2BIG, &ev->start_mark, "nesting deeper than %d levels",
			    MANIFEST_MAX_DEPTH);
	if (a->nodes > MANIFEST_ALIAS_MAX_NODES - c->alias_nodes)
		return perr(c, -E2BIG, &ev->start_mark,
			    "aliases expand to more than %u nodes", MANIFEST_ALIAS_MAX_NODES);
	c->alias_nodes += a->nodes;
	v = cJSON_Duplicate(a->node, true);
	if (!v)
		return perr(c, -ENOMEM, &ev->start_mark, "out of memory");
	return attach(c, v, &ev->start_mark);
}

static int on_collection_start(struct pctx *c, const yaml_event_t *ev, bool mapping)
{
	const char *tag = (const char *)(mapping ? ev->data.mapping_start.tag :
					 ev->data.sequence_start.tag);
	const yaml_char_t *anchor = mapping ? ev->data.mapping_start.anchor :
				    ev->data.sequence_start.anchor;
	struct frame *parent = c->depth ? &c->stack[c->depth - 1] : NULL;
	struct frame *f;
	cJSON *node;

	if (parent && cJSON_IsObject(parent->node) && !parent->key)
		return perr(c, -EINVAL, &ev->start_mark, "mapping keys must be scalars");
	if (tag && strcmp(tag, "!") && strcmp(tag, mapping ? TAG_MAP : TAG_SEQ))
		return perr(c, -EINVAL, &ev->start_mark, "unsupported tag \"%s\"", tag);
	if (c->depth >= MANIFEST_MAX_DEPTH)
		return perr(c, -E2BIG, &ev->start_mark, "nesting deeper than %d levels",
			    MANIFEST_MAX_DEPTH);
	node = mapping ? cJSON_CreateObject() : cJSON_CreateArray();
	if (!node)
		return perr(c, -ENOMEM, &ev->start_mark, "out of memory");
	f = &c->stack[c->depth];
	*f = (struct frame){ .node = node };
	if (anchor) {
		f->anchor = strdup((const char *)anchor);
		if (!f->anchor) {
			cJSON_Delete(node);
			return perr(c, -ENOMEM, &ev->start_mark, "out of memory");
		}
	}
	c->depth++;
	return 0;
}

static int on_collection_end(struct pctx *c, const yaml_event_t *ev)
{
	struct frame *f = &c->stack[c->depth - 1];
	cJSON *node = f->node;
	int err = 0;

	if (f->anchor)
		err = anchor_add(c, f->anchor, node);
	c->depth--;
	f->node = NULL; /* detached: attach() owns it from here */
	frame_clear(f);
	if (err < 0) {
		cJSON_Delete(node);
		return perr(c, err, &ev->start_mark, "out of memory");
	}
	return attach(c, node, &ev->start_mark);
}

static bool is_list(const cJSON *obj)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
	size_t n;

	if (!cJSON_IsString(kind) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(obj, "items")))
		return false;
	n = strlen(kind->valuestring);
	return n >= 4 && !strcmp(kind->valuestring + n - 4, "List");
}

/* Moves obj (or a List's items, recursively) into out. Takes obj. */
static int collect(struct pctx *c, cJSON *out, cJSON *obj, size_t *n_out, const char *path)
{
	cJSON *items, *it;
	char sub[128];
	int err = 0, i = 0;

	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		if (!*path)
			return perr(c, -EINVAL, NULL, "top-level value is not a mapping");
		return perr(c, -EINVAL, NULL, "%s is not a mapping", path);
	}
	if (!is_list(obj)) {
		if (*n_out >= MANIFEST_MAX_OBJECTS) {
			cJSON_Delete(obj);
			return perr(c, -E2BIG, NULL, "more than %d objects", MANIFEST_MAX_OBJECTS);
		}
		cJSON_AddItemToArray(out, obj);
		(*n_out)++;
		return 0;
	}
	items = cJSON_GetObjectItemCaseSensitive(obj, "items");
	while (items->child && err == 0) {
		it = cJSON_DetachItemViaPointer(items, items->child);
		snprintf(sub, sizeof(sub), "%s%sitems[%d]", path, *path ? "." : "", i++);
		err = collect(c, out, it, n_out, sub);
	}
	cJSON_Delete(obj);
	return err;
}

static int parse_error(struct pctx *c, const yaml_parser_t *p)
{
	char ctx[128] = "";

	if (p->error == YAML_MEMORY_ERROR)
		return perr(c, -ENOMEM, NULL, "out of memory");
	if (p->error == YAML_READER_ERROR) {
		snprintf(c->err, c->errlen, "%s: byte offset %zu: %s", c->source,
			 p->problem_offset, p->problem ? p->problem : "invalid input");
		return -EINVAL;
	}
	if (p->context)
		snprintf(ctx, sizeof(ctx), " (%s at line %zu column %zu)", p->context,
			 p->context_mark.line + 1, p->context_mark.column + 1);
	return perr(c, -EINVAL, &p->problem_mark, "%s%s", p->problem ? p->problem : "syntax error",
		    ctx);
}

/*
 * JSON input (what the CLI sends the agent, and what generators write) parses with cJSON many
 * times faster than through the YAML event stream. The tree must meet the rules the YAML path
 * enforces (depth, no duplicate keys); anything else, including every error, takes the YAML path,
 * which names the line and column.
 */
static bool json_tree_ok(const cJSON *n, int depth)
{
	const cJSON *a, *b;
	int k = 0;

	if (depth > MANIFEST_MAX_DEPTH)
		return false;
	if (cJSON_IsObject(n)) {
		for (a = n->child; a; a = a->next, k++) {
			if (!a->string || k >= MAP_HASH_MIN_KEYS)
				return false; /* big mappings: the YAML path's hashed check */
			for (b = n->child; b != a; b = b->next)
				if (!strcmp(a->string, b->string))
					return false;
		}
	}
	for (a = n->child; a; a = a->next)
		if (!json_tree_ok(a, depth + 1))
			return false;
	return true;
}

static cJSON *json_fast(const char *buf, size_t len)
{
	const char *end = NULL;
	size_t i = 0;
	cJSON *root;

	while (i < len && strchr(" \t\r\n", buf[i]) && buf[i])
		i++;
	if (i == len || buf[i] != '{')
		return NULL;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!root)
		return NULL;
	while (end && end < buf + len && *end && strchr(" \t\r\n", *end))
		end++;
	if (!end || (end < buf + len && *end) || !json_tree_ok(root, 1)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int manifest_parse(const char *buf, size_t len, const char *source, cJSON **ret_items,
		   char *err, size_t errlen)
{
	struct pctx c = { .source = source ? source : "-", .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_event_t ev;
	cJSON *out;
	size_t n_out = 0;
	bool done = false;
	int r = 0;

	if (errlen)
		err[0] = '\0';
	if (len > MANIFEST_MAX_BYTES) {
		snprintf(err, errlen, "%s: input is %zu bytes, limit is %u", c.source, len,
			 MANIFEST_MAX_BYTES);
		return -E2BIG;
	}
	out = cJSON_CreateArray();
	if (!out)
		return perr(&c, -ENOMEM, NULL, "out of memory");
	c.root = buf ? json_fast(buf, len) : NULL;
	if (c.root) {
		c.doc = 1;
		r = collect(&c, out, c.root, &n_out, "");
		if (r < 0)
			goto err_free_out;
		*ret_items = out;
		return 0;
	}
	if (!yaml_parser_initialize(&parser)) {
		r = perr(&c, -ENOMEM, NULL, "out of memory");
		goto err_free_out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), len);

	while (!done && r == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = parse_error(&c, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			c.doc++;
			break;
		case YAML_DOCUMENT_END_EVENT:
			anchors_clear(&c);
			if (c.root && !cJSON_IsNull(c.root))
				r = collect(&c, out, c.root, &n_out, "");
			else
				cJSON_Delete(c.root);
			c.root = NULL;
			break;
		case YAML_SCALAR_EVENT:
			r = on_scalar(&c, &ev);
			break;
		case YAML_ALIAS_EVENT:
			r = on_alias(&c, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			r = on_collection_start(&c, &ev, false);
			break;
		case YAML_MAPPING_START_EVENT:
			r = on_collection_start(&c, &ev, true);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			r = on_collection_end(&c, &ev);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	stack_clear(&c);
	anchors_clear(&c);
	free(c.anchors);
	yaml_parser_delete(&parser);
	if (r < 0)
		goto err_free_out;
	*ret_items = out;
	return 0;

err_free_out:
	cJSON_Delete(out);
	return r;
}

/* ---- emitter ---- */

struct outbuf {
	char *buf;
	size_t len;
	size_t cap;
};

static int out_write(void *data, unsigned char *s, size_t n)
{
	struct outbuf *o = data;
	char *nb;
	size_t cap;

	if (o->len + n + 1 > o->cap) {
		cap = o->cap ? o->cap : 256;
		while (cap < o->len + n + 1)
			cap *= 2;
		nb = realloc(o->buf, cap);
		if (!nb)
			return 0;
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return 1;
}

/* Whether a YAML 1.1 reader (go-yaml v2, as kubectl uses) would read s as a number. */
static bool yaml11_number(const char *s)
{
	char buf[128], *end;
	const char *p;
	size_t n = 0;

	for (p = s; *p && n < sizeof(buf) - 1; p++)
		if (*p != '_')
			buf[n++] = *p;
	if (*p)
		return false; /* long text: not a number anyone writes */
	buf[n] = '\0';
	p = buf + (buf[0] == '-' || buf[0] == '+');
	if (p[0] == '0' && p[1] == 'b' && all_digits(p + 2, "01"))
		return true;
	if (!n || !strchr("0123456789+-.", buf[0]))
		return false;
	(void)strtod(buf, &end);
	return end != buf && *end == '\0';
}

/*
 * Whether a string must be quoted to read back as a string: anything the core schema resolves
 * otherwise, and, for YAML 1.1 readers such as kubectl's, yes/no/on/off/y/n and number forms
 * such as 0b101, 1_000 or 0777.
 */
static bool needs_quotes(const char *s)
{
	static const char *const yaml11_bool[] = { "y", "Y", "yes", "Yes", "YES", "n", "N", "no",
						   "No", "NO", "on", "On", "ON", "off", "Off",
						   "OFF", NULL };

	return plain_resolve(s) != PLAIN_STR || str_in(s, yaml11_bool) || yaml11_number(s);
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool is_string)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	int plain_implicit = 1;

	/* A string that would read back as something else must be quoted. */
	if (is_string && needs_quotes(s))
		plain_implicit = 0;
	if (is_string && strchr(s, '\n'))
		style = YAML_LITERAL_SCALAR_STYLE; /* the emitter falls back if it cannot */
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
					  plain_implicit, 1, style))
		return -ENOMEM;
	return yaml_emitter_emit(e, &ev) ? 0 : -EINVAL;
}

static void format_number(double d, char *buf, size_t len)
{
	int prec;

	if (d == floor(d) && fabs(d) < 9007199254740992.0) {
		snprintf(buf, len, "%.0f", d);
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(buf, len, "%.17g", d);
	/* "%g" may give "1e+100", which the core schema reads as a float: fine. */
}

static int emit_value(yaml_emitter_t *e, const cJSON *v, int depth)
{
	yaml_event_t ev;
	const cJSON *ch;
	char num[64];
	int err;

	if (depth > EMIT_MAX_DEPTH)
		return -E2BIG;
	if (cJSON_IsString(v))
		return emit_scalar(e, v->valuestring, true);
	if (cJSON_IsNumber(v)) {
		if (!isfinite(v->valuedouble))
			return emit_scalar(e, "null", false);
		format_number(v->valuedouble, num, sizeof(num));
		return emit_scalar(e, num, false);
	}
	if (cJSON_IsBool(v))
		return emit_scalar(e, cJSON_IsTrue(v) ? "true" : "false", false);
	if (cJSON_IsNull(v) || cJSON_IsRaw(v) || cJSON_IsInvalid(v))
		return emit_scalar(e, "null", false);
	if (cJSON_IsArray(v)) {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE))
			return -ENOMEM;
		if (!yaml_emitter_emit(e, &ev))
			return -EINVAL;
		cJSON_ArrayForEach(ch, v) {
			err = emit_value(e, ch, depth + 1);
			if (err < 0)
				return err;
		}
		if (!yaml_sequence_end_event_initialize(&ev))
			return -ENOMEM;
		return yaml_emitter_emit(e, &ev) ? 0 : -EINVAL;
	}
	/* object */
	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
		return -ENOMEM;
	if (!yaml_emitter_emit(e, &ev))
		return -EINVAL;
	cJSON_ArrayForEach(ch, v) {
		err = emit_scalar(e, ch->string ? ch->string : "", true);
		if (err < 0)
			return err;
		err = emit_value(e, ch, depth + 1);
		if (err < 0)
			return err;
	}
	if (!yaml_mapping_end_event_initialize(&ev))
		return -ENOMEM;
	return yaml_emitter_emit(e, &ev) ? 0 : -EINVAL;
}

char *manifest_to_yaml(const cJSON *obj)
{
	struct outbuf o = {};
	yaml_emitter_t e;
	yaml_event_t ev;
	int err = -EINVAL;

	if (!obj)
		return NULL;
	if (!yaml_emitter_initialize(&e))
		return NULL;
	yaml_emitter_set_output(&e, out_write, &o);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);

	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&e, &ev))
		goto err_free;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    !yaml_emitter_emit(&e, &ev))
		goto err_free;
	err = emit_value(&e, obj, 0);
	if (err < 0)
		goto err_free;
	err = -EINVAL;
	if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&e, &ev))
		goto err_free;
	if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&e, &ev))
		goto err_free;
	if (!yaml_emitter_flush(&e))
		goto err_free;
	yaml_emitter_delete(&e);
	if (!o.buf)
		return strdup("");
	return o.buf;

err_free:
	yaml_emitter_delete(&e);
	free(o.buf);
	return NULL;
}
